"""Entry point of the ``text_classification`` study.

``python experiments/text_classification.py [overrides]`` is the same as
``jaxorth experiment=text_classification [overrides]``.
"""

from jaxorth.cli import main_for

if __name__ == "__main__":
    main_for("text_classification")
