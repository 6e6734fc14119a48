"""Entry point of the ``smnist`` study.

``python experiments/smnist.py [overrides]`` is the same as
``jaxorth experiment=smnist [overrides]``.
"""

from jaxorth.cli import main_for

if __name__ == "__main__":
    main_for("smnist")
