"""Entry point of the ``copy_task`` study.

``python experiments/copy_task.py [overrides]`` is the same as
``jaxorth experiment=copy_task [overrides]``.
"""

from jaxorth.cli import main_for

if __name__ == "__main__":
    main_for("copy_task")
