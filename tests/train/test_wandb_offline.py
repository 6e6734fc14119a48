"""The W&B backend, offline, read back from the files it writes.

One tiny copy-task run of a "sweep" with ``tracking=wandb`` is finished, then continued
for more steps in the same run directory. Each W&B session writes
``wandb/offline-run-<time>-<id>/run-<id>.wandb``: a LevelDB-style log of protobuf
``wandb.proto.wandb_internal_pb2.Record`` messages (the format ``wandb sync`` uploads).
The installed wandb has no Python reader for it any more (the Go core reads it), so the
few lines of :func:`wandb_records` read the log: a 7-byte header (``:W&B``, magic,
version), then 32 KiB blocks of chunks, each with a 7-byte header (CRC32, length, type:
1 full, 2 first, 3 middle, 4 last).
"""

import json
import struct
from pathlib import Path

import pytest

pytest.importorskip("wandb")

from jaxorth.cli import compose, run_experiment, wandb_options  # noqa: E402
from jaxorth.train.rundir import open_run  # noqa: E402
from jaxorth.train.tracking import WANDB_ID_FILE  # noqa: E402


def wandb_records(path: Path) -> list:
    """The ``Record`` messages of an offline ``run-<id>.wandb`` file, in order."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B transaction log"
    block, pos, chunks, pending = 32768, 7, [], b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind == 1:
            chunks.append(chunk)
        elif kind in (2, 3):
            pending += chunk
        elif kind == 4:
            chunks.append(pending + chunk)
            pending = b""
    records = []
    for chunk in chunks:
        record = pb.Record()
        record.ParseFromString(chunk)
        records.append(record)
    return records


def _of_kind(records: list, kind: str) -> list:
    return [getattr(r, kind) for r in records if r.WhichOneof("record_type") == kind]


@pytest.fixture
def offline_wandb(monkeypatch, tmp_path):
    """W&B offline, its caches and settings under ``tmp_path``, quiet."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for var in ("WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR", "WANDB_CONFIG_DIR"):
        monkeypatch.setenv(var, str(tmp_path / "wandb_home" / var.lower()))


@pytest.mark.slow
def test_a_continued_run_is_the_same_wandb_run_with_name_group_table_and_checkpoint(
    offline_wandb, tmp_path, tiny_copy_run
):
    sweep = tmp_path / "2025-01-01_12-00-00"
    run_dir = sweep / "0_seed=0"
    wandb = ["tracking=wandb", "tracking.entity=my-team", "tracking.log_checkpoints=true"]
    options = [*(o for o in tiny_copy_run if not o.startswith("train.steps=")), *wandb]
    run_experiment([*options, "train.steps=2"], run_dir, sweep_dir=sweep)
    run_id = (run_dir / WANDB_ID_FILE).read_text().strip()
    assert run_id
    summary = run_experiment([*options, "train.steps=4"], run_dir, sweep_dir=sweep)
    assert summary["resumed_from"] == 2 and summary["steps"] == 4
    assert (run_dir / WANDB_ID_FILE).read_text().strip() == run_id

    # one offline folder per session, all of the same W&B run
    folders = sorted((run_dir / "wandb").glob("offline-run-*"))
    assert len(folders) == 2
    assert {f.name.rsplit("-", 1)[1] for f in folders} == {run_id}
    header = (run_dir / "results.csv").read_text().splitlines()[0].split(",")
    for session, folder in enumerate(folders):
        records = wandb_records(folder / f"run-{run_id}.wandb")
        (run,) = _of_kind(records, "run")
        assert run.run_id == run_id and run.project == "jaxorth" and run.entity == "my-team"
        assert run.display_name == "0_seed=0"  # the run folder's name
        assert run.run_group == sweep.name  # the sweep folder's name

        # the results table, as a wandb.Table of the study's rows, at the last step
        rows = [
            {tuple(i.nested_key) or (i.key,): i.value_json for i in h.item}
            for h in _of_kind(records, "history")
        ]
        steps = 2 * (session + 1)
        # one history row (log_every=2): metrics and table at the last step, so a continued
        # run never logs a step W&B has seen (it would drop it)
        assert [int(r[("_step",)]) for r in rows] == [steps]
        (items,) = rows
        assert json.loads(items[("tables/results", "_type")]) == "table-file"
        table = json.loads(
            (folder / "files" / json.loads(items[("tables/results", "path")])).read_text()
        )
        assert table["columns"] == header and len(table["data"]) == 1
        assert table["data"][0][header.index("steps")] == steps

        # the final checkpoint as a model artifact
        (artifact,) = [a for a in _of_kind(records, "artifact") if a.type == "model"]
        assert artifact.name == f"checkpoint-{run_id}"
        assert set(artifact.aliases) == {"latest", f"step-{steps}"}
        assert any(e.path.startswith(f"{steps}/") for e in artifact.manifest.contents)


def test_wandb_options_defaults_and_overrides(tmp_path):
    run_dir = tmp_path / "outputs" / "2025-01-01_12-00-00"
    cfg = compose(["tracking=wandb"])
    single = wandb_options(cfg.tracking, run_dir, sweep_dir=None)
    assert single == {
        "project": "jaxorth",
        "mode": "offline",
        "tags": [],
        "name": "2025-01-01_12-00-00",
        "group": None,
        "entity": None,
    }
    assert wandb_options(cfg.tracking, run_dir / "3_seed=1", tmp_path / "sw")["group"] == "sw"
    cfg = compose(["tracking=wandb", "tracking.name=a", "tracking.group=g", "tracking.entity=e"])
    chosen = wandb_options(cfg.tracking, run_dir, sweep_dir=tmp_path / "sw")
    assert (chosen["name"], chosen["group"], chosen["entity"]) == ("a", "g", "e")


def test_a_fresh_start_archives_the_wandb_run_id(tmp_path):
    """``train.resume=false`` starts a new W&B run: the stored id goes to the archive."""
    (tmp_path / WANDB_ID_FILE).write_text("abc123\n")
    with open_run(tmp_path, {"a": 1}, resume=False) as run:
        assert run.archived is not None
    assert not (tmp_path / WANDB_ID_FILE).exists()
    assert (run.archived / WANDB_ID_FILE).read_text() == "abc123\n"
