"""Registry of studies (``experiment=NAME``) and of config options (``model=NAME``, ...).

A study module builds one :class:`~jaxorth.studies.Study` and registers it::

    STUDY = register_study(Study("orthconv_scalability", ScalabilityConfig, run, check, report))

Registration stores the schema in Hydra's ConfigStore as ``schema/experiment/NAME``;
``conf/experiment/NAME.yaml`` attaches it with ``- /schema/experiment/NAME@experiment``
in its defaults list (``# @package _global_``), so that an unknown key or a wrong type
fails at composition with Hydra's message. Options of the other groups (a recurrent
model, a data source) are registered with :func:`register_option`, which stores the
schema as ``schema/GROUP/NAME``; ``conf/GROUP/NAME.yaml`` attaches it and lists every
key with its value.
"""

from __future__ import annotations

from hydra.core.config_store import ConfigStore

from jaxorth.config import store_schema
from jaxorth.studies._protocol import Study

#: Every registered study, by its ``experiment=`` name.
STUDIES: dict[str, Study] = {}


def register_study(study: Study) -> Study:
    """Register ``study`` as the Hydra option ``experiment=study.name``; return it.

    Examples
    --------
    >>> import dataclasses
    >>> from jaxorth.studies import STUDIES, register_study
    >>> register_study(STUDIES["copy_task"]) is STUDIES["copy_task"]  # registered once, kept
    True
    >>> try:  # another study under a taken name
    ...     register_study(dataclasses.replace(STUDIES["copy_task"]))
    ... except ValueError as error:
    ...     print(error)
    study 'copy_task' is registered twice
    """
    if not isinstance(study, Study):
        raise TypeError(f"register_study takes a Study, got {type(study).__name__}")
    if study.name in STUDIES and STUDIES[study.name] is not study:
        raise ValueError(f"study {study.name!r} is registered twice")
    STUDIES[study.name] = study
    ConfigStore.instance().store(group="schema/experiment", name=study.name, node=study.schema)
    return study


def register_option(group: str, name: str, schema: type) -> None:
    """Register the schema of the Hydra option ``group=name`` (e.g. a model).

    The schema is stored as ``schema/group/name``; the option itself is the file
    ``conf/group/name.yaml``, whose defaults list attaches the schema with
    ``- /schema/group/name@_here_``.

    Examples
    --------
    >>> from hydra.core.config_store import ConfigStore
    >>> from jaxorth.studies import register_option
    >>> "hadamrnn.yaml" in ConfigStore.instance().repo["schema"]["model"]  # model=hadamrnn
    True
    >>> try:
    ...     register_option("model", "tiny", dict)
    ... except TypeError as error:
    ...     print(error)
    option model=tiny must be a dataclass, got <class 'dict'>
    """
    store_schema(group, name, schema)
