"""Entry point of the ``overestimation`` study.

``python experiments/overestimation.py [overrides]`` is the same as
``jaxorth experiment=overestimation [overrides]``.
"""

from jaxorth.cli import main_for

if __name__ == "__main__":
    main_for("overestimation")
