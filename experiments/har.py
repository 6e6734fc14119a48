"""Entry point of the ``har`` study.

``python experiments/har.py [overrides]`` is the same as
``jaxorth experiment=har [overrides]``.
"""

from jaxorth.cli import main_for

if __name__ == "__main__":
    main_for("har")
