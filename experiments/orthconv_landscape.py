"""Entry point of the ``orthconv_landscape`` study.

``python experiments/orthconv_landscape.py [overrides]`` is the same as
``jaxorth experiment=orthconv_landscape [overrides]``.
"""

from jaxorth.cli import main_for

if __name__ == "__main__":
    main_for("orthconv_landscape")
