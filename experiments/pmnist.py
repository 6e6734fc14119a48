"""Entry point of the ``pmnist`` study.

``python experiments/pmnist.py [overrides]`` is the same as
``jaxorth experiment=pmnist [overrides]``.
"""

from jaxorth.cli import main_for

if __name__ == "__main__":
    main_for("pmnist")
