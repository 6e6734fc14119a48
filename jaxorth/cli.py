"""The ``jaxorth`` command: a Hydra app over ``conf/`` that runs one study per job.

Examples
--------
``jaxorth`` (the default: the copy task with an orthogonal RNN),
``jaxorth experiment=copy_task model=ornn data.T=200 seed=3``,
``jaxorth -m experiment=copy_task seed=0,1,2 optim.lr=1e-3,1e-4`` (a sweep).

Every run writes into its run directory: ``config.yaml`` (resolved), ``metrics.jsonl``,
``summary.json``, the study's tables (``*.md``, ``*.csv``) and plots (``*.png``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from jaxorth.train import CheckpointMismatchError, Interrupted, set_cpu_devices
from jaxorth.train.rundir import RunConfigMismatch, RunDir, RunDirLocked, open_run
from jaxorth.train.tracking import dumps, make_tracker


def config_dir() -> Path:
    """The ``conf/`` folder: shipped inside the wheel, or at the repository root."""
    packaged = Path(__file__).resolve().parent / "_conf"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[1] / "conf"


def plain_config(cfg: DictConfig) -> dict[str, Any]:
    """``cfg`` resolved to plain Python values (choices as their ``str`` value).

    What the trackers receive (``wandb.init(config=...)``) and what ``config.yaml`` holds.
    """
    return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)  # type: ignore[return-value]


def _load_studies() -> Any:
    import jaxorth.studies as studies

    return studies


def execute(
    cfg: DictConfig,
    run_dir: str | os.PathLike[str],
    echo: bool = True,
    *,
    sweep_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Run the study named by ``cfg.experiment.name`` in ``run_dir``; return its summary.

    ``sweep_dir``: the sweep folder when the run is a job of a multirun (its name is the
    default ``tracking.group``, so W&B groups the sweep's jobs).

    In order, before any compute: the study's config checks, then the run directory
    (:func:`jaxorth.train.rundir.open_run`: a lock against a second process, the config
    fingerprint against a run of another config, a finished run returned as it is,
    ``train.resume=false`` archiving the old run). ``run.json`` records the outcome:
    ``finished``, ``interrupted`` (Ctrl-C, SIGTERM) or ``failed`` (with the error).
    """
    studies = _load_studies()
    name = cfg.experiment.name
    if name not in studies.STUDIES:
        raise ValueError(
            f"experiment.name={name!r} is not a study; known: {sorted(studies.STUDIES)}"
        )
    if cfg.seed < 0:
        raise ValueError(f"seed must be >= 0, got {cfg.seed}")
    study = studies.STUDIES[name]
    studies.check_preset(cfg)
    studies.check_study(study, cfg)
    train = cfg.get("train")
    cpu_devices = int(train.cpu_devices) if train is not None else 0
    if cpu_devices:  # 0: JAX's default
        set_cpu_devices(cpu_devices)
    resolved = plain_config(cfg)
    with open_run(
        run_dir,
        resolved,
        resume=bool(train.resume) if train is not None else True,
        steps=int(train.steps) if train is not None else None,
    ) as run:
        if run.message and echo:
            print(run.message, flush=True)
        if run.action == "finished":
            assert run.summary is not None
            return run.summary
        return _run_in(run, study, cfg, resolved, echo, sweep_dir)


def wandb_options(
    tracking: Any, run_dir: str | os.PathLike[str], sweep_dir: str | os.PathLike[str] | None
) -> dict[str, Any]:
    """The keyword arguments of :class:`~jaxorth.train.WandbTracker` for ``cfg.tracking``.

    ``tracking.name`` defaults to the run folder's name, ``tracking.group`` to the sweep
    folder's name for a job of a multirun (``sweep_dir``) and to no group otherwise.
    """
    group = tracking.get("group")
    if group is None and sweep_dir is not None:
        group = Path(sweep_dir).absolute().name
    name = tracking.get("name")
    return {
        "project": str(tracking.project),
        "mode": str(tracking.mode),
        "tags": [str(t) for t in tracking.tags],
        "name": str(name) if name is not None else Path(run_dir).absolute().name,
        "group": None if group is None else str(group),
        "entity": None if tracking.get("entity") is None else str(tracking.entity),
    }


