r"""Study ``experiment=orthconv_scalability``: orthogonality errors as the input grows.

Achour, Malgouyres, Mamalet (JMLR 2022), scalability results: for a kernel ``K``
and the layer matrix ``A_N`` on inputs of size ``S N``,
``(err_F^N)^2 = N^d L_orth(K)`` for every ``N >= 2r + 1`` (``r = floor((k-1)/S)``), while
``err_s^N`` stays bounded independently of ``N``. So a slightly non-orthogonal kernel has
a Frobenius error that grows like ``N^{d/2}`` but stays a near-isometry at every size.

For each stride and each relative perturbation ``eps``, the study draws an exact
orthogonal kernel (:func:`~jaxorth.orthconv.orth_conv_kernel`, float64), perturbs it,
``K = K_0 + eps ||K_0||_F G / ||G||_F`` with ``G`` Gaussian, and computes for every ``N``
in ``sizes`` the exact ``err_F``, ``err_s`` and isometry deviation
(:func:`~jaxorth.orthconv.orthogonality_errors`, polyphase FFT, float64) together with
``sqrt(L_orth)`` (:func:`~jaxorth.orthconv.lorth`). Outputs: a table (``results.md``),
``scaling.png`` (``err_F / N^{d/2}`` against ``sqrt(L_orth)``, and ``err_s``), and the
summary: the largest relative deviation from the identity, and the spread
``max_N err_s / min_N err_s`` over ``N >= 2r + 1``. Run::

    jaxorth experiment=orthconv_scalability
    jaxorth experiment=orthconv_scalability experiment.sizes=[4,8,16] experiment.strides=[1]
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from omegaconf import DictConfig

from jaxorth import orthconv, report
from jaxorth.studies._context import RunContext
from jaxorth.studies._protocol import Study, StudyResult, Table, config_key
from jaxorth.studies._registry import register_study


@dataclasses.dataclass
class ScalabilityConfig:
    """Schema of ``experiment=orthconv_scalability``."""

    name: str = "orthconv_scalability"
    out_channels: int = 32
    in_channels: int = 32
    kernel_size: int = 3
    ndim: int = 2
    strides: list[int] = dataclasses.field(default_factory=lambda: [1, 2])
    sizes: list[int] = dataclasses.field(default_factory=lambda: [4, 8, 16, 32, 64, 128])
    eps: list[float] = dataclasses.field(default_factory=lambda: [1e-3, 1e-2, 1e-1])
    plot: bool = True


def check(cfg: DictConfig) -> None:
    """Domain checks of ``cfg.experiment``, before any compute (messages name the key)."""
    ex = cfg.experiment
    for key in ("out_channels", "in_channels", "kernel_size", "ndim"):
        if int(ex[key]) < 1:
            raise ValueError(f"experiment.{key} must be >= 1, got {ex[key]}")
    if not ex.sizes or min(ex.sizes) < 1:
        raise ValueError(f"experiment.sizes must be non-empty, all >= 1, got {list(ex.sizes)}")
    if not ex.strides or min(ex.strides) < 1:
        raise ValueError(f"experiment.strides must be non-empty, all >= 1, got {list(ex.strides)}")
    if not ex.eps or min(ex.eps) < 0:
        raise ValueError(f"experiment.eps must be non-empty, all >= 0, got {list(ex.eps)}")
    for s in ex.strides:
        with config_key("experiment.strides", ex.strides):
            orthconv.check_orthogonal_conv(
                int(ex.out_channels),
                int(ex.in_channels),
                int(ex.kernel_size),
                int(s),
                int(ex.ndim),
                warn_square=False,
            )


def run(cfg: DictConfig, ctx: RunContext) -> StudyResult:
    """Errors of perturbed orthogonal kernels at every input size (float64)."""
    ex = cfg.experiment
    m, c, k, d = int(ex.out_channels), int(ex.in_channels), int(ex.kernel_size), int(ex.ndim)
    key = jax.random.PRNGKey(int(cfg.seed))
    rows, curves = [], []
    worst_identity, worst_spread = 0.0, 1.0
    step = 0
    for s in (int(v) for v in ex.strides):
        plan = orthconv.orth_conv_plan(m, c, k, s, d)
        key, k_init, k_noise = jax.random.split(key, 3)
        params = orthconv.init_orth_conv_params(k_init, plan, dtype=jnp.float64)
        base = orthconv.orth_conv_kernel(params, plan)
        noise = jax.random.normal(k_noise, base.shape, jnp.float64)
        noise = noise * jnp.linalg.norm(base) / jnp.linalg.norm(noise)
        r = (k - 1) // s
        for eps in (float(v) for v in ex.eps):
            kernel = base + eps * noise
            root_l = math.sqrt(max(float(orthconv.lorth(kernel, s)), 0.0))
            err_s_valid, curve = [], []
            for n in (int(v) for v in ex.sizes):
                errs = orthconv.orthogonality_errors(kernel, s * n, s)
                err_f, err_s, dev = (float(v) for v in errs)
                scaled = err_f / n ** (d / 2)
                valid = n >= 2 * r + 1
                rel = abs(scaled - root_l) / max(root_l, 1e-300)
                if valid:
                    err_s_valid.append(err_s)
                    if root_l > 0:
                        worst_identity = max(worst_identity, rel)
                rows.append(
                    {
                        "S": s,
                        "eps": eps,
                        "N": n,
                        "input": s * n,
                        "N>=2r+1": valid,
                        "err_F": err_f,
                        "err_F/N^(d/2)": scaled,
                        "sqrt(L_orth)": root_l,
                        "err_s": err_s,
                        "max|sigma-1|": dev,
                    }
                )
                curve.append((n, scaled, err_s, err_f))
                ctx.tracker.log(
                    {"S": s, "eps": eps, "N": n, "err_F": err_f, "err_s": err_s}, step=step
                )
                step += 1
            if len(err_s_valid) > 1 and min(err_s_valid) > 0:
                worst_spread = max(worst_spread, max(err_s_valid) / min(err_s_valid))
            curves.append({"S": s, "eps": eps, "sqrt_lorth": root_l, "curve": np.asarray(curve)})
    title = f"orthogonality errors vs input size (M={m}, C={c}, k={k}, d={d}, float64)"
    summary = {
        "max_identity_rel_err": worst_identity,
        "max_err_s_spread": worst_spread,
        "rows": len(rows),
    }
    return StudyResult(
        tables={"results": Table(rows, title)}, summary=summary, arrays={"curves": curves, "d": d}
    )


def plot(result: StudyResult, ctx: RunContext) -> None:
    """``scaling.png``: ``err_F``, ``err_F / N^{d/2}`` against ``sqrt(L_orth)``, ``err_s``."""
    d = result.arrays["d"]
    err_f, scaled, err_s, roots = [], [], [], []
    for i, entry in enumerate(result.arrays["curves"]):
        curve, label = entry["curve"], f"S={entry['S']}, eps={entry['eps']:g}"
        n = curve[:, 0]
        err_f.append(report.Curve(n, curve[:, 3], label=label, fmt="o-", color=i))
        scaled.append(report.Curve(n, curve[:, 1], label=label, fmt="o-", color=i))
        err_s.append(report.Curve(n, curve[:, 2], label=label, fmt="o-", color=i))
        if entry["sqrt_lorth"] > 0:
            roots.append(report.HLine(entry["sqrt_lorth"], color=i, style="--", width=0.8))
    err_f_label, err_s_label = r"$\mathrm{err}_F$", r"$\mathrm{err}_s$"
    specs = [  # (curves, reference lines, title, ylabel)
        (err_f, [], rf"{err_f_label} grows like $N^{{d/2}}$", err_f_label),
        (
            scaled,
            roots,
            rf"$\mathrm{{err}}_F / N^{{{d / 2:g}}}$ (dashed: $\sqrt{{L_{{orth}}}}$)",
            None,
        ),
        (err_s, [], f"{err_s_label} stays flat", err_s_label),
    ]
    panels = [
        report.Panel(
            curves,
            hlines=lines,
            title=title,
            xlabel="$N$ (output size per axis)",
            ylabel=ylabel,
            xscale="log",
            yscale="log",
            legend=i == 0,
        )
        for i, (curves, lines, title, ylabel) in enumerate(specs)
    ]
    ctx.save_figure(report.panels_figure(panels, figsize=(15.0, 4.0)), "scaling")


STUDY = register_study(
    Study(
        "orthconv_scalability",
        ScalabilityConfig,
        run=run,
        check=check,
        report=plot,
        float64=True,
    )
)
