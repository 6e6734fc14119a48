"""Entry point of the ``orthconv_tradeoff`` study.

``python experiments/orthconv_tradeoff.py [overrides]`` is the same as
``jaxorth experiment=orthconv_tradeoff [overrides]``.
"""

from jaxorth.cli import main_for

if __name__ == "__main__":
    main_for("orthconv_tradeoff")
