"""Entry point of the ``dln_gradient_flow`` study.

``python experiments/dln_gradient_flow.py [overrides]`` is the same as
``jaxorth experiment=dln_gradient_flow [overrides]``.
"""

from jaxorth.cli import main_for

if __name__ == "__main__":
    main_for("dln_gradient_flow")
