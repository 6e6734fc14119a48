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

from jaxorth.train import set_cpu_devices
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


def execute(cfg: DictConfig, run_dir: str | os.PathLike[str], echo: bool = True) -> dict[str, Any]:
    """Run the study named by ``cfg.experiment.name`` in ``run_dir``; return its summary."""
    studies = _load_studies()
    name = cfg.experiment.name
    if name not in studies.STUDIES:
        raise ValueError(
            f"experiment.name={name!r} is not a study; known: {sorted(studies.STUDIES)}"
        )
    if cfg.seed < 0:
        raise ValueError(f"seed must be >= 0, got {cfg.seed}")
    cpu_devices = int(cfg.train.cpu_devices) if "train" in cfg else 0
    if cpu_devices:  # 0: JAX's default
        set_cpu_devices(cpu_devices)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved = plain_config(cfg)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True), encoding="utf-8")
    tracking = cfg.tracking
    backend = str(tracking.backend)
    tracker = make_tracker(
        backend,
        run_dir,
        config=resolved,
        **(
            {"project": tracking.project, "mode": str(tracking.mode), "tags": list(tracking.tags)}
            if backend == "wandb"
            else {}
        ),
    )
    ctx = studies.RunContext(run_dir=run_dir, tracker=tracker, echo=echo)
    t0 = time.perf_counter()
    try:
        summary = studies.run_study(studies.STUDIES[name], cfg, ctx)
        summary.setdefault("experiment", name)
        summary.setdefault("seed", int(cfg.seed))
        summary["wall_seconds"] = round(time.perf_counter() - t0, 3)
        ctx.write_json("summary", summary)
        tracker.summary(summary)
    finally:
        tracker.finish()
    if echo:
        print(f"run directory: {run_dir.resolve()}", flush=True)
    return summary


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
) -> dict[str, Any]:
    """Compose ``overrides`` and run the study in ``run_dir`` (for tests and notebooks).

    ``train.progress=false`` is added unless the overrides set it.
    """
    overrides = list(overrides)
    if not any(o.startswith(("train.progress=", "+train.progress=")) for o in overrides):
        overrides.append("train.progress=false")
    cfg = compose(overrides)
    return execute(cfg, run_dir, echo=echo)


def _hydra_entry(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    run_dir = HydraConfig.get().runtime.output_dir
    summary = execute(cfg, run_dir)
    print(dumps(summary, indent=2), flush=True)


def main() -> None:
    """Console-script entry point (``jaxorth ...``)."""
    import hydra

    _load_studies()
    app = hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="config")(
        _hydra_entry
    )
    sys.exit(app())


def main_for(study: str) -> None:
    """Entry point of ``experiments/<study>.py``: ``jaxorth experiment=<study> ...``."""
    if not any(a.startswith("experiment=") for a in sys.argv[1:]):
        sys.argv.insert(1, f"experiment={study}")
    main()


if __name__ == "__main__":
    main()