def _run_in(
    run: RunDir,
    study: Any,
    cfg: DictConfig,
    resolved: dict[str, Any],
    echo: bool,
    sweep_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    studies = _load_studies()
    run_dir = run.path
    config_path = run_dir / "config.yaml"
    tmp = run_dir / ".config.yaml.tmp"
    tmp.write_text(OmegaConf.to_yaml(cfg, resolve=True), encoding="utf-8")
    tmp.replace(config_path)
    tracking = cfg.tracking
    backend = str(tracking.backend)
    tracker = make_tracker(
        backend,
        run_dir,
        config=resolved,
        **(wandb_options(tracking, run_dir, sweep_dir) if backend == "wandb" else {}),
    )
    ctx = studies.RunContext(
        run_dir=run_dir, tracker=tracker, echo=echo, on_output=run.record_output
    )
    line = studies.expected_time_line(cfg)
    if line and echo:
        print(line, flush=True)
    t0 = time.perf_counter()
    try:
        summary = studies.run_study(study, cfg, ctx, check=False)
        summary.setdefault("experiment", study.name)
        summary.setdefault("seed", int(cfg.seed))
        summary["wall_seconds"] = round(time.perf_counter() - t0, 3)
        ctx.write_json("summary", summary)
        tracker.summary(summary)
        if backend == "wandb" and bool(tracking.get("log_checkpoints", False)):
            tracker.log_checkpoint(run_dir / "checkpoints")  # type: ignore[attr-defined]
    except (Interrupted, KeyboardInterrupt) as err:
        run.mark("interrupted", error=_one_line(err))
        raise
    except BaseException as err:
        run.mark("failed", error=_one_line(err))
        raise
    finally:
        tracker.finish()
    run.mark("finished")
    if echo:
        print(f"run directory: {run_dir.resolve()}", flush=True)
    return summary


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:500]


def compose(overrides: Sequence[str] = ()) -> DictConfig:
    """Compose the config for ``overrides`` without running (Hydra's compose API).

    A composition error carries its cause in its message (as the command line prints
    it): ``optim.schedule=cosin`` names the key and lists the allowed values.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import ConfigCompositionException

    _load_studies()
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(config_dir())):
        try:
            return hydra_compose(config_name="config", overrides=list(overrides))
        except ConfigCompositionException as err:
            cause = err.__cause__
            if cause is None or str(cause) in str(err):
                raise
            raise ConfigCompositionException(f"{err}\n{cause}") from cause


def run_experiment(
    overrides: Sequence[str] = (),
    run_dir: str | os.PathLike[str] = ".",
    echo: bool = False,
    *,
    sweep_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Compose ``overrides`` and run the study in ``run_dir`` (for tests and notebooks).

    ``train.progress=false`` is added unless the overrides set it. ``sweep_dir``: run it
    as a job of that sweep (see :func:`execute`).
    """
    overrides = list(overrides)
    if not any(o.startswith(("train.progress=", "+train.progress=")) for o in overrides):
        overrides.append("train.progress=false")
    cfg = compose(overrides)
    return execute(cfg, run_dir, echo=echo, sweep_dir=sweep_dir)


# Libraries whose INFO lines are noise in a run's log (Hydra sets the root logger to INFO):
# e.g. JAX's "Unable to initialize backend 'tpu'" at every start on a machine without one.
QUIET_LOGGERS = ("jax", "jaxlib", "absl", "orbax", "etils", "matplotlib", "PIL", "wandb")


