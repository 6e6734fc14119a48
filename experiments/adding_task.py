"""Entry point of the ``adding_task`` study.

``python experiments/adding_task.py [overrides]`` is the same as
``jaxorth experiment=adding_task [overrides]``.
"""

from jaxorth.cli import main_for

if __name__ == "__main__":
    main_for("adding_task")
