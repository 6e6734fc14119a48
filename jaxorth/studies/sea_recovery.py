r"""Study ``experiment=sea_recovery``: exact-support recovery of SEA and its peers.

Reproduces the support-recovery experiments of Mohamed, Malgouyres, Emiya, Chaux,
"Support Exploration Algorithm for Sparse Support Recovery" (ICML 2024, Sec. 5):
for every setting, sparsity k and method, ``n_trials`` random k-sparse signals
(uniform support, random signs, magnitudes ``min_magnitude + |N(0,1)|``) are observed

- noiselessly, ``y = A x``: the exact-support recovery rate ``P(supp(x_hat) = supp(x))``;
- with noise, ``y = A x + noise_std * e``: the mean relative error
  ``||x_hat - x|| / ||x||``.

Settings

- ``gaussian``: a fresh ``gaussian_m x gaussian_n`` (default 64 x 256) Gaussian matrix
  with unit-norm columns per trial.
- ``deconvolution``: the fixed Gaussian-filter convolution matrix of
  :func:`jaxorth.sparse.deconvolution_matrix`: ``deconv_n = 100`` spike positions
  observed on ``deconv_m = 100`` samples ("same"-size convolution), filter standard
  deviation ``deconv_width = 3`` samples, unit-norm columns (neighbour correlation
  0.973: strongly coherent).

Methods: the keys of :data:`jaxorth.sparse.SOLVERS` (SEA from 0, SEA from OMP, SEA
from ELS, OMP, OLS, ELS, IHT, NIHT, HTP, CoSaMP, SP). All trials of one (setting, k,
method) run as one jitted ``vmap``; noiseless and noisy trials share the call.

Run everything (the default: one table per setting, methods as columns, k as rows)::

    jaxorth experiment=sea_recovery

or sweep, one job per point::

    jaxorth -m experiment=sea_recovery experiment.setting=gaussian,deconvolution \
        experiment.method=sea,omp experiment.k=4,8

Exact recovery and the relative error are :func:`jaxorth.sparse.exact_recovery` and
:func:`jaxorth.sparse.relative_error`. On the deconvolution setting the study checks
that SEA (the best of its variants run) recovers at least as often as every peer at
every k, and lists the exceptions in the summary (``deconvolution_sea_deficits``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from omegaconf import DictConfig

from jaxorth import report, sparse
from jaxorth._precision import float64
from jaxorth.studies._context import RunContext
from jaxorth.studies._protocol import Study, StudyResult, Table
from jaxorth.studies._registry import register_study


class Setting(enum.StrEnum):
    """``experiment.setting``: one measurement setting, or ``all``."""

    gaussian = "gaussian"
    deconvolution = "deconvolution"
    all = "all"


#: ``experiment.method``: a key of :data:`jaxorth.sparse.SOLVERS`, or ``all``.
Method = enum.StrEnum("Method", {**{k: k for k in sparse.SOLVERS}, "all": "all"})
Method.__module__ = __name__

SETTINGS = tuple(str(s) for s in Setting if s != Setting.all)
SEA_METHODS = ("sea", "sea_omp", "sea_els")
ITERATIVE = {"sea", "sea_omp", "sea_els", "els", "iht", "niht", "htp", "cosamp", "sp"}


@dataclasses.dataclass
class SeaRecoveryConfig:
    """Schema of ``experiment=sea_recovery``.

    ``setting``: ``gaussian``, ``deconvolution`` or ``all``; ``method``: a key of
    ``jaxorth.sparse.SOLVERS`` or ``all``; ``k``: one sparsity instead of the setting's
    grid (``gaussian_ks`` / ``deconv_ks``). ``sea_iter``: SEA iterations;
    ``peer_iter``: iterations of IHT, NIHT, HTP, CoSaMP, SP and ELS swaps (0 = each
    solver's default). ``x64``: run in float64.
    """

    name: str = "sea_recovery"
    setting: Setting = Setting.all
    method: Method = Method.all  # type: ignore[valid-type]
    k: int | None = None
    n_trials: int = 200
    gaussian_m: int = 64
    gaussian_n: int = 256
    gaussian_ks: list[int] = dataclasses.field(default_factory=lambda: [4, 8, 12, 16, 20, 24])
    deconv_n: int = 100
    deconv_m: int = 100
    deconv_width: float = 3.0
    deconv_ks: list[int] = dataclasses.field(default_factory=lambda: [1, 2, 3, 4, 6, 8])
    min_magnitude: float = 1.0
    noise_std: float = 0.05
    sea_iter: int = 1000
    peer_iter: int = 0
    x64: bool = False
    plot: bool = True


def _settings(ex: Any) -> list[str]:
    return list(SETTINGS) if str(ex.setting) == "all" else [str(ex.setting)]


def _methods(ex: Any) -> list[str]:
    return list(sparse.SOLVERS) if str(ex.method) == "all" else [str(ex.method)]


def check(cfg: DictConfig) -> None:
    """Domain checks of ``cfg.experiment`` (``setting`` / ``method`` are enums)."""
    ex = cfg.experiment
    for key in ("n_trials", "gaussian_m", "gaussian_n", "deconv_n", "deconv_m", "sea_iter"):
        if int(ex[key]) < 1:
            raise ValueError(f"experiment.{key} must be >= 1, got {ex[key]}")
    if ex.peer_iter < 0:
        raise ValueError(f"experiment.peer_iter must be >= 0, got {ex.peer_iter}")
    if ex.deconv_m < ex.deconv_n:
        raise ValueError(
            f"experiment.deconv_m={ex.deconv_m} must be >= experiment.deconv_n={ex.deconv_n}"
        )
    if not ex.deconv_width > 0:
        raise ValueError(f"experiment.deconv_width must be > 0, got {ex.deconv_width}")
    if ex.noise_std < 0 or ex.min_magnitude < 0:
        raise ValueError("experiment.noise_std and experiment.min_magnitude must be >= 0")
    for setting in _settings(ex):
        m, n = _shape(ex, setting)
        for k in _ks(ex, setting):
            if not 1 <= k <= min(m, n):
                key = "k" if ex.k is not None else _ks_key(setting)
                raise ValueError(
                    f"experiment.{key}: k={k} must satisfy 1 <= k <= min(m, n) = "
                    f"{min(m, n)} for the {setting} setting ({m} x {n})"
                )


def _ks_key(setting: str) -> str:
    return "gaussian_ks" if setting == "gaussian" else "deconv_ks"


def _ks(ex: Any, setting: str) -> list[int]:
    return [int(ex.k)] if ex.k is not None else [int(k) for k in ex[_ks_key(setting)]]


def _shape(ex: Any, setting: str) -> tuple[int, int]:
    if setting == "gaussian":
        return int(ex.gaussian_m), int(ex.gaussian_n)
    return int(ex.deconv_m), int(ex.deconv_n)


def _options(method: str, sea_iter: int, peer_iter: int) -> dict[str, int]:
    if method in SEA_METHODS:
        return {"n_iter": sea_iter}
    if method in ITERATIVE and peer_iter > 0:
        return {"n_iter": peer_iter}
    return {}


@functools.cache
def _batched(method: str, k: int, shared_matrix: bool, options: tuple) -> Any:
    """One jitted vmap per (method, k): reused across noiseless / noisy calls."""
    solver = functools.partial(sparse.SOLVERS[method], k=k, **dict(options))
    return jax.jit(jax.vmap(solver, in_axes=(None if shared_matrix else 0, 0)))


def _problems(ex: Any, setting: str, k: int, key: jax.Array, dtype: Any):
    """Matrices and 2 * n_trials problems: noiseless first, then noisy (same signals)."""
    T = int(ex.n_trials)
    k_mat, k_sig = jax.random.split(key)
    m, n = _shape(ex, setting)
    if setting == "gaussian":
        A = jax.vmap(lambda kk: sparse.gaussian_matrix(kk, m, n, dtype))(jax.random.split(k_mat, T))
        A_one = None
    else:
        A_one = sparse.deconvolution_matrix(n, float(ex.deconv_width), m, dtype)
        A = jnp.broadcast_to(A_one, (T, m, n))
    draw = jax.vmap(
        lambda kk, a, s: sparse.sparse_problem(
            kk, a, k, min_magnitude=float(ex.min_magnitude), noise_std=s
        ),
        in_axes=(0, 0, None),
    )
    keys = jax.random.split(k_sig, T)
    clean, noisy = draw(keys, A, 0.0), draw(keys, A, float(ex.noise_std))
    y = jnp.concatenate([clean.y, noisy.y])
    mats = A_one if A_one is not None else jnp.concatenate([A, A])
    return mats, y, clean


def _evaluate(ex: Any, setting: str, k: int, methods: list[str], key: jax.Array, dtype):
    T = int(ex.n_trials)
    mats, y, truth = _problems(ex, setting, k, key, dtype)
    out = {}
    for method in methods:
        opts = tuple(sorted(_options(method, int(ex.sea_iter), int(ex.peer_iter)).items()))
        fn = _batched(method, k, setting == "deconvolution", opts)
        t0 = time.perf_counter()
        res = jax.block_until_ready(fn(mats, y))
        seconds = time.perf_counter() - t0
        supp = np.asarray(res.support)
        exact = sparse.exact_recovery(supp[:T], truth.support)
        noisy_exact = sparse.exact_recovery(supp[T:], truth.support)
        rel = sparse.relative_error(res.x[T:], truth.x)
        out[method] = {
            "rate": float(exact.mean()),
            "rel_err": float(np.nanmean(rel)),
            "noisy_rate": float(noisy_exact.mean()),
            "seconds": seconds,
        }
    return out


def _deficits(results: dict, ks: list[int], methods: list[str]) -> list[dict] | None:
    """(k, peer) pairs where a peer recovers more often than the best SEA variant run."""
    seas = [mt for mt in methods if mt in SEA_METHODS]
    peers = [mt for mt in methods if mt not in SEA_METHODS]
    if not (seas and peers):
        return None
    deficits = []
    for k in ks:
        best_sea = max(seas, key=lambda mt: results[k][mt]["rate"])
        for peer in peers:
            if results[k][peer]["rate"] > results[k][best_sea]["rate"]:
                deficits.append(
                    {
                        "k": k,
                        "peer": peer,
                        "peer_rate": results[k][peer]["rate"],
                        "sea": best_sea,
                        "sea_rate": results[k][best_sea]["rate"],
                    }
                )
    return deficits


def run(cfg: DictConfig, ctx: RunContext) -> StudyResult:
    """Recovery rate vs k (noiseless) and relative error (noisy) for every setting."""
    ex = cfg.experiment
    settings, methods = _settings(ex), _methods(ex)
    summary: dict[str, Any] = {}
    tables: dict[str, Table] = {}
    figures: list[dict] = []
    with float64() if ex.x64 else contextlib.nullcontext():
        dtype = jnp.float64 if ex.x64 else jnp.float32
        root = jax.random.PRNGKey(int(cfg.seed))
        step = 0
        for setting in settings:
            ks = _ks(ex, setting)
            results = {}
            for k in ks:
                key = jax.random.fold_in(jax.random.fold_in(root, SETTINGS.index(setting)), k)
                results[k] = _evaluate(ex, setting, k, methods, key, dtype)
                ctx.tracker.log(
                    {
                        f"{setting}/{meth}/{name}": val
                        for meth, r in results[k].items()
                        for name, val in r.items()
                    }
                    | {"k": k},
                    step=step,
                )
                step += 1
            m, n = _shape(ex, setting)
            rows = [{"k": k, **{mt: results[k][mt]["rate"] for mt in methods}} for k in ks]
            tables[f"recovery_{setting}"] = Table(
                rows,
                f"{setting} {m}x{n}: exact support recovery rate (noiseless, {ex.n_trials} trials)",
            )
            err_rows = [{"k": k, **{mt: results[k][mt]["rel_err"] for mt in methods}} for k in ks]
            tables[f"relerr_{setting}"] = Table(
                err_rows,
                f"{setting} {m}x{n}: mean relative error ||x_hat - x|| / ||x|| "
                f"(noise_std={ex.noise_std})",
            )
            summary[f"{setting}_seconds"] = {
                mt: round(sum(results[k][mt]["seconds"] for k in ks), 3) for mt in methods
            }
            summary[f"{setting}_rate"] = {
                mt: {str(k): results[k][mt]["rate"] for k in ks} for mt in methods
            }
            summary[f"{setting}_rel_err"] = {
                mt: {str(k): results[k][mt]["rel_err"] for k in ks} for mt in methods
            }
            deficits = _deficits(results, ks, methods)
            if deficits is not None:
                summary[f"{setting}_sea_deficits"] = deficits
                if setting == "deconvolution" and deficits:
                    print(f"[sea_recovery] SEA below a peer on deconvolution: {deficits}")
            figures.append(
                {
                    "setting": setting,
                    "shape": (m, n),
                    "ks": ks,
                    "rate": {mt: [results[k][mt]["rate"] for k in ks] for mt in methods},
                    "rel_err": {mt: [results[k][mt]["rel_err"] for k in ks] for mt in methods},
                }
            )
    arrays = {
        "figures": figures,
        "n_trials": int(ex.n_trials),
        "noise_std": float(ex.noise_std),
    }
    return StudyResult(tables=tables, summary=summary, arrays=arrays)


def plot(result: StudyResult, ctx: RunContext) -> None:
    """``recovery_<setting>.png``: rate vs k (noiseless) and relative error vs k (noisy)."""
    a = result.arrays
    for fig in a["figures"]:
        ks, (m, n) = fig["ks"], fig["shape"]

        def curves(what: str, ks=ks, fig=fig) -> list[report.Curve]:
            return [
                report.Curve(ks, values, mt, "-o" if mt in SEA_METHODS else "--.")
                for mt, values in fig[what].items()
            ]

        panels = [
            report.Panel(
                curves("rate"),
                title=f"{fig['setting']} {m}x{n}, noiseless, {a['n_trials']} trials",
                xlabel="$k$",
                ylabel="exact support recovery rate",
                yscale="linear",
                ylim=(-0.02, 1.02),
                legend=False,
            ),
            report.Panel(
                curves("rel_err"),
                title=f"{fig['setting']}, noise_std={a['noise_std']}",
                xlabel="$k$",
                ylabel=r"mean $\|\hat{x} - x\| / \|x\|$",
                yscale="log",
                legend_columns=2,
            ),
        ]
        ctx.save_figure(
            report.panels_figure(panels, figsize=(11.0, 4.0)), f"recovery_{fig['setting']}"
        )


STUDY = register_study(Study("sea_recovery", SeaRecoveryConfig, run=run, check=check, report=plot))
