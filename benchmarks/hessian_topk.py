"""Top-10 Hessian eigenvalues of an MLP to a residual tolerance, by thick-restart Lanczos.

Part 1: the largest size where the dense Hessian still fits (n ~ 2-3k parameters):
``hessian.eigenvalues`` (tol 1e-6) against dense ``jnp.linalg.eigh``: time and error.

Part 2: the 1.06M-parameter MLP (256-1024-768-10, tanh, MSE) on a batch of 32, top 10:

- ``hessian.eigenvalues(tol=1e-6)``: first call (compilation included) and the warm
  median, the Hessian-vector products (HVPs) it used, the restarts;
- the same number of HVPs alone (one compiled loop): the time inside the HVPs; and
  the same Lanczos loop alone (as many steps, on a diagonal operator): the time
  outside them (reorthogonalisation, Ritz values, restarts);
- fixed-depth Lanczos as ``hessian.eigenvalues`` ran it before (matfree's
  ``tridiag_sym``, full reorthogonalisation, 60 matvecs, no stopping rule);
- errors against a float64 reference (``tol=1e-10``), the residual estimates
  ``|beta s|`` that the stopping rule reads and the explicit ``||H y - theta y||``
  of the returned float32 vectors (at the rounding level of a float32 HVP);
- PyHessian (power iteration with deflation, its defaults) when ``torch`` and
  ``pyhessian`` are installed (the optional ``jaxorth[peers]``); skipped otherwise.

    python benchmarks/hessian_topk.py [--quick] [--tol 1e-6] [--repeats 3]
"""

import argparse
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from _mlp import make_loss, mlp
from _timing import header, interleaved, print_table, timed
from jax.flatten_util import ravel_pytree
from matfree import decomp

from jaxorth import hessian as hs


def setup(sizes, batch):
    params = mlp(jax.random.PRNGKey(0), sizes)
    x = jax.random.normal(jax.random.PRNGKey(1), (batch, sizes[0]))
    y = jax.random.normal(jax.random.PRNGKey(2), (batch, sizes[-1]))
    return make_loss(x, y), params, sum(w.size + b.size for w, b in params), (x, y)


def flat_hvp(loss, params):
    """``u -> H u`` on flat vectors (linearised once, as ``hessian.eigenvalues`` does)."""
    flat, unravel = ravel_pytree(params)
    lin = hs.hvp_fn(loss, params)
    return lambda u: ravel_pytree(lin(unravel(u)))[0], flat


def hvps_only(loss, count):
    """``count`` HVPs in one compiled loop, each normalised (as a Lanczos step's vector)."""

    def run(params, v):
        mv, _ = flat_hvp(loss, params)
        return jax.lax.fori_loop(0, count, lambda i, u: mv(u / jnp.linalg.norm(u)), v)

    return jax.jit(run)


def matfree_fixed_depth(loss, k, depth):
    """The previous ``hessian.eigenvalues``: matfree Lanczos, ``depth`` matvecs, top ``k``."""

    def run(params, v0):
        mv, _ = flat_hvp(loss, params)
        _, T, _, _ = decomp.tridiag_sym(depth, reortho="full", custom_vjp=False)(mv, v0)
        return jnp.linalg.eigvalsh(T)[::-1][:k]

    return jax.jit(run)


def explicit_residuals(loss, params, res):
    """``||H y_i - theta_i y_i||`` of the returned pairs, by ``k`` HVPs (vmapped)."""
    mv, _ = flat_hvp(loss, params)
    Y = jax.vmap(lambda t: ravel_pytree(t)[0])(res.eigenvectors)
    return jnp.linalg.norm(jax.vmap(mv)(Y) - res.eigenvalues[:, None] * Y, axis=1)


