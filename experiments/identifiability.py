"""Entry point of the ``identifiability`` study.

``python experiments/identifiability.py [overrides]`` is the same as
``jaxorth experiment=identifiability [overrides]``.
"""

from jaxorth.cli import main_for

if __name__ == "__main__":
    main_for("identifiability")
