"""Registry of studies: one function per Hydra ``experiment=NAME`` option.

A study is a module in :mod:`jaxorth.studies` that defines a structured-config schema
(a dataclass whose ``name`` field equals the study name) and a ``run`` function::

    @dataclasses.dataclass
    class ScalabilityConfig:
        name: str = "orthconv_scalability"
        sizes: list[int] = dataclasses.field(default_factory=lambda: [8, 16, 32])

    @register_study("orthconv_scalability", ScalabilityConfig)
    def run(cfg: DictConfig, ctx: RunContext) -> dict:
        ...  # cfg.experiment is the validated ScalabilityConfig node
        ctx.table(rows, title="...")       # prints, writes <name>.md and <name>.csv
        ctx.save_figure(fig, "scaling")    # writes scaling.png, logs it to the tracker
        ctx.tracker.log({"err_s": 0.1}, step=0)
        return {"max_err_s": ...}          # merged into summary.json

Registration stores the schema in Hydra's ConfigStore as ``schema/experiment/NAME``;
``conf/experiment/NAME.yaml`` attaches it with
``- /schema/experiment/NAME@experiment`` in its defaults list (``# @package _global_``),
so that an unknown key or a wrong type fails at composition with Hydra's message.
Extra model / data options are registered with :func:`register_option`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from hydra.core.config_store import ConfigStore

StudyFn = Callable[..., dict[str, Any]]

STUDIES: dict[str, StudyFn] = {}
SCHEMAS: dict[str, type] = {}


def register_study(name: str, schema: type) -> Callable[[StudyFn], StudyFn]:
    """Register ``run(cfg, ctx) -> dict`` as the study ``experiment=name``.

    Parameters
    ----------
    name : str
        The Hydra option name, ``experiment=name``; must equal ``schema.name``'s default.
    schema : type
        A dataclass: the structured-config schema of ``cfg.experiment``.
    """
    if not dataclasses.is_dataclass(schema):
        raise TypeError(f"schema for study {name!r} must be a dataclass, got {schema!r}")
    default_name = {f.name: f.default for f in dataclasses.fields(schema)}.get("name")
    if default_name != name:
        raise ValueError(
            f"schema {schema.__name__} must have a field `name: str = {name!r}`, "
            f"got {default_name!r}"
        )

    def decorator(fn: StudyFn) -> StudyFn:
        if name in STUDIES and STUDIES[name] is not fn:
            raise ValueError(f"study {name!r} is registered twice")
        STUDIES[name] = fn
        SCHEMAS[name] = schema
        ConfigStore.instance().store(group="schema/experiment", name=name, node=schema)
        return fn

    return decorator


def register_option(group: str, name: str, schema: type) -> None:
    """Register a structured config as the Hydra option ``group=name`` (e.g. a model)."""
    if not dataclasses.is_dataclass(schema):
        raise TypeError(f"option {group}={name} must be a dataclass, got {schema!r}")
    ConfigStore.instance().store(group=group, name=name, node=schema)
