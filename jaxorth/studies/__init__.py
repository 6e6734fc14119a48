"""Studies: one module per ``experiment=NAME``, each implementing the study protocol.

A study module builds a :class:`Study` (schema, check, run, report) and registers it
with :func:`register_study`; :func:`run_study` runs it. Importing this package imports
every study module, so the Hydra ConfigStore knows every ``experiment=`` option.
Modules whose name starts with ``_`` are shared helpers, not studies. The recipe for a
new study is in CONTRIBUTING.md.
"""

from __future__ import annotations

import importlib
import pkgutil

from jaxorth.config import register_configs

from ._context import RunContext as RunContext
from ._presets import check_preset as check_preset
from ._presets import expected_time_line as expected_time_line
from ._protocol import Study as Study
from ._protocol import StudyResult as StudyResult
from ._protocol import Table as Table
from ._protocol import check_study as check_study
from ._protocol import config_key as config_key
from ._protocol import run_study as run_study
from ._registry import STUDIES as STUDIES
from ._registry import register_option as register_option
from ._registry import register_study as register_study

register_configs()

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = [
    "STUDIES",
    "RunContext",
    "Study",
    "StudyResult",
    "Table",
    "check_preset",
    "check_study",
    "config_key",
    "expected_time_line",
    "register_option",
    "register_study",
    "run_study",
]
