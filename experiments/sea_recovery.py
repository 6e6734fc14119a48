"""Entry point of the ``sea_recovery`` study.

``python experiments/sea_recovery.py [overrides]`` is the same as
``jaxorth experiment=sea_recovery [overrides]``.
"""

from jaxorth.cli import main_for

if __name__ == "__main__":
    main_for("sea_recovery")
