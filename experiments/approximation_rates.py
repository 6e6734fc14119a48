"""Entry point of the ``approximation_rates`` study.

``python experiments/approximation_rates.py [overrides]`` is the same as
``jaxorth experiment=approximation_rates [overrides]``.
"""

from jaxorth.cli import main_for

if __name__ == "__main__":
    main_for("approximation_rates")
