"""Entry point of the ``multilinear`` study.

``python experiments/multilinear.py [overrides]`` is the same as
``jaxorth experiment=multilinear [overrides]``.
"""

from jaxorth.cli import main_for

if __name__ == "__main__":
    main_for("multilinear")
