"""Entry point of the ``orthconv_scalability`` study.

``python experiments/orthconv_scalability.py [overrides]`` is the same as
``jaxorth experiment=orthconv_scalability [overrides]``.
"""

from jaxorth.cli import main_for

if __name__ == "__main__":
    main_for("orthconv_scalability")