def pyhessian_top(params, data, k):
    """PyHessian's top-``k`` (its defaults: maxIter=100, tol=1e-3), or ``None`` if absent."""
    try:
        import torch
        from pyhessian import hessian as pyh
    except ImportError:
        return None
    torch.set_num_threads(2)
    layers = []
    for i, (w, b) in enumerate(params):
        lin = torch.nn.Linear(*w.shape)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.asarray(w).T.copy()))
            lin.bias.copy_(torch.from_numpy(np.asarray(b).copy()))
        layers += [lin] if i == len(params) - 1 else [lin, torch.nn.Tanh()]
    model = torch.nn.Sequential(*layers)
    x, y = (torch.from_numpy(np.asarray(a).copy()) for a in data)
    times, values = [], None
    for _ in range(2):  # the second run is reported (the first warms torch up)
        t0 = time.perf_counter()
        values, _ = pyh(model, torch.nn.MSELoss(), data=(x, y), cuda=False).eigenvalues(top_n=k)
        times.append(time.perf_counter() - t0)
    return np.sort(np.asarray(values))[::-1], times[-1]


def lanczos_alone(n, k, count):
    """The same Lanczos loop, ``count`` steps, on a diagonal operator: the cost outside HVPs.

    The restarts fall at the same steps (a fixed basis size, no early stop), so this
    is the reorthogonalisation, Ritz values and restarts of the HVP run, on a product
    that costs one multiplication per entry.
    """
    d = jnp.linspace(1.0, 2.0, n) ** 8

    f = jax.jit(lambda v0: hs.eigsh(lambda v: d * v, v0, k, tol=1e-30, num_matvecs=count))

    def run(v0):
        with warnings.catch_warnings():  # tol 1e-30: not converged, by design
            warnings.simplefilter("ignore", RuntimeWarning)
            return jax.block_until_ready(f(v0))

    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    k, tol = 10, args.tol
    small = ([8, 16, 4], 32) if args.quick else ([32, 48, 16], 64)
    big = ([64, 128, 10], 16) if args.quick else ([256, 1024, 768, 10], 32)
    reps = 1 if args.quick else args.repeats

    header(f"k={k}, tol={tol:g}, median of {reps} interleaved warm runs")

    # ---- part 1: against the dense Hessian
    loss, params, n, _ = setup(*small)
    lanczos = jax.jit(lambda p: hs.eigenvalues(loss, p, k, tol=tol))
    dense = jax.jit(lambda p: jnp.linalg.eigh(hs.dense(loss, p))[0][::-1][:k])
    t = interleaved({"lanczos": lambda: lanczos(params), "dense": lambda: dense(params)}, reps)
    ev_l, ev_d = np.asarray(lanczos(params)), np.asarray(dense(params))
    err = float(np.max(np.abs(ev_l - ev_d)) / np.abs(ev_d).max())
    tl, td = t["lanczos"].median, t["dense"].median
    print_table(
        [
            {"params": n, "method": "dense eigh", "time s": f"{td:.3f}", "top-10 rel err": "-"},
            {
                "params": n,
                "method": f"eigenvalues tol={tol:g}",
                "time s": f"{tl:.3f}",
                "top-10 rel err": f"{err:.1e}",
            },
        ],
        title=f"dense fits: eigenvalues / dense = {tl / td:.3f}",
    )

    # ---- part 2: the 1.06M-parameter MLP
    loss, params, n, data = setup(*big)
    f = jax.jit(lambda p: hs.eigenvalues(loss, p, k, tol=tol, return_eigenvectors=True))
    res, first = timed(f, params)
    count = int(res.num_matvecs)
    only = hvps_only(loss, count)
    old = matfree_fixed_depth(loss, k, 60)
    v0 = ravel_pytree(params)[0]
    alone = lanczos_alone(n, k, count)
    t = interleaved(
        {
            "eigenvalues": lambda: f(params),
            "hvps": lambda: only(params, v0),
            "lanczos": lambda: alone(v0),
            "matfree": lambda: old(params, v0),
        },
        reps,
    )
    theta = np.asarray(res.eigenvalues)
    explicit = np.asarray(explicit_residuals(loss, params, res))

    # the float64 reference: the same point and batch in float64, tol 1e-10
    with jax.enable_x64(True):
        to64 = lambda a: jnp.asarray(a, jnp.float64)  # noqa: E731
        params64 = jax.tree_util.tree_map(to64, params)
        loss64 = make_loss(*(to64(a) for a in data))
        t0 = time.perf_counter()
        ref = hs.eigenvalues(loss64, params64, k, tol=1e-10, return_eigenvectors=True)
        ref_time = time.perf_counter() - t0
        lam = np.asarray(ref.eigenvalues)
        ref_res = float(np.max(np.asarray(ref.residuals)) / abs(lam[0]))
        ref_mv = int(ref.num_matvecs)
    rel = lambda v: float(np.max(np.abs(np.asarray(v) - lam) / np.abs(lam)))  # noqa: E731

    te, th, tm = t["eigenvalues"].median, t["hvps"].median, t["matfree"].median
    tz = t["lanczos"].median
    rows = [
        {
            "method": f"eigenvalues tol={tol:g}",
            "HVPs": count,
            "restarts": int(res.num_restarts),
            "first call s": f"{first:.2f}",
            "warm s": f"{te:.2f}",
            "its HVPs alone s": f"{th:.2f}",
            "its Lanczos alone s": f"{tz:.2f}",
            "max res est / theta_1": f"{float(res.residuals.max()) / theta[0]:.1e}",
            "max explicit res / theta_1": f"{explicit.max() / theta[0]:.1e}",
            "max rel err vs f64": f"{rel(theta):.1e}",
        },
        {
            "method": "matfree tridiag_sym, 60 matvecs (before)",
            "HVPs": 60,
            "restarts": 0,
            "first call s": f"{t['matfree'].first:.2f}",
            "warm s": f"{tm:.2f}",
            "its HVPs alone s": "-",
            "its Lanczos alone s": "-",
            "max res est / theta_1": "-",
            "max explicit res / theta_1": "-",
            "max rel err vs f64": f"{rel(old(params, v0)):.1e}",
        },
    ]
    peer = pyhessian_top(params, data, k)
    if peer is None:
        print("PyHessian: torch / pyhessian not installed, skipped")
    else:
        values, seconds = peer
        rows.append(
            {
                "method": "PyHessian (power iteration, maxIter=100, tol=1e-3)",
                "HVPs": "-",
                "restarts": "-",
                "first call s": "-",
                "warm s": f"{seconds:.2f}",
                "its HVPs alone s": "-",
                "its Lanczos alone s": "-",
                "max res est / theta_1": "-",
                "max explicit res / theta_1": "-",
                "max rel err vs f64": f"{rel(values):.1e}",
            }
        )
    print_table(
        rows,
        title=(
            f"{n} parameters, batch {big[1]}, top {k}: one HVP {1e3 * th / count:.1f} ms, "
            f"one Lanczos step outside it {1e3 * tz / count:.1f} ms; (HVPs + Lanczos alone) / "
            f"eigenvalues {(th + tz) / te:.2f}; eigenvalues / matfree-60 {te / tm:.2f}"
        ),
    )
    print("every warm run, s:", {name: [round(x, 2) for x in v.times] for name, v in t.items()})
    print(
        f"float64 reference: {ref_mv} HVPs, max res / theta_1 {ref_res:.1e}, "
        f"{ref_time:.1f} s (first call)"
    )
    print("top-10 (float32):", np.round(theta, 6))
    print("top-10 (float64):", np.round(lam, 6))
    gaps = np.abs(np.diff(lam))
    print(f"relative errors: {np.round(np.abs(theta - lam) / np.abs(lam), 9)}")
    print(f"smallest gap among the top 10: {gaps.min():.2e}")


if __name__ == "__main__":
    main()
