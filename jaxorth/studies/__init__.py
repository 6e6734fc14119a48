"""Studies: one module per ``experiment=NAME``, auto-registered on import.

Each module registers a structured-config schema and a ``run(cfg, ctx)`` function with
:func:`jaxorth.studies._registry.register_study`. Importing this package imports every
study module, so the Hydra ConfigStore knows every ``experiment=`` option.
"""

from __future__ import annotations

import importlib
import pkgutil

from jaxorth.config import register_configs

from ._context import RunContext as RunContext
from ._context import format_table as format_table
from ._registry import SCHEMAS as SCHEMAS
from ._registry import STUDIES as STUDIES
from ._registry import register_option as register_option
from ._registry import register_study as register_study

register_configs()

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _info.name.startswith("__"):
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["SCHEMAS", "STUDIES", "RunContext", "format_table", "register_option", "register_study"]
