r"""Study ``experiment=identifiability``: when a sample determines a ReLU network.

Bona-Pellissier, Bachoc & Malgouyres, "Local identifiability of deep ReLU neural
networks: the theory" (NeurIPS 2022, arXiv 2206.07424) and "Parameter identifiability
of a deep feedforward ReLU neural network" (Machine Learning 2023, arXiv 2112.12982).
Parameters are only ever determined modulo the network's symmetries (permutations of
hidden neurons, positive rescalings); the rank of the Jacobian ``J`` of ``theta ->
(f_theta(x_i))_i`` is at most ``E - N_h``, and reaching it on a sample with no point
on a kink is the papers' sufficient condition of local identifiability. Three parts:

1. **Rank vs sample size** (``experiment.architectures``, ``experiment.sample_sizes``):
   for ``experiment.networks`` random networks per architecture
   (:func:`~jaxorth.identifiability.random_params`, He-normal weights) and Gaussian
   samples ``x ~ N(0, input_std^2 I)``, :func:`~jaxorth.identifiability.jacobian_rank`:
   the rank of the first network (table ``rank``, with ``E - N_h``) and the fraction of
   networks whose sufficient (and necessary) condition holds (table ``conditions``).
2. **Parameter recovery** (``experiment.recovery_widths``,
   ``experiment.recovery_samples``): a teacher's outputs on samples of several sizes
   (on some the teacher is locally identifiable, on others not); ``experiment.students``
   students of the same widths per sample and initialisation: the teacher perturbed
   by each relative noise of ``experiment.init_scales`` (local recovery: the papers'
   statement is about a neighbourhood) and fresh random initialisations
   (``experiment.random_init``), trained through :func:`jaxorth.train.fit` (mean
   squared error; ``runs/n<m>_init<scale>_s<s>/``). For each: the error on the sample,
   the error on fresh points and the parameter distance to the teacher modulo symmetry
   (:func:`~jaxorth.identifiability.parameter_distance`), before and after training.
3. **Extraction from queries** (``experiment.extraction_widths``, stretch): teachers
   recovered from black-box queries alone by locating their critical points (Carlini,
   Jagielski & Mironov, CRYPTO 2020; Rolnick & Kording, ICML 2020):
   :func:`~jaxorth.identifiability.extract_one_hidden_layer` for one hidden layer;
   for two, :func:`~jaxorth.identifiability.extract_first_layer` and the experimental
   :func:`~jaxorth.identifiability.extract_two_hidden_layers`; the query count and the
   error modulo symmetry.

Tables: ``rank``, ``conditions``, ``recovery`` (per sample and initialisation),
``students`` (every student), ``extraction``. Figures: ``rank.png`` (rank against the
sample size, ``E - N_h`` dashed), ``conditions.png`` (fraction of networks passing the
sufficient condition) and ``recovery.png`` (parameter distance against function error,
one colour per sample).
::

    jaxorth experiment=identifiability
    jaxorth experiment=identifiability experiment.architectures=[[2,5,1]] experiment.networks=50
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from omegaconf import DictConfig

from jaxorth import identifiability as idf
from jaxorth import report
from jaxorth._random import numpy_rng
from jaxorth.studies._common import fit_in_run, loop_from_cfg
from jaxorth.studies._context import RunContext
from jaxorth.studies._protocol import Study, StudyResult, Table
from jaxorth.studies._registry import register_study


@dataclasses.dataclass
class IdentifiabilityConfig:
    """Schema of ``experiment=identifiability``.

    ``architectures``: widths ``[d_0, ..., d_L]`` of the rank study; ``sample_sizes``:
    the numbers of sample points; ``networks``: random networks per architecture (the
    first gives the ``rank`` table, all give the fractions); ``input_std``: standard
    deviation of the Gaussian samples; ``bias_std``: of the random biases;
    ``recovery_widths``: teacher and students of the recovery part;
    ``recovery_samples``: its sample sizes; ``init_scales``: students start at the
    teacher perturbed by this relative noise (:func:`~jaxorth.identifiability.perturb_params`);
    ``random_init``: also students from fresh random initialisations; ``students``: per
    sample and initialisation; ``fitted``: a student fits the sample when its RMSE is at
    most this fraction of the teacher's output scale; ``test_points``: fresh points
    measuring the function error; ``extraction_widths``: teachers (scalar output)
    extracted from queries (``[]``: skipped).
    """

    name: str = "identifiability"
    architectures: list[list[int]] = dataclasses.field(
        default_factory=lambda: [[2, 5, 1], [3, 6, 4, 2], [4, 10, 10, 1], [2, 8, 8, 1]]
    )
    sample_sizes: list[int] = dataclasses.field(
        default_factory=lambda: [2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000]
    )
    networks: int = 20
    input_std: float = 1.0
    bias_std: float = 0.1
    recovery_widths: list[int] = dataclasses.field(default_factory=lambda: [2, 5, 1])
    recovery_samples: list[int] = dataclasses.field(default_factory=lambda: [10, 20, 200])
    init_scales: list[float] = dataclasses.field(default_factory=lambda: [0.05, 0.3])
    random_init: bool = True
    students: int = 4
    fitted: float = 1e-3
    test_points: int = 2000
    extraction_widths: list[list[int]] = dataclasses.field(
        default_factory=lambda: [[10, 15, 1], [10, 15, 15, 1]]
    )
    plot: bool = True


def _check_widths(widths: Any, key: str, *, scalar_output: bool = False) -> None:
    widths = list(widths)
    if len(widths) < 3:
        raise ValueError(
            f"{key} must list at least 3 widths [d_0, d_1, ..., d_L] (one hidden layer), "
            f"got {widths}"
        )
    for i, w in enumerate(widths):
        if int(w) < 1:
            raise ValueError(f"{key}[{i}] must be >= 1, got {w}")
    if scalar_output and int(widths[-1]) != 1:
        raise ValueError(f"{key} must end with 1 (a scalar output), got {widths}")


def check(cfg: DictConfig) -> None:
    """Domain checks of ``cfg.experiment`` and ``cfg.train`` before any compute."""
    ex = cfg.experiment
    if not ex.architectures:
        raise ValueError("experiment.architectures must list at least one architecture")
    for i, widths in enumerate(ex.architectures):
        _check_widths(widths, f"experiment.architectures[{i}]")
    for key in ("sample_sizes", "recovery_samples"):
        sizes = list(ex[key])
        if not sizes:
            raise ValueError(f"experiment.{key} must list at least one sample size")
        for i, n in enumerate(sizes):
            if int(n) < 1:
                raise ValueError(f"experiment.{key}[{i}] must be >= 1, got {n}")
    for key in ("networks", "students", "test_points"):
        if int(ex[key]) < 1:
            raise ValueError(f"experiment.{key} must be >= 1, got {ex[key]}")
    for key in ("input_std", "fitted"):
        if not float(ex[key]) > 0:
            raise ValueError(f"experiment.{key} must be > 0, got {ex[key]}")
    if not float(ex.bias_std) >= 0:
        raise ValueError(f"experiment.bias_std must be >= 0, got {ex.bias_std}")
    for i, scale in enumerate(ex.init_scales):
        if not float(scale) >= 0:
            raise ValueError(f"experiment.init_scales[{i}] must be >= 0, got {scale}")
    if not list(ex.init_scales) and not ex.random_init:
        raise ValueError(
            "experiment.init_scales is empty and experiment.random_init is false: "
            "the recovery part has no student to train"
        )
    _check_widths(ex.recovery_widths, "experiment.recovery_widths")
    for i, widths in enumerate(ex.extraction_widths):
        _check_widths(widths, f"experiment.extraction_widths[{i}]", scalar_output=True)
    loop_from_cfg(cfg)


def _name(widths: Any) -> str:
    return "-".join(str(int(w)) for w in widths)


def _samples(key: jax.Array, n: int, d: int, std: float) -> np.ndarray:
    return std * numpy_rng(key).normal(size=(n, d))


def _rank_part(ex: Any, root: jax.Array) -> tuple[list, list, dict]:
    rank_rows, cond_rows, curves = [], [], {}
    sizes = [int(n) for n in ex.sample_sizes]
    for a, widths in enumerate(ex.architectures):
        widths = [int(w) for w in widths]
        E, N_h = idf.n_parameters(widths), idf.n_hidden(widths)
        ranks = np.zeros((int(ex.networks), len(sizes)), int)
        suff = np.zeros_like(ranks, bool)
        nec = np.zeros_like(ranks, bool)
        for k in range(int(ex.networks)):
            key = jax.random.fold_in(jax.random.fold_in(root, a), k)
            params = idf.random_params(key, widths, bias_std=float(ex.bias_std))
            x_all = _samples(jax.random.fold_in(key, 1), max(sizes), widths[0], ex.input_std)
            for j, n in enumerate(sizes):
                rep = idf.jacobian_rank(params, x_all[:n])
                ranks[k, j], suff[k, j], nec[k, j] = rep.rank, rep.sufficient, rep.necessary
                if k == 0 and n == max(sizes):
                    first = rep
        name = _name(widths)
        head = {"architecture": name, "E": E, "N_h": N_h, "E - N_h": E - N_h}
        rank_rows.append(
            {
                **head,
                **{f"n={n}": int(r) for n, r in zip(sizes, ranks[0])},
                f"dead / always active (n={max(sizes)})": (
                    f"{len(first.dead)} / {len(first.always_active)}"
                ),
            }
        )
        cond_rows.append(
            {
                "architecture": name,
                "E - N_h": E - N_h,
                **{f"n={n}": float(f) for n, f in zip(sizes, suff.mean(0))},
                "necessary = sufficient": bool(np.array_equal(suff, nec)),
            }
        )
        curves[name] = {
            "sizes": sizes,
            "rank": ranks[0],
            "rank_mean": ranks.mean(0),
            "bound": E - N_h,
            "sufficient": suff.mean(0),
            "necessary": nec.mean(0),
        }
    return rank_rows, cond_rows, curves


def _mse_loss(model: nnx.Module, batch: Any) -> tuple[jax.Array, dict[str, jax.Array]]:
    x, y = batch
    loss = jnp.mean((model(x) - y) ** 2)
    return loss, {}


def _student_inits(ex: Any, key: jax.Array, teacher: list, widths: list[int]) -> list:
    """``(label, scale, s, params)`` of every student: perturbed teachers, fresh inits."""
    inits = []
    for scale in ex.init_scales:
        for s in range(int(ex.students)):
            k = jax.random.fold_in(key, 10_000 + 100 * s + int(1000 * float(scale)))
            inits.append((f"{float(scale):g}", s, idf.perturb_params(k, teacher, float(scale))))
    if ex.random_init:
        for s in range(int(ex.students)):
            inits.append(
                ("random", s, idf.random_params(jax.random.fold_in(key, 20_000 + s), widths))
            )
    return inits


def _recovery_part(
    cfg: DictConfig, ctx: RunContext, root: jax.Array
) -> tuple[list, dict[str, Any]]:
    ex = cfg.experiment
    widths = [int(w) for w in ex.recovery_widths]
    key = jax.random.fold_in(root, 1000)
    teacher = idf.random_params(key, widths, bias_std=float(ex.bias_std))
    x_test = _samples(jax.random.fold_in(key, 2), int(ex.test_points), widths[0], ex.input_std)
    y_test = np.asarray(idf.relu_mlp(teacher, x_test))
    scale = float(np.sqrt(np.mean(y_test**2)))
    inits = _student_inits(ex, key, teacher, widths)
    rows, points = [], {}
    for m in ex.recovery_samples:
        m = int(m)
        x = _samples(jax.random.fold_in(key, 100 + m), m, widths[0], ex.input_std)
        y = np.asarray(idf.relu_mlp(teacher, x))
        verdict = idf.jacobian_rank(teacher, x)
        label = f"n = {m}, rank {verdict.rank} / {verdict.upper_bound}"
        pts = []
        for init_label, s, init in inits:
            start = idf.parameter_distance(teacher, init, relative=True)
            model = idf.to_nnx(init, rngs=nnx.Rngs(s))
            tag = f"n{m}_init{init_label}_s{s}"
            student = idf.from_nnx(fit_in_run(cfg, ctx, tag, model, _mse_loss, (x, y)).model)
            sample_err = float(np.sqrt(np.mean((np.asarray(idf.relu_mlp(student, x)) - y) ** 2)))
            test_err = float(
                np.sqrt(np.mean((np.asarray(idf.relu_mlp(student, x_test)) - y_test) ** 2))
            )
            dist = idf.parameter_distance(teacher, student, relative=True)
            rows.append(
                {
                    "samples": m,
                    "rank": verdict.rank,
                    "E - N_h": verdict.upper_bound,
                    "sufficient": verdict.sufficient,
                    "init": init_label,
                    "student": s,
                    "start_distance": start,
                    "sample_rmse/scale": sample_err / scale,
                    "test_rmse/scale": test_err / scale,
                    "param_distance": dist,
                }
            )
            pts.append((sample_err / scale, test_err / scale, dist, start))
        points[label] = np.asarray(pts)
    return rows, points


def _recovery_summary(rows: list, fitted: float) -> list:
    """Per sample and initialisation: students that fit the sample, their median distance."""
    out = []
    for m in dict.fromkeys(r["samples"] for r in rows):
        for init in dict.fromkeys(r["init"] for r in rows):
            sel = [r for r in rows if r["samples"] == m and r["init"] == init]
            fit = [r for r in sel if r["sample_rmse/scale"] <= fitted]
            out.append(
                {
                    "samples": m,
                    "rank / E - N_h": f"{sel[0]['rank']} / {sel[0]['E - N_h']}",
                    "sufficient": sel[0]["sufficient"],
                    "init": init,
                    "fit the sample": f"{len(fit)} / {len(sel)}",
                    "median start_distance": float(np.median([r["start_distance"] for r in sel])),
                    "median param_distance (fitted)": float(
                        np.median([r["param_distance"] for r in fit])
                    )
                    if fit
                    else float("nan"),
                    "median test_rmse/scale (fitted)": float(
                        np.median([r["test_rmse/scale"] for r in fit])
                    )
                    if fit
                    else float("nan"),
                }
            )
    return out


def _extraction_rows(ex: Any, root: jax.Array) -> list:
    """One row per teacher of ``experiment.extraction_widths`` and extraction method."""
    rows = []
    for t, widths in enumerate(ex.extraction_widths):
        widths = [int(w) for w in widths]
        key = jax.random.fold_in(root, 2000 + t)
        teacher = [
            (np.asarray(w, np.float64), np.asarray(b, np.float64))
            for w, b in idf.random_params(key, widths, bias_std=float(ex.bias_std))
        ]
        x_test = _samples(jax.random.fold_in(key, 2), int(ex.test_points), widths[0], ex.input_std)

        def query(x: np.ndarray, teacher: list = teacher) -> np.ndarray:
            return np.asarray(idf.relu_mlp(teacher, x))[:, 0]

        y_test = query(x_test)
        scale = float(np.sqrt(np.mean(y_test**2)))
        methods = {1: ["one hidden layer"], 2: ["first layer", "two hidden layers"]}
        for method in methods.get(len(widths) - 2, ["first layer"]):
            extract = {
                "one hidden layer": idf.extract_one_hidden_layer,
                "first layer": idf.extract_first_layer,
                "two hidden layers": idf.extract_two_hidden_layers,
            }[method]
            t0 = time.perf_counter()
            try:
                res = extract(query, widths[0], key=jax.random.fold_in(key, 1))
            except RuntimeError as err:  # reported, not fatal: the stretch part of the study
                rows.append({"teacher": _name(widths), "method": method, "failed": str(err)})
                continue
            seconds = time.perf_counter() - t0
            row = {
                "teacher": _name(widths),
                "method": method,
                "neurons found": f"{res.n_neurons} / {sum(widths[1:-1])}",
                "queries": int(res.queries),
                "seconds": seconds,
                "first-layer hyperplanes": idf.hyperplane_distance(res.params[0], teacher[0]),
            }
            if method != "first layer":
                same = [w.shape for w, _ in res.params] == [w.shape for w, _ in teacher]
                err = np.asarray(idf.relu_mlp(res.params, x_test))[:, 0] - y_test
                row["param_distance"] = (
                    idf.parameter_distance(teacher, res.params, relative=True)
                    if same
                    else float("inf")
                )
                row["max_abs_error/scale"] = float(np.max(np.abs(err)) / scale)
                row["fit_residual"] = float(res.fit_residual)
            rows.append(row)
    return rows


def run(cfg: DictConfig, ctx: RunContext) -> StudyResult:
    """The rank study, the recovery by training and the extraction from queries."""
    ex = cfg.experiment
    root = jax.random.PRNGKey(int(cfg.seed))
    t0 = time.perf_counter()
    rank_rows, cond_rows, curves = _rank_part(ex, root)
    rank_seconds = time.perf_counter() - t0
    rec_rows, rec_points = _recovery_part(cfg, ctx, root)
    rec_summary = _recovery_summary(rec_rows, float(ex.fitted))
    ext_rows = _extraction_rows(ex, root)

    reached = {name: bool(c["rank"][-1] == c["bound"]) for name, c in curves.items()}
    summary: dict[str, Any] = {
        "rank_seconds": rank_seconds,
        "bound_reached_at_largest_sample": reached,
    }
    for name, c in curves.items():
        summary[f"{name}/rank"] = [int(r) for r in c["rank"]]
        summary[f"{name}/sufficient_fraction"] = [float(f) for f in c["sufficient"]]
    for r in rec_summary:
        tag = f"recovery/n{r['samples']}/init{r['init']}"
        summary[f"{tag}/fitted"] = r["fit the sample"]
        summary[f"{tag}/median_param_distance"] = r["median param_distance (fitted)"]
    for r in ext_rows:
        tag = f"extraction/{r['teacher']}/{r['method'].replace(' ', '_')}"
        for k in ("queries", "param_distance", "first-layer hyperplanes", "failed"):
            if k in r:
                summary[f"{tag}/{k}"] = r[k]
    tables = {
        "rank": Table(rank_rows, "rank of J against the number of sample points (network 0)"),
        "conditions": Table(
            cond_rows,
            f"fraction of {int(ex.networks)} random networks whose sufficient condition holds",
        ),
        "recovery": Table(
            rec_summary,
            f"students fitted to a teacher {_name(ex.recovery_widths)} (fitted: sample "
            f"RMSE <= {float(ex.fitted):g} scale): distance mod symmetry",
        ),
        "students": Table(rec_rows, "every student: start and end distance, errors"),
    }
    if ext_rows:
        tables["extraction"] = Table(ext_rows, "teacher recovered from queries (critical points)")
    return StudyResult(
        tables=tables,
        summary=summary,
        arrays={"curves": curves, "recovery": rec_points},
    )


def plot(result: StudyResult, ctx: RunContext) -> None:
    """``rank.png``, ``conditions.png`` and ``recovery.png``."""
    curves = result.arrays["curves"]
    rank_curves, lines, frac = [], [], []
    for i, (name, c) in enumerate(curves.items()):
        rank_curves.append(report.Curve(c["sizes"], c["rank"], name, "o-", color=i))
        rank_curves.append(
            report.Curve(c["sizes"], [c["bound"]] * len(c["sizes"]), None, "--", color=i)
        )
        frac.append(report.Curve(c["sizes"], c["sufficient"], name, "o-", color=i))
    ctx.save_figure(
        report.panels_figure(
            [
                report.Panel(
                    rank_curves + lines,
                    title="rank of J (dashed: E - N_h)",
                    xlabel="sample points n",
                    ylabel="rank",
                    xscale="log",
                    yscale="log",
                )
            ],
            figsize=(6.0, 4.5),
        ),
        "rank",
    )
    ctx.save_figure(
        report.panels_figure(
            [
                report.Panel(
                    frac,
                    title="networks passing the sufficient condition",
                    xlabel="sample points n",
                    ylabel="fraction",
                    xscale="log",
                    yscale="linear",
                    ylim=(-0.05, 1.05),
                )
            ],
            figsize=(6.0, 4.5),
        ),
        "conditions",
    )
    panels = []
    for column, xlabel in ((0, "RMSE on the sample / scale"), (1, "RMSE on fresh points / scale")):
        curves = [
            report.Curve(
                np.maximum(pts[:, column], 1e-17),
                np.maximum(pts[:, 2], 1e-17),
                label,
                kind="scatter",
                color=i,
            )
            for i, (label, pts) in enumerate(result.arrays["recovery"].items())
        ]
        panels.append(
            report.Panel(
                curves,
                title="students fitted to the teacher",
                xlabel=xlabel,
                ylabel="parameter distance mod symmetry (relative)",
                xscale="log",
                yscale="log",
            )
        )
    ctx.save_figure(report.panels_figure(panels, figsize=(11.0, 4.5)), "recovery")


STUDY = register_study(
    Study("identifiability", IdentifiabilityConfig, run=run, check=check, report=plot, float64=True)
)
