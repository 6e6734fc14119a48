"""Entry point of the ``lipschitz_mnist`` study.

``python experiments/lipschitz_mnist.py [overrides]`` is the same as
``jaxorth experiment=lipschitz_mnist [overrides]``.
"""

from jaxorth.cli import main_for

if __name__ == "__main__":
    main_for("lipschitz_mnist")
