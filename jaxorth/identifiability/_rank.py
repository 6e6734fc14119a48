r"""The rank of the parameter Jacobian on a sample, and the local identifiability tests.

For a sample ``X = (x_1, ..., x_n)`` let ``F(theta) = (f_theta(x_i))_i`` in
``R^{n d_L}`` and ``J = dF/dtheta`` (``n d_L x E``). Bona-Pellissier, Bachoc,
Malgouyres, "Local identifiability of deep ReLU neural networks: the theory" (NeurIPS
2022, arXiv 2206.07424) reduce *local identifiability* (every ``theta'`` close enough
to ``theta`` with ``F(theta') = F(theta)`` is ``theta`` up to the permutations and
positive rescalings of :mod:`._symmetry`) to rank conditions on such matrices; see
:func:`jacobian_rank` for what each verdict proves.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxorth._checks import one_of, positive_int, positive_number
from jaxorth._precision import float64

from ._networks import Params, _Inputs, check_inputs, check_params

__all__ = ["DENSE_ENTRIES", "MAX_KINK_PATTERNS", "RankReport", "jacobian_rank"]

#: Largest ``n d_L * E`` for which ``method="auto"`` forms ``J`` and takes its SVD.
DENSE_ENTRIES = 4_000_000
#: One-sided activation patterns used per sample on a kink by the necessary test.
MAX_KINK_PATTERNS = 16


@dataclasses.dataclass(frozen=True, eq=False)
class RankReport:
    """What :func:`jacobian_rank` found; ``str(report)`` reads it, ``summary()`` tabulates it.

    Layers are numbered as in the paper: hidden layer ``l`` (``1 <= l <= L-1``) has its
    incoming weights in ``params[l-1]``; neurons and samples are numbered from 0.

    Examples
    --------
    >>> import jax
    >>> from jaxorth.identifiability import jacobian_rank, random_params
    >>> params = random_params(jax.random.key(0), [2, 5, 1])
    >>> report = jacobian_rank(params, jax.random.normal(jax.random.key(1), (200, 2)))
    >>> report.n_parameters, report.n_hidden, report.dead, report.necessary
    (21, 5, (), True)
    >>> print(str(report).splitlines()[0])
    rank J = 16 of E - N_h = 16 (E = 21, N_h = 5; 200 samples, 200 outputs; ...)
    """

    rank: int  # numerical rank of J (singular values > tol)
    n_parameters: int  # E
    n_hidden: int  # N_h
    upper_bound: int  # E - N_h
    n_samples: int  # n
    n_outputs: int  # n * d_L, the rows of J
    tol: float  # threshold on the singular values
    singular_values: np.ndarray  # of J, descending, length min(E, n d_L)
    activity: tuple[np.ndarray, ...]  # per hidden layer: fraction of samples with z > 0
    dead: tuple[tuple[int, int], ...]  # (layer, neuron) with activity 0
    always_active: tuple[tuple[int, int], ...]  # (layer, neuron) with activity 1
    min_abs_preactivation: float  # min |z| over samples and hidden neurons (inf if none)
    kinks: tuple[tuple[int, int, int], ...]  # (sample, layer, neuron) with |z| <= kink_tol
    kink_tol: float
    sufficient: bool
    sufficient_reason: str  # "" when the sufficient condition holds
    necessary: bool
    necessary_reason: str  # "" when the necessary condition holds
    necessary_rank: int  # rank of the augmented matrix (= rank without kinks)
    method: str  # "svd" or "gram"
    patterns_capped: bool  # some kink sample had more one-sided patterns than were used

    def summary(self) -> dict[str, Any]:
        """The scalar facts as a flat dict (one table row)."""
        return {
            "n_samples": self.n_samples,
            "E": self.n_parameters,
            "N_h": self.n_hidden,
            "E - N_h": self.upper_bound,
            "rank": self.rank,
            "necessary_rank": self.necessary_rank,
            "n_dead": len(self.dead),
            "n_always_active": len(self.always_active),
            "n_kinks": len(self.kinks),
            "min_abs_preactivation": self.min_abs_preactivation,
            "sufficient": self.sufficient,
            "necessary": self.necessary,
            "tol": self.tol,
            "method": self.method,
        }

    def __str__(self) -> str:  # noqa: D105
        lines = [
            f"rank J = {self.rank} of E - N_h = {self.upper_bound} (E = {self.n_parameters}, "
            f"N_h = {self.n_hidden}; {self.n_samples} samples, {self.n_outputs} outputs; "
            f"tol = {self.tol:.2e}, {self.method})",
            f"dead neurons: {list(self.dead) or 'none'}; always active: "
            f"{list(self.always_active) or 'none'}",
            f"min |pre-activation| = {self.min_abs_preactivation:.3e}; kinks: "
            f"{len(self.kinks)} (kink_tol = {self.kink_tol:.1e})",
            "sufficient condition: "
            + ("holds" if self.sufficient else f"fails: {self.sufficient_reason}"),
            f"necessary condition (augmented rank {self.necessary_rank}): "
            + ("holds" if self.necessary else f"fails: {self.necessary_reason}"),
        ]
        return "\n".join(lines)


def _single(theta: jax.Array, x: jax.Array, mask: jax.Array, on: jax.Array, dims: tuple) -> Any:
    """``f_theta(x)`` for one sample, the hidden neurons with ``mask`` set forced linear.

    A forced neuron computes ``on * z`` (``on`` in {0, 1}): the network of one side of
    that neuron's kink; its derivative is the one-sided Jacobian.
    """
    h = x
    off = 0
    k = 0
    n_layers = len(dims) - 1
    for i in range(n_layers):
        d_in, d_out = dims[i], dims[i + 1]
        w = theta[off : off + d_out * d_in].reshape(d_out, d_in)
        off += d_out * d_in
        b = theta[off : off + d_out]
        off += d_out
        z = w @ h + b
        if i < n_layers - 1:
            m, o = mask[k : k + d_out], on[k : k + d_out]
            k += d_out
            h = jnp.where(m > 0, o * z, jax.nn.relu(z))
        else:
            h = z
    return h


@functools.partial(jax.jit, static_argnames="dims")
def _jacobian_rows(theta, xs, masks, ons, weights, dims):
    fn = functools.partial(_single, dims=dims)
    jac = jax.vmap(jax.jacrev(fn), in_axes=(None, 0, 0, 0))(theta, xs, masks, ons)
    return (jac * weights[:, None, None]).reshape(-1, theta.shape[0])


def _spectrum(
    theta: jax.Array,
    xs: np.ndarray,
    masks: np.ndarray,
    ons: np.ndarray,
    dims: tuple[int, ...],
    method: str,
    block_size: int | None,
) -> tuple[np.ndarray, str]:
    """Singular values of the rows of every (x, mask, on), descending; and the method."""
    n_rows = xs.shape[0]
    d_out, e = dims[-1], theta.shape[0]
    m = n_rows * d_out
    if method == "auto":
        method = "svd" if m * e <= DENSE_ENTRIES else "gram"
    if block_size is None:
        block_size = max(1, DENSE_ENTRIES // (d_out * e))
    # blocks of a power-of-two size (>= 8): one compilation serves many sample counts
    block = min(block_size, max(8, 1 << (n_rows - 1).bit_length()))
    n_blocks = -(-n_rows // block)
    pad = n_blocks * block - n_rows

    def padded(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a, np.zeros((pad, *a.shape[1:]), a.dtype)])

    xs_p, masks_p, ons_p = padded(xs), padded(masks), padded(ons)
    weights_p = padded(np.ones(n_rows))

    def rows(j: int) -> np.ndarray:
        sl = slice(j * block, (j + 1) * block)
        return np.asarray(
            _jacobian_rows(theta, xs_p[sl], masks_p[sl], ons_p[sl], weights_p[sl], dims)
        )

    if method == "svd":
        jac = np.concatenate([rows(j) for j in range(n_blocks)])[:m]
        return np.linalg.svd(jac, compute_uv=False), method
    import scipy.linalg  # on first use: 0.25 s of import that most callers never need
    import scipy.linalg.blas

    # one Fortran-ordered Gram matrix, updated in place: only its lower triangle is
    # written (BLAS syrk for the diagonal blocks) and read (LAPACK's eigenvalues)
    if m > e:  # G = J^T J (E x E), accumulated over blocks
        gram = np.zeros((e, e), order="F")
        for j in range(n_blocks):
            jb = rows(j)
            gram = scipy.linalg.blas.dsyrk(
                1.0, jb.T, beta=1.0, c=gram, trans=0, lower=1, overwrite_c=1
            )
    else:  # K = J J^T (n d_L x n d_L); block pairs, each block recomputed: two held at once
        rb = block * d_out
        gram = np.zeros((m, m), order="F")
        for a in range(n_blocks):
            ja = rows(a)[: m - a * rb]
            sa = slice(a * rb, a * rb + ja.shape[0])
            gram[sa, sa] = scipy.linalg.blas.dsyrk(1.0, ja, trans=0, lower=1)
            for b in range(a):
                gram[sa, b * rb : (b + 1) * rb] = ja @ rows(b).T
    lam = scipy.linalg.eigh(
        gram, lower=True, eigvals_only=True, overwrite_a=True, check_finite=False, driver="evd"
    )[::-1]
    return np.sqrt(np.clip(lam, 0.0, None)), method


def _numpy_pre_activations(
    params: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray
) -> list[np.ndarray]:
    """Hidden pre-activations in numpy float64 (no XLA compilation per shape)."""
    h, pre = x, []
    for w, b in params[:-1]:
        z = h @ w.T + b[None, :]
        pre.append(z)
        h = np.maximum(z, 0.0)
    return pre


def _patterns(k: int) -> tuple[list[tuple[int, ...]], bool]:
    """On/off patterns of ``k`` kink neurons: all ``2^k`` up to the cap, else a subset."""
    if 2**k <= MAX_KINK_PATTERNS:
        return list(itertools.product((0, 1), repeat=k)), False
    pats = [(0,) * k, (1,) * k]
    r = (MAX_KINK_PATTERNS - 2) // 2
    for j in range(min(k, r)):
        pats.append(tuple(int(i == j) for i in range(k)))
        pats.append(tuple(int(i != j) for i in range(k)))
    return pats, True


def _where(layer_of: np.ndarray, index_of: np.ndarray, flat: int | np.integer) -> tuple[int, int]:
    return int(layer_of[flat]), int(index_of[flat])


def jacobian_rank(
    params: Params,
    X: _Inputs,
    *,
    tol: float | None = None,
    kink_tol: float | None = None,
    block_size: int | None = None,
    method: str = "auto",
) -> RankReport:
    r"""The rank of ``J = d(f_theta(x_i))_i / d theta`` and the local identifiability tests.

    Computed in float64 whatever the dtype of ``params`` and ``X`` (the values are
    converted; ``jaxorth._precision.float64`` is on during the call). Eager only (not under
    ``jit``).

    **The rank.** ``method="svd"`` forms ``J`` (``n d_L x E``) and takes its singular
    values; ``method="gram"`` never holds ``J``: the rows are computed in blocks of
    ``block_size`` samples (per-sample reverse-mode Jacobians, ``vmap`` of ``jacrev``)
    and accumulated into ``G = J^T J`` (``E x E``) when ``n d_L > E``, else into ``K =
    J J^T`` (``n d_L x n d_L``, two blocks held at a time); the singular values are
    ``sqrt(max(eig, 0))``. ``"auto"`` (default) uses ``"svd"`` when ``n d_L E <=``
    :data:`DENSE_ENTRIES` and ``"gram"`` beyond. Default ``block_size``: the samples of
    about :data:`DENSE_ENTRIES` entries of ``J`` (32 MB). The rank counts the singular
    values ``> tol``. Default ``tol``: numpy's ``matrix_rank`` rule ``s_max max(M, E)
    eps`` (``M = n d_L``) on the SVD path; on the Gram path the eigenvalues of ``G``
    carry an absolute error of order ``eps s_max^2``, so singular values below about
    ``sqrt(eps) s_max`` cannot be told from 0 there, and the default is ``s_max
    sqrt(max(M, E) eps)`` (e.g. ``1.5e-6 s_max`` for ``M, E ~ 10^4``): a Jacobian whose
    genuine singular values are smaller than that (an ill-conditioned deep network)
    is reported rank deficient on that path; compare with ``method="svd"`` when it
    fits.

    **Facts.** ``E``, ``N_h``, the bound ``E - N_h``, the activity of every hidden neuron
    (fraction of samples with pre-activation ``z > 0``), the dead neurons (activity 0:
    their incoming parameters, and their outgoing ones, do not affect ``F`` locally)
    and the always active ones (activity 1: the layer acts linearly on the sample for
    them, which can create symmetries beyond rescaling in deep networks), the smallest
    ``|z|`` and the kinks ``|z| <= kink_tol`` (default ``1e-9 (1 + max |z|)``: a
    perturbation of ``theta`` of about that size can switch the neuron on that sample,
    so the Jacobian there describes ``F`` only on one side). At an exact kink ``J`` uses
    JAX's ``relu'(0) = 0``.

    **The bound.** Without kinks, ``F`` is constant along the ``N_h``-dimensional orbit
    of positive rescalings (``relu(s t) = s relu(t)``), whose tangent vectors
    ``(W_l[j,:], b_l[j], -W_{l+1}[:,j])`` lie in ``ker J``; they are linearly
    independent when every hidden neuron has a nonzero incoming ``(W_l[j,:], b_l[j])``
    (induction from the first layer: the tangents of layer ``l`` are the only ones that
    touch the rows of layer ``l``'s biases and, once the earlier coefficients vanish,
    its weights), which holds without kinks (a zero neuron has ``z = 0`` everywhere). So
    ``rank J <= E - N_h``.

    **Sufficient condition** (``sufficient``; NeurIPS 2022): no sample on a kink and
    ``rank J = E - N_h``. Then ``theta`` is locally identifiable from ``X``. Proof sketch
    (elementary, with the statement from the paper): without kinks the activation
    pattern on ``X`` is constant near ``theta``, so ``F`` is polynomial there with rank
    ``<= E - N_h`` everywhere and ``= E - N_h`` at ``theta``, hence constant rank on a
    neighbourhood; by the constant rank theorem the fibre ``F^{-1}(F(theta))`` is
    locally an ``N_h``-dimensional submanifold, which contains the rescaling orbit
    (``N_h``-dimensional, the tangents being independent): near ``theta`` they
    coincide. The verdict is only as good as the numerical rank (``tol``).

    **Necessary condition** (``necessary``): all of

    1. ``n d_L >= E - N_h`` (dimension count): ``F`` is continuous (piecewise
       polynomial), and near ``theta`` the positive rescalings act freely (no hidden
       neuron with a zero incoming row and bias), so a slice transversal to their
       orbits is an ``(E - N_h)``-dimensional manifold; a continuous map from it into
       ``R^{n d_L}`` with ``n d_L < E - N_h`` has infinite fibres through points
       arbitrarily close to ``theta`` (dimension theory), while equivalent points on
       the slice near ``theta`` are finitely many (permutations): not locally
       identifiable;
    2. no hidden neuron strictly inactive on the whole sample (``z < -kink_tol`` on
       every ``x_i``): a small change of its incoming row and bias that is not a
       rescaling keeps it inactive on the finite sample, so ``F`` does not change,
       while the parameters are no longer equivalent (when the neuron is not a copy of
       another one of its layer); it also lowers ``rank J``;
    3. the augmented rank equals ``E - N_h``: the matrix of the rows of ``J`` at the
       samples off the kinks and, at every sample on a kink, the rows of the one-sided
       Jacobians of each on/off pattern of its kink neurons (all ``2^k`` patterns for
       ``k <= 4`` kink neurons on that sample, :data:`MAX_KINK_PATTERNS` of them
       beyond: ``patterns_capped`` is then set and a failure may be spurious). Without
       kinks this matrix is ``J``. That this rank condition is *necessary* for local
       identifiability is the paper's theorem (its geometric necessary condition on
       the tangent spaces of the local lifting, NeurIPS 2022); it is not re-proven
       here, and this augmented matrix is our reading of the one-sided Jacobians it
       involves.

    ``necessary=False`` therefore means "not locally identifiable" (by 1, 2, or by the
    paper's theorem for 3); ``sufficient=True`` means "locally identifiable";
    ``necessary and not sufficient`` is undecided. ``ValueError`` before compute for
    malformed ``params`` (:func:`~jaxorth.identifiability.check_params`) or ``X`` (not
    ``(n, d_0)``, non-finite).

    Examples
    --------
    >>> import jax
    >>> from jaxorth.identifiability import jacobian_rank, random_params
    >>> params = random_params(jax.random.key(0), [2, 5, 1])
    >>> X = jax.random.normal(jax.random.key(1), (200, 2))
    >>> report = jacobian_rank(params, X)
    >>> report.rank, report.upper_bound  # E - N_h = 21 - 5
    (16, 16)
    >>> report.sufficient  # no sample on a kink and full rank: locally identifiable
    True
    """
    dims = check_params(params)
    check_inputs(X, dims[0], "X")
    if tol is not None:
        tol = positive_number(tol, "tol")
    if kink_tol is not None:
        kink_tol = positive_number(kink_tol, "kink_tol")
    if block_size is not None:
        block_size = positive_int(block_size, "block_size")
    one_of(method, "method", ("auto", "svd", "gram"))
    if np.shape(X)[0] < 1:
        raise ValueError(f"X must hold at least one sample, got shape {np.shape(X)}")

    n = int(np.shape(X)[0])
    d_out = dims[-1]
    e = sum(a * (b + 1) for b, a in zip(dims[:-1], dims[1:]))
    hidden = dims[1:-1]
    n_h = sum(hidden)
    bound = e - n_h
    m = n * d_out

    with float64():
        p64 = [(np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in params]
        x64 = np.asarray(X, np.float64)
        theta = jnp.asarray(np.concatenate([np.concatenate([w.ravel(), b]) for w, b in p64]))
        pre = _numpy_pre_activations(p64, x64)
        z_all = np.concatenate(pre, axis=1) if pre else np.zeros((n, 0))
        layer_of = np.concatenate([np.full(d, l + 1) for l, d in enumerate(hidden)] or [[]])
        index_of = np.concatenate([np.arange(d) for d in hidden] or [[]])
        abs_z = np.abs(z_all)
        max_abs = float(abs_z.max()) if abs_z.size else 0.0
        min_abs = float(abs_z.min()) if abs_z.size else math.inf
        if kink_tol is None:
            kink_tol = 1e-9 * (1.0 + max_abs)
        on_kink = abs_z <= kink_tol
        kinks = tuple(
            (int(s), *_where(layer_of, index_of, int(k))) for s, k in np.argwhere(on_kink)
        )
        active = (z_all > 0).mean(axis=0)
        activity = tuple(
            active[sum(hidden[:l]) : sum(hidden[: l + 1])].copy() for l in range(len(hidden))
        )
        dead = tuple(_where(layer_of, index_of, k) for k in np.flatnonzero(active == 0))
        always = tuple(_where(layer_of, index_of, k) for k in np.flatnonzero(active == 1))
        strictly_dead = [
            _where(layer_of, index_of, k) for k in np.flatnonzero((z_all < -kink_tol).all(axis=0))
        ]

        zeros = np.zeros((n, n_h))
        sv, used = _spectrum(theta, x64, zeros, zeros, dims, method, block_size)
        s_max = float(sv[0]) if sv.size else 0.0
        eps = np.finfo(np.float64).eps

        def threshold(s_top: float, rows: int, how: str) -> float:
            if tol is not None:
                return tol
            if how == "svd":
                return s_top * max(rows, e) * eps
            return s_top * math.sqrt(max(rows, e) * eps)

        used_tol = threshold(s_max, m, used)
        rank = int((sv > used_tol).sum())

        capped = False
        if kinks:
            kink_samples = np.flatnonzero(on_kink.any(axis=1))
            xs = [x64[~on_kink.any(axis=1)]]
            masks = [np.zeros((xs[0].shape[0], n_h))]
            ons = [np.zeros((xs[0].shape[0], n_h))]
            for s in kink_samples:
                where = np.flatnonzero(on_kink[s])
                pats, cut = _patterns(len(where))
                capped = capped or cut
                mask = np.zeros((len(pats), n_h))
                mask[:, where] = 1.0
                on = np.zeros((len(pats), n_h))
                on[:, where] = np.asarray(pats, dtype=np.float64)
                xs.append(np.repeat(x64[s][None], len(pats), axis=0))
                masks.append(mask)
                ons.append(on)
            xs_a, masks_a, ons_a = (np.concatenate(a) for a in (xs, masks, ons))
            sv_a, used_a = _spectrum(theta, xs_a, masks_a, ons_a, dims, method, block_size)
            tol_a = threshold(float(sv_a[0]) if sv_a.size else 0.0, xs_a.shape[0] * d_out, used_a)
            necessary_rank = int((sv_a > tol_a).sum())
        else:
            necessary_rank = rank

    def neuron(layer: int, j: int) -> str:
        return f"(layer {layer}, neuron {j})"

    def dead_note() -> str:
        notes = []
        for layer, j in dead[:5]:
            d_prev, d_next = dims[layer - 1], dims[layer + 1]
            notes.append(
                f"{neuron(layer, j)} frees its d_{layer - 1} + 1 = {d_prev + 1} incoming and "
                f"d_{layer + 1} = {d_next} outgoing parameters (up to {d_prev + d_next} "
                f"directions beyond its rescaling)"
            )
        more = f" and {len(dead) - 5} more" if len(dead) > 5 else ""
        return "dead on the sample: " + "; ".join(notes) + more

    suff = []
    if kinks:
        s, layer, j = kinks[0]
        a = float(abs_z[s, int(np.flatnonzero((layer_of == layer) & (index_of == j))[0])])
        n_ks = len({k[0] for k in kinks})
        suff.append(
            f"sample {s} lies on a kink of neuron {neuron(layer, j)}: |pre-activation| = "
            f"{a:.1e} <= kink_tol = {kink_tol:.1e}; the Jacobian is not defined there"
            + (f" ({len(kinks)} kinks on {n_ks} samples in all)" if len(kinks) > 1 else "")
        )
    if rank < bound:
        text = (
            f"rank {rank} < E - N_h = {bound}: the sample leaves {bound - rank} "
            f"direction(s) of parameters unseen (beyond the {n_h} rescalings)"
        )
        if m < bound:
            text += f"; n * d_L = {m} outputs < E - N_h = {bound}: too few samples"
        if dead:
            text += "; " + dead_note()
        suff.append(text)
    elif rank > bound:
        suff.append(
            f"rank {rank} > E - N_h = {bound}: above the bound, so tol = {used_tol:.1e} is "
            f"too small for these singular values (or a sample is on a kink)"
        )
    nec = []
    if m < bound:
        nec.append(
            f"n * d_L = {n} * {d_out} = {m} outputs < E - N_h = {bound}: too few samples to "
            f"determine {bound} parameters modulo rescaling"
        )
    if strictly_dead:
        layer, j = strictly_dead[0]
        more = f" (and {len(strictly_dead) - 1} more)" if len(strictly_dead) > 1 else ""
        nec.append(
            f"neuron {neuron(layer, j)}{more} is inactive on every sample (pre-activation < "
            f"-kink_tol): its {dims[layer - 1] + 1} incoming parameters can move freely"
        )
    if necessary_rank < bound:
        nec.append(
            f"augmented rank {necessary_rank} < E - N_h = {bound}"
            + (
                f" (one-sided patterns capped at {MAX_KINK_PATTERNS} per kink sample: the "
                f"full test might pass)"
                if capped
                else ""
            )
        )
    return RankReport(
        rank=rank,
        n_parameters=e,
        n_hidden=n_h,
        upper_bound=bound,
        n_samples=n,
        n_outputs=m,
        tol=float(used_tol),
        singular_values=sv,
        activity=activity,
        dead=dead,
        always_active=always,
        min_abs_preactivation=min_abs,
        kinks=kinks,
        kink_tol=float(kink_tol),
        sufficient=not suff,
        sufficient_reason="; ".join(suff),
        necessary=not nec,
        necessary_reason="; ".join(nec),
        necessary_rank=necessary_rank,
        method=used,
        patterns_capped=capped,
    )
