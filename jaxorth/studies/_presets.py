"""``preset=NAME``: the check that the preset applies, and its expected wall time.

A preset (``conf/preset/NAME.yaml`` sets ``preset.name``) takes effect through the
experiment's own file ``conf/preset/EXPERIMENT/NAME.yaml``, which the experiment's
defaults list picks (``- optional /preset/EXPERIMENT: ${preset}``) and which sets
``preset.experiment``. A preset the chosen experiment has no file for would change
nothing: :func:`check_preset` makes it an error before any compute. The ``preset`` node
is informational (left out of the run's fingerprint); what a preset sets is in the other
keys.
"""

from __future__ import annotations

from typing import Any

__all__ = ["check_preset", "expected_time_line"]


def check_preset(cfg: Any) -> None:
    """Raise if ``preset=NAME`` has no file for ``cfg.experiment.name``.

    Examples
    --------
    >>> from omegaconf import OmegaConf
    >>> from jaxorth.studies import check_preset
    >>> cfg = OmegaConf.create({"preset": {"name": "quick", "experiment": "copy_task"},
    ...                         "experiment": {"name": "smnist"}})
    >>> try:
    ...     check_preset(cfg)
    ... except ValueError as error:
    ...     print(error)
    preset=quick has no settings for experiment=smnist (no conf/preset/smnist/quick.yaml; ...)
    """
    preset = cfg.get("preset")
    if preset is None or str(preset.name) == "none":
        return
    name, experiment = str(preset.name), str(cfg.experiment.name)
    if preset.get("experiment") != experiment:
        raise ValueError(
            f"preset={name} has no settings for experiment={experiment} (no "
            f"conf/preset/{experiment}/{name}.yaml; conf/preset/{name}.yaml lists the "
            "experiments that have one)"
        )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def expected_time_line(cfg: Any) -> str | None:
    """The line a preset run prints at start: ``train.steps`` times the measured ms/step.

    ``None`` without a preset. The figures are ``preset.cpu_ms_per_step[model]`` and
    ``preset.gpu_ms_per_step[model]`` (training steps only; evaluations add to them), for
    the preset's sizes: a run that overrides the model's size or the batch will differ.

    Examples
    --------
    >>> from omegaconf import OmegaConf
    >>> from jaxorth.studies import expected_time_line
    >>> cfg = OmegaConf.create({
    ...     "preset": {"name": "quick", "cpu_ms_per_step": {"hadamrnn": 20}, "gpu_ms_per_step": {}},
    ...     "experiment": {"name": "copy_task"}, "model": {"name": "hadamrnn"},
    ...     "train": {"steps": 6000}})
    >>> print(expected_time_line(cfg))  # 6000 steps x 20 ms
    preset=quick (experiment=copy_task, model=hadamrnn): 6000 training steps, expected
    (at the preset's sizes) ~2 min on 2 CPU cores (20 ms/step measured)
    >>> expected_time_line(OmegaConf.create({"experiment": {"name": "copy_task"}})) is None
    True
    """
    preset = cfg.get("preset")
    if preset is None or str(preset.name) == "none":
        return None
    train, model = cfg.get("train"), cfg.get("model")
    head = f"preset={preset.name} (experiment={cfg.experiment.name}"
    if model is not None:
        head += f", model={model.name}"
    head += ")"
    if train is None or model is None:
        note = f": {preset.note}" if preset.get("note") else ""
        return head + note
    steps, key = int(train.steps), str(model.name)
    parts = []
    cpu = preset.cpu_ms_per_step.get(key)
    if cpu is not None:
        parts.append(
            f"~{_duration(steps * float(cpu) / 1e3)} on 2 CPU cores "
            f"({float(cpu):g} ms/step measured)"
        )
    gpu = preset.gpu_ms_per_step.get(key)
    if gpu is not None:
        how = "measured" if bool(preset.gpu_measured) else "an estimate, not measured"
        parts.append(
            f"~{_duration(steps * float(gpu) / 1e3)} on a GPU ({float(gpu):g} ms/step, {how})"
        )
    if not parts:
        parts.append("no time measured for this model")
    line = f"{head}: {steps} training steps, expected (at the preset's sizes) " + "; ".join(parts)
    if preset.get("note"):
        line += f". {preset.note}"
    return line
