"""The readable option files ``conf/GROUP/NAME.yaml`` against their dataclass schemas.

Each option of ``model``, ``data``, ``optim`` and ``tracking`` is a YAML file that lists
every key of its schema (stored as ``schema/GROUP/NAME``) with the schema's default, or
with one of the intentional overrides listed here; so the YAML and the dataclass cannot
drift apart. Defaults of the studies live only in their schemas: no
``conf/experiment/*.yaml`` sets ``experiment.*``.
"""

import dataclasses
import enum
from pathlib import Path

import pytest
import yaml
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from jaxorth.cli import compose, config_dir

GROUPS = ("model", "data", "optim", "tracking")

# (group, option) -> the values that differ from the schema default on purpose.
OVERRIDES = {
    ("optim", "adamw"): {"name": "adamw", "weight_decay": 1e-4},
    ("optim", "sgd"): {"name": "sgd", "lr": 1e-2},
    ("optim", "rmsprop"): {"name": "rmsprop"},
    ("tracking", "null"): {"backend": "null"},
    ("tracking", "wandb"): {"backend": "wandb"},
}

# Studies whose conf/experiment/NAME.yaml still sets experiment.* keys: their migration to
# the study protocol (defaults only in the schema) happens on other branches.


def _stored(group: str) -> dict[str, type]:
    """The schema dataclass of each option stored as ``schema/group/NAME``."""
    import jaxorth.studies  # noqa: F401  (registers every option)

    repo = ConfigStore.instance().repo["schema"][group]
    return {key.removesuffix(".yaml"): OmegaConf.get_type(node.node) for key, node in repo.items()}


def _files(group: str) -> dict[str, Path]:
    return {p.stem: p for p in sorted((config_dir() / group).glob("*.yaml"))}


OPTIONS = [(g, name) for g in GROUPS for name in sorted(_files(g))]


@pytest.mark.parametrize("group", GROUPS)
def test_every_stored_option_has_a_yaml_and_vice_versa(group):
    stored, files = _stored(group), _files(group)
    assert files, f"conf/{group}/ has no option"
    assert sorted(files) == sorted(stored)


def test_every_recurrent_model_has_an_option():
    from jaxorth.studies.rnn_models import RNN_BUILDERS

    assert sorted(RNN_BUILDERS) == sorted(_files("model"))


@pytest.mark.parametrize(("group", "name"), OPTIONS, ids=[f"{g}={n}" for g, n in OPTIONS])
def test_option_yaml_lists_every_schema_key_with_its_default(group, name):
    path = _files(group)[name]
    text = path.read_text(encoding="utf-8")
    assert text.startswith(f"# {group}={name}: "), "first line: what the option is"
    assert "\n#   jaxorth " in text, "an example command line in the comment"
    body = yaml.safe_load(text)
    assert body.pop("defaults") == [f"/schema/{group}/{name}@_here_", "_self_"]

    schema = _stored(group)[name]
    fields = [f.name for f in dataclasses.fields(schema)]
    assert list(body) == fields, "the YAML keys are the schema's fields, in its order"

    defaults = OmegaConf.to_container(OmegaConf.structured(schema))
    overrides = OVERRIDES.get((group, name), {})
    for key, value in body.items():
        expected = overrides.get(key, defaults[key])
        if isinstance(expected, enum.Enum):  # a choice: written as its value
            same = type(value) is str and value == expected.value
        else:  # the types must agree too (a "1e-3" string, an int 0 for a float)
            same = type(value) is type(expected) and value == expected
        assert same, f"{group}/{name}.yaml: {key}: {value!r}, expected {expected!r}"
    for key, value in overrides.items():
        assert value != defaults[key], f"override {key} of {group}={name} is the default"


@pytest.mark.parametrize(("group", "name"), OPTIONS, ids=[f"{g}={n}" for g, n in OPTIONS])
def test_option_composes_to_its_yaml(group, name):
    body = yaml.safe_load(_files(group)[name].read_text(encoding="utf-8"))
    body.pop("defaults")
    quoted = f"'{name}'" if name == "null" else name  # a bare null is None
    prefix = "+" if group in ("model", "data") else ""  # sea_recovery has neither
    cfg = compose(["experiment=sea_recovery", f"{prefix}{group}={quoted}"])
    assert OmegaConf.to_container(cfg[group], enum_to_str=True) == body


EXPERIMENTS = sorted(p.stem for p in (config_dir() / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_yaml_sets_no_experiment_keys(name):
    body = yaml.safe_load((config_dir() / "experiment" / f"{name}.yaml").read_text())
    assert f"/schema/experiment/{name}@experiment" in body["defaults"]
    assert "experiment" not in body, "study defaults belong in the schema dataclass"
