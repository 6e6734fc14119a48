"""Entry point of the ``dln_landscape`` study.

``python experiments/dln_landscape.py [overrides]`` is the same as
``jaxorth experiment=dln_landscape [overrides]``.
"""

from jaxorth.cli import main_for

if __name__ == "__main__":
    main_for("dln_landscape")