def quiet_third_party_loggers() -> None:
    """Set the loggers in :data:`QUIET_LOGGERS` to WARNING.

    Their warnings and errors still show; jaxorth's own loggers (``jaxorth.*``) keep the
    level Hydra gives them.
    """
    import logging

    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _hydra_entry(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    quiet_third_party_loggers()
    hydra_cfg = HydraConfig.get()
    sweep_dir = hydra_cfg.sweep.dir if hydra_cfg.mode == RunMode.MULTIRUN else None
    try:
        summary = execute(cfg, hydra_cfg.runtime.output_dir, sweep_dir=sweep_dir)
    except Interrupted as err:
        # one line, no traceback; a sweep stops here too (SystemExit passes Hydra)
        print(f"jaxorth: {err}", file=sys.stderr, flush=True)
        sys.exit(143 if getattr(err, "signal_name", "") == "SIGTERM" else 130)
    except KeyboardInterrupt as err:
        name = "SIGTERM" if isinstance(err, _Terminated) else "SIGINT"
        print(
            f"jaxorth: interrupted by {name} outside training (nothing after the last "
            "checkpoint is kept); run the same command to resume",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(143 if name == "SIGTERM" else 130)
    except (RunConfigMismatch, RunDirLocked, CheckpointMismatchError) as err:
        if hydra_cfg.mode == RunMode.MULTIRUN:
            raise  # the sweep marks this job failed and goes on
        print(f"jaxorth: error: {err}", file=sys.stderr, flush=True)
        sys.exit(2)
    print(dumps(summary, indent=2), flush=True)


# Launchers that come from the plugin hydra-submitit-launcher (extra jaxorth[slurm]):
# conf/hydra/launcher/slurm.yaml and the plugin's own submitit_slurm / submitit_local.
SUBMITIT_LAUNCHERS = ("slurm", "submitit_slurm", "submitit_local")


def _has_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


def missing_launcher_plugin(argv: Sequence[str]) -> str | None:
    """The error for ``hydra/launcher=<submitit launcher>`` when its plugin is absent.

    Without the check, Hydra says only that it "could not load
    'hydra/launcher/submitit_slurm'"; ``None`` when the command needs no plugin or has it.
    """
    for arg in argv:
        key, _, value = arg.removeprefix("override ").lstrip("+~").partition("=")
        if key == "hydra/launcher" and value in SUBMITIT_LAUNCHERS:
            if not _has_module("hydra_plugins.hydra_submitit_launcher"):
                return (
                    f"hydra/launcher={value} needs the Hydra submitit launcher plugin, "
                    "which is not installed: pip install 'jaxorth[slurm]' "
                    "(or pip install hydra-submitit-launcher)"
                )
    return None


class _Terminated(KeyboardInterrupt):
    """SIGTERM outside the training loop (the loop handles it itself)."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated("SIGTERM")


def main() -> None:
    """Console-script entry point (``jaxorth ...``).

    Ctrl-C and SIGTERM (what SLURM sends before preempting a job) end the run with one
    line instead of a traceback: during training :func:`jaxorth.train.fit` finishes the
    step, writes a checkpoint and the line says where it resumes from (run the same
    command again); the exit status is 130 (SIGINT) or 143 (SIGTERM). A run directory
    of another config or in use by another process exits with status 2 and says why.
    """
    import signal

    if sys.argv[1:2] in (["--version"], ["-V"]):
        import jaxorth

        print(f"jaxorth {jaxorth.__version__}")
        sys.exit(0)

    missing = missing_launcher_plugin(sys.argv[1:])
    if missing:
        print(f"jaxorth: error: {missing}", file=sys.stderr, flush=True)
        sys.exit(2)

    import hydra

    _load_studies()
    app = hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="config")(
        _hydra_entry
    )
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = app()
    finally:
        signal.signal(signal.SIGTERM, previous)
    sys.exit(code)


def main_for(study: str) -> None:
    """Entry point of ``experiments/<study>.py``: ``jaxorth experiment=<study> ...``."""
    if not any(a.startswith("experiment=") for a in sys.argv[1:]):
        sys.argv.insert(1, f"experiment={study}")
    main()


if __name__ == "__main__":
    main()
