r"""Certified output bounds of a feed-forward network over axis-aligned boxes.

The network is ``f(x) = W_L act(... act(W_1 x + b_1) ...) + b_L`` (the activation after
every layer but the last), given as a plain list of dense layers ``[(W_1, b_1), ...,
(W_L, b_L)]`` with ``W_l`` of shape ``(out, in)``. For a batch of boxes ``[l_i, u_i]``
both functions return ``lo_i <= min f`` and ``hi_i >= max f`` over each box:

- :func:`interval_bounds`: interval bound propagation (IBP; Gowal et al., "On the
  effectiveness of interval bound propagation for training verifiably robust models",
  2018, eq. 6): an interval in centre/radius form ``(c, r)`` goes through an affine
  layer as ``(W c + b, |W| r)`` (computed from the ends, see :func:`interval_bounds`),
  and a non-decreasing activation maps the ends.
- :func:`crown_bounds`: backward linear relaxation (CROWN, Zhang et al., "Efficient
  neural network robustness certification with general activation functions",
  NeurIPS 2018; the same relaxation as DeepPoly, Singh et al., POPL 2019), intersected
  with IBP so that it is never looser.

This is the "second route" to a certified overestimator (the one a decomon or
auto_LiRPA user takes): a certified lower bound of an unconstrained network over each
cell instead of monotonicity.

Floating point: the bounds are sound in exact arithmetic; every product runs at
``Precision.HIGHEST`` (no TF32/bf16 passes on accelerators), but no outward rounding is
done, so a bound can be off by rounding errors of the order of ``eps * sum |terms|``
(about ``1e-16`` relative in float64, ``1e-7`` in float32). A certificate built on them
should be computed in float64 or keep a margin of that size. A float64 box given as a
numpy array while float64 is off is rounded *outward* to float32 (lower down, upper
up), so the box that is bounded always contains the box that was asked for.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, ArrayLike, Float, Real

from jaxorth._checks import finite, one_of, real

__all__ = ["ACTIVATIONS", "Layers", "crown_bounds", "interval_bounds"]

Layers = Sequence[tuple[ArrayLike, ArrayLike]]
"""``[(W_1, b_1), ..., (W_L, b_L)]``, ``W_l`` of shape ``(out, in)``, ``y = W x + b``."""

ACTIVATIONS = ("relu", "tanh", "sigmoid")
"""The activations both bounds support (all non-decreasing)."""

_HIGHEST = lax.Precision.HIGHEST
_BISECTION_STEPS = 20  # tangent point of tanh to within 1e-6 of the pre-activation bound


# --------------------------------------------------------------------------- helpers


def _act(activation: str, z: Array) -> Array:
    if activation == "relu":
        return jnp.maximum(z, 0)
    if activation == "tanh":
        return jnp.tanh(z)
    return jax.nn.sigmoid(z)


def _affine_interval(w: Array, b: Array, lo: Array, hi: Array) -> tuple[Array, Array]:
    """IBP through ``z = W x + b`` for ``x`` in ``[lo, hi]`` (rows are boxes).

    Written with the ends, ``W^+ lo + W^- hi + b <= z <= W^+ hi + W^- lo + b``, which
    is the centre/radius form ``W c + b -/+ |W| r`` in exact arithmetic but does not
    round ``c`` and ``r`` (a box of a few ulps would otherwise lose its ends).
    """
    stacked = jnp.concatenate([jnp.maximum(w, 0), jnp.minimum(w, 0)], axis=1).T  # (2 in, out)
    ends = jnp.stack([jnp.concatenate([lo, hi], 1), jnp.concatenate([hi, lo], 1)])
    z = jnp.matmul(ends, stacked, precision=_HIGHEST) + b[None, None, :]
    return z[0], z[1]


def _ordered(lo: Array, hi: Array) -> tuple[Array, Array]:
    # Two valid intervals of the same quantity always overlap in exact arithmetic; after
    # rounding, their intersection of a (near-)degenerate one can come out with lo > hi
    # by a few ulps. Swapping keeps both candidate values inside.
    return jnp.minimum(lo, hi), jnp.maximum(lo, hi)


# ---------------------------------------------------------------- linear relaxations


def _relu_lines(lo: Array, hi: Array) -> tuple[Array, Array, Array, Array]:
    r"""Lines ``aL z + bL <= relu(z) <= aU z + bU`` valid for ``z`` in ``[lo, hi]``.

    Stably inactive (``hi <= 0``): both lines are ``0``. Stably active (``lo >= 0``):
    both are ``z`` (this includes ``lo == hi``). Unstable (``lo < 0 < hi``): the upper
    line is the chord through ``(lo, 0)`` and ``(hi, hi)`` (relu is convex, so it lies
    below its chords); the lower line is ``alpha z`` with ``alpha = 1`` if
    ``hi >= -lo`` else ``0`` (CROWN's adaptive choice, Zhang et al. 2018, section 3.2;
    any ``alpha`` in ``[0, 1]`` is sound since ``alpha z <= max(z, 0)``).
    """
    active = lo >= 0
    inactive = hi <= 0
    unstable = ~(active | inactive)
    width = jnp.where(unstable, hi - lo, 1)
    chord = hi / width
    one, zero = jnp.ones_like(lo), jnp.zeros_like(lo)
    a_up = jnp.where(unstable, chord, jnp.where(active, one, zero))
    b_up = jnp.where(unstable, -chord * lo, zero)
    a_lo = jnp.where(unstable, (hi >= -lo).astype(lo.dtype), jnp.where(active, one, zero))
    return a_lo, zero, a_up, b_up


def _tanh_upper(lo: Array, hi: Array) -> tuple[Array, Array]:
    r"""A line ``a z + b >= tanh(z)`` for every ``z`` in ``[lo, hi]``.

    ``tanh`` is convex on ``(-inf, 0]`` and concave on ``[0, inf)``.

    - ``hi <= 0`` (convex part): the chord through the ends; a convex function lies
      below its chords. For ``lo == hi`` the tangent at that point (exact there).
    - ``lo >= 0`` (concave part): the tangent at the midpoint; a concave function lies
      below its tangents.
    - ``lo < 0 < hi``. Let ``t_d(z) = tanh(d) + tanh'(d)(z - d)`` be the tangent at
      ``d >= 0``. *Claim*: ``t_d >= tanh`` on ``[lo, hi]`` iff ``t_d(lo) >= tanh(lo)``.
      On ``[0, inf)`` it holds by concavity. On ``[lo, 0]``, ``h = t_d - tanh`` has
      ``h' = tanh'(d) - tanh'(z)``, which is ``> 0`` for ``z < -d`` and ``< 0`` for
      ``-d < z < 0`` (``tanh'`` is even, decreasing in ``|z|``), so the minimum of ``h``
      on ``[lo, 0]`` is at an end: ``h(lo)``, or ``h(0) = tanh(d) - d tanh'(d) >= 0``
      (concavity on ``[0, d]``). Moreover ``g(d) = t_d(lo) - tanh(lo)`` has
      ``g'(d) = tanh''(d)(lo - d) > 0`` for ``d > 0``, and ``g(0) = lo - tanh(lo) < 0``,
      so the sound tangents are those with ``d >= d*``, the root of ``g``.
      If ``g(hi) >= 0`` (``d* <= hi``), bisection on ``[0, hi]`` keeps a bracket whose
      right end has ``g >= 0``; its tangent is used (CROWN's tangent through
      ``(lo, tanh(lo))``, Zhang et al. 2018, table 1). Otherwise ``d* > hi``, which
      reads ``k <= tanh'(hi)`` for the chord slope ``k``; then the chord is sound:
      ``h = chord - tanh`` vanishes at both ends, ``h' = k - tanh' <= 0`` on
      ``[0, hi]`` (``tanh' >= tanh'(hi) >= k`` there) so ``h >= h(hi) = 0``, and ``h``
      is concave on ``[lo, 0]`` (``tanh'`` increasing) so ``h >= min(h(lo), h(0)) >= 0``.
    """
    width = hi - lo
    positive = width > 0
    t_lo, t_hi = jnp.tanh(lo), jnp.tanh(hi)
    # the chord; for lo == hi the tangent at lo
    chord_a = jnp.where(positive, (t_hi - t_lo) / jnp.where(positive, width, 1), 1 - t_lo**2)
    chord_b = t_lo - chord_a * lo

    mid = lo + width / 2
    t_mid = jnp.tanh(mid)
    mid_a = 1 - t_mid**2
    mid_b = t_mid - mid_a * mid

    def gap(d, t_d):  # g(d) = t_d(lo) - tanh(lo), with t_d = tanh(d)
        return t_d + (1 - t_d**2) * (lo - d) - t_lo

    def bisect(_, bracket):
        left, right = bracket
        centre = (left + right) / 2
        ok = gap(centre, jnp.tanh(centre)) >= 0
        return jnp.where(ok, left, centre), jnp.where(ok, centre, right)

    # the right end of the bracket always has g >= 0 (sound); more steps only tighten
    top = jnp.maximum(hi, 0)
    _, d = lax.fori_loop(0, _BISECTION_STEPS, bisect, (jnp.zeros_like(lo), top))
    t_d = jnp.tanh(d)
    tan_a = 1 - t_d**2
    tan_b = t_d - tan_a * d
    cross_chord = gap(top, jnp.tanh(top)) < 0

    convex = hi <= 0
    concave = lo >= 0
    a = jnp.where(
        convex, chord_a, jnp.where(concave, mid_a, jnp.where(cross_chord, chord_a, tan_a))
    )
    b = jnp.where(
        convex, chord_b, jnp.where(concave, mid_b, jnp.where(cross_chord, chord_b, tan_b))
    )
    return a, b


def _tanh_lines(lo: Array, hi: Array) -> tuple[Array, Array, Array, Array]:
    r"""Lower and upper lines of ``tanh`` on ``[lo, hi]``.

    The lower line comes from the upper one by oddness: if ``tanh(y) <= a y + b`` for
    ``y`` in ``[-hi, -lo]``, then ``tanh(z) = -tanh(-z) >= a z - b`` for ``z`` in
    ``[lo, hi]``.
    """
    a, b = _tanh_upper(jnp.stack([lo, -hi]), jnp.stack([hi, -lo]))
    return a[1], -b[1], a[0], b[0]


def _lines(activation: str, lo: Array, hi: Array) -> tuple[Array, Array, Array, Array]:
    """``(aL, bL, aU, bU)``: ``aL z + bL <= act(z) <= aU z + bU`` on ``[lo, hi]``."""
    if activation == "relu":
        return _relu_lines(lo, hi)
    if activation == "tanh":
        return _tanh_lines(lo, hi)
    # sigmoid(z) = (1 + tanh(z / 2)) / 2: a line a y + b of tanh on [lo/2, hi/2] gives
    # the line (a / 4) z + (1 + b) / 2 of sigmoid on [lo, hi], on the same side.
    a_lo, b_lo, a_up, b_up = _tanh_lines(lo / 2, hi / 2)
    return a_lo / 4, (1 + b_lo) / 2, a_up / 4, (1 + b_up) / 2


# ------------------------------------------------------------------------ the cores


@functools.partial(jax.jit, static_argnames=("activation",))
def _interval(weights, biases, lower, upper, activation):
    lo, hi = lower, upper
    for k, (w, b) in enumerate(zip(weights, biases, strict=True)):
        if k:
            lo, hi = _act(activation, lo), _act(activation, hi)
        lo, hi = _affine_interval(w, b, lo, hi)
    return lo, hi


def _backward(weights, biases, k, lines, ends):
    r"""CROWN bounds of the pre-activation ``z_k`` over the box.

    ``Lambda`` starts as ``[W_k; -W_k]`` (the upper bound of ``-z_k`` is minus the
    lower bound of ``z_k``, so one pass serves both) and goes back through layer
    ``j = k-1, ..., 1``: ``Lambda act(z_j) <= Lambda^+ (aU z_j + bU) + Lambda^- (aL z_j
    + bL)``, then ``z_j = W_j a_{j-1} + b_j``. At the input, ``max_{l <= x <= u}
    Lambda x + const = Lambda^+ u + Lambda^- l + const`` (Zhang et al. 2018, theorem 3.2).
    """
    w, b = weights[k], biases[k]
    m = w.shape[0]
    # first step: Lambda is the same for every box, so the per-box relaxed Lambda
    # (n, 2m, h) is never formed: Lambda^+ diag(aU) W_j = Lambda^+ (aU[:, None] W_j)
    lam0 = jnp.concatenate([w, -w])  # (2m, h)
    pos, neg = jnp.maximum(lam0, 0), jnp.minimum(lam0, 0)
    a_lo, b_lo, a_up, b_up = lines[k - 1]
    w_j, b_j = weights[k - 1], biases[k - 1]
    const = (
        jnp.concatenate([b, -b])[None]
        + jnp.matmul(b_up + a_up * b_j[None], pos.T, precision=_HIGHEST)
        + jnp.matmul(b_lo + a_lo * b_j[None], neg.T, precision=_HIGHEST)
    )
    lam = jnp.einsum(
        "mh,nhi->nmi", pos, a_up[:, :, None] * w_j[None], precision=_HIGHEST
    ) + jnp.einsum("mh,nhi->nmi", neg, a_lo[:, :, None] * w_j[None], precision=_HIGHEST)
    for j in range(k - 2, -1, -1):
        a_lo, b_lo, a_up, b_up = lines[j]
        pos, neg = jnp.maximum(lam, 0), jnp.minimum(lam, 0)
        const = (
            const
            + jnp.einsum("nmh,nh->nm", pos, b_up, precision=_HIGHEST)
            + jnp.einsum("nmh,nh->nm", neg, b_lo, precision=_HIGHEST)
        )
        lam = pos * a_up[:, None, :] + neg * a_lo[:, None, :]
        const = const + jnp.einsum("nmh,h->nm", lam, biases[j], precision=_HIGHEST)
        lam = jnp.einsum("nmh,hi->nmi", lam, weights[j], precision=_HIGHEST)
    # max over the box of lam x: lam^+ upper + lam^- lower
    both = jnp.concatenate([jnp.maximum(lam, 0), jnp.minimum(lam, 0)], axis=2)
    val = const + jnp.einsum("nmi,ni->nm", both, ends, precision=_HIGHEST)
    return -val[:, m:], val[:, :m]


@functools.partial(jax.jit, static_argnames=("activation", "with_interval"))
def _crown(weights, biases, lower, upper, activation, with_interval=True):
    ends = jnp.concatenate([upper, lower], axis=1)
    # layer 1: the interval bound is exact for one affine map
    lo, hi = _affine_interval(weights[0], biases[0], lower, upper)
    lines = []
    for k in range(1, len(weights)):
        lines.append(_lines(activation, lo, hi))
        c_lo, c_hi = _backward(weights, biases, k, lines, ends)
        if with_interval:
            # one IBP step from the (already tightened) bounds of the layer below
            i_lo, i_hi = _affine_interval(
                weights[k], biases[k], _act(activation, lo), _act(activation, hi)
            )
            c_lo, c_hi = _ordered(jnp.maximum(c_lo, i_lo), jnp.minimum(c_hi, i_hi))
        lo, hi = c_lo, c_hi
    if with_interval:
        i_lo, i_hi = _interval(weights, biases, lower, upper, activation)
        lo, hi = _ordered(jnp.maximum(lo, i_lo), jnp.minimum(hi, i_hi))
    return lo, hi


# ------------------------------------------------------------------------ the checks


def _box_array(x: ArrayLike, dtype, direction: float) -> Array:
    """``x`` in ``dtype``, rounded outward (``direction`` -inf / +inf) when narrowed."""
    if isinstance(x, jax.Array):
        return x.astype(dtype)
    arr = np.asarray(x)
    if np.issubdtype(arr.dtype, np.floating) and arr.dtype.itemsize > np.dtype(dtype).itemsize:
        narrow = arr.astype(dtype)
        wrong = narrow > arr if direction < 0 else narrow < arr
        narrow = np.where(wrong, np.nextafter(narrow, np.asarray(direction, dtype)), narrow)
        return jnp.asarray(narrow, dtype)
    return jnp.asarray(arr, dtype)


def _prepare(layers, lower, upper, activation):
    one_of(activation, "activation", ACTIVATIONS)
    if isinstance(layers, jax.Array | np.ndarray) or not isinstance(layers, Sequence):
        raise ValueError(f"layers must be a sequence of (W, b) pairs, got {type(layers).__name__}")
    if len(layers) == 0:
        raise ValueError("layers must hold at least one (W, b) pair, got an empty sequence")
    shapes = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, Sequence) or len(layer) != 2:
            got = type(layer).__name__
            got += f" of length {len(layer)}" if isinstance(layer, Sequence) else ""
            raise ValueError(f"layers[{i}] must be a pair (W, b), got a {got}")
        w_shape, b_shape = np.shape(layer[0]), np.shape(layer[1])
        if len(w_shape) != 2:
            raise ValueError(
                f"layers[{i}]: W must have shape (out, in) (y = W x + b), got shape {w_shape}"
            )
        if b_shape != (w_shape[0],):
            raise ValueError(
                f"layers[{i}]: b must have shape (out,) = ({w_shape[0]},) to match W of "
                f"shape {w_shape}, got shape {b_shape}"
            )
        if i and w_shape[1] != shapes[-1][0]:
            raise ValueError(
                f"layers[{i}] does not chain with layers[{i - 1}]: W of layers[{i}] has "
                f"shape {w_shape} (it takes {w_shape[1]} inputs) but layers[{i - 1}] has "
                f"{shapes[-1][0]} outputs (W of shape {shapes[-1]})"
            )
        shapes.append(w_shape)
    d = shapes[0][1]
    lower_shape, upper_shape = np.shape(lower), np.shape(upper)
    if len(lower_shape) != 2 or lower_shape[1] != d:
        raise ValueError(
            f"lower must have shape (n, d) with d = {d} (the input size of layers[0], W of "
            f"shape {shapes[0]}), got shape {lower_shape}"
        )
    if upper_shape != lower_shape:
        raise ValueError(
            f"upper must have the same shape (n, d) as lower, {lower_shape}, got shape "
            f"{upper_shape}"
        )
    for i, (w, b) in enumerate(layers):
        real(w, f"layers[{i}] W")
        real(b, f"layers[{i}] b")
        finite(w, f"layers[{i}] W")
        finite(b, f"layers[{i}] b")
    real(lower, "lower")
    real(upper, "upper")
    finite(lower, "lower")
    finite(upper, "upper")
    if not isinstance(lower, jax.core.Tracer) and not isinstance(upper, jax.core.Tracer):
        lo, up = np.asarray(lower), np.asarray(upper)
        bad = lo > up
        if bad.any():
            rows = np.flatnonzero(bad.any(axis=1))
            r = int(rows[0])
            c = int(np.flatnonzero(bad[r])[0])
            raise ValueError(
                f"lower must be <= upper in every entry: row {r} has lower[{r}, {c}] = "
                f"{lo[r, c].item()!r} > upper[{r}, {c}] = {up[r, c].item()!r} "
                f"({rows.size} of {lo.shape[0]} rows are not boxes)"
            )
    arrays = [a for layer in layers for a in layer] + [lower, upper]
    dtype = jnp.result_type(*(a if isinstance(a, jax.Array) else np.asarray(a) for a in arrays))
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.result_type(float)
    weights = tuple(jnp.asarray(w, dtype) for w, _ in layers)
    biases = tuple(jnp.asarray(b, dtype) for _, b in layers)
    lower = _box_array(lower, dtype, -np.inf)
    upper = _box_array(upper, dtype, np.inf)
    return weights, biases, lower, upper


def interval_bounds(
    layers: Layers,
    lower: Real[ArrayLike, "n d"],
    upper: Real[ArrayLike, "n d"],
    *,
    activation: str = "relu",
) -> tuple[Float[Array, "n out"], Float[Array, "n out"]]:
    """Interval bound propagation of a dense network over boxes (Gowal et al. 2018).

    Through ``z = W x + b`` the box with centre ``c`` and radius ``r`` goes to centre
    ``W c + b`` and radius ``|W| r`` (the exact range of each output of an affine map),
    and a non-decreasing activation maps ``[lo, hi]`` to ``[act(lo), act(hi)]``. The
    affine step is evaluated from the ends, ``[W^+ l + W^- u + b, W^+ u + W^- l + b]``
    (``W^+ = max(W, 0)``, ``W^- = min(W, 0)``), which equals ``W c + b -/+ |W| r`` but
    does not round ``c`` and ``r`` first. Cost: one ``(n, 2 in) x (2 in, out)`` product
    per layer; one compilation per shape and activation.

    Parameters
    ----------
    layers : sequence of (W, b)
        ``[(W_1, b_1), ..., (W_L, b_L)]``, ``W_l`` of shape ``(out_l, in_l)``, ``b_l`` of
        shape ``(out_l,)``, with ``in_{l+1} = out_l``. The network is
        ``x -> W_L act(... act(W_1 x + b_1) ...) + b_L``.
    lower, upper : Real[ArrayLike, "n d"]
        The ``n`` boxes, one per row, ``d = in_1``, ``lower <= upper`` entrywise
        (``lower == upper`` is allowed). Under ``jit`` the order ``lower <= upper`` and
        finiteness cannot be checked: they are the caller's contract there.
    activation : {"relu", "tanh", "sigmoid"}
        The activation after every layer but the last.

    Returns
    -------
    lo, hi : Float[Array, "n out_L"]
        ``lo[i] <= f(x) <= hi[i]`` for every ``x`` in box ``i``. Computed in the
        promoted dtype of the layers and the boxes (float64 stays float64).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.overestimate import interval_bounds
    >>> layer_1 = (jnp.array([[1.0], [-1.0]]), jnp.zeros(2))
    >>> layers = [layer_1, (jnp.array([[1.0, 1.0]]), jnp.zeros(1))]
    >>> lo, hi = interval_bounds(layers, jnp.array([[-1.0]]), jnp.array([[1.0]]))  # |x| on [-1, 1]
    >>> lo.tolist(), hi.tolist()
    ([[0.0]], [[2.0]])
    """
    weights, biases, lower, upper = _prepare(layers, lower, upper, activation)
    return _interval(weights, biases, lower, upper, activation)


def crown_bounds(
    layers: Layers,
    lower: Real[ArrayLike, "n d"],
    upper: Real[ArrayLike, "n d"],
    *,
    activation: str = "relu",
) -> tuple[Float[Array, "n out"], Float[Array, "n out"]]:
    r"""CROWN linear-relaxation bounds of a dense network over boxes, never looser than IBP.

    Each activation is enclosed between two lines valid on its pre-activation interval
    ``[l, u]``: ``aL z + bL <= act(z) <= aU z + bU`` (ReLU: zero / identity when stably
    inactive / active, chord above and ``alpha z`` below when ``l < 0 < u``; tanh and
    sigmoid: chords on the convex side and tangents on the concave side, with tangents
    through an end point when the interval crosses the inflection point; the soundness
    proofs are in the helpers' comments). A bound of the output is then propagated
    backward through the network as one linear function of the input, ``Lambda x +
    const``, and maximised in closed form on the box (Zhang et al., NeurIPS 2018,
    theorem 3.2; DeepPoly, Singh et al., POPL 2019). The intermediate pre-activation
    bounds are computed by CROWN itself, layer by layer (each intersected with one IBP
    step from the layer below), and the output bounds are intersected with
    :func:`interval_bounds`: ``lo_crown >= lo_ibp`` and ``hi_crown <= hi_ibp`` always.

    Cost: for ``L`` layers, ``O(L^2)`` batched products with one ``(n, 2 out_k, in_j)``
    matrix per step (memory ``n * 2 * max width^2`` numbers); one compilation per
    shape and activation.

    Parameters
    ----------
    layers : sequence of (W, b)
        ``[(W_1, b_1), ..., (W_L, b_L)]``, ``W_l`` of shape ``(out_l, in_l)``, ``b_l`` of
        shape ``(out_l,)``, with ``in_{l+1} = out_l``. The network is
        ``x -> W_L act(... act(W_1 x + b_1) ...) + b_L``.
    lower, upper : Real[ArrayLike, "n d"]
        The ``n`` boxes, one per row, ``d = in_1``, ``lower <= upper`` entrywise
        (``lower == upper`` is allowed). Under ``jit`` the order ``lower <= upper`` and
        finiteness cannot be checked: they are the caller's contract there.
    activation : {"relu", "tanh", "sigmoid"}
        The activation after every layer but the last.

    Returns
    -------
    lo, hi : Float[Array, "n out_L"]
        ``lo[i] <= f(x) <= hi[i]`` for every ``x`` in box ``i``. Computed in the
        promoted dtype of the layers and the boxes (float64 stays float64).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.overestimate import crown_bounds, interval_bounds
    >>> layer_1 = (jnp.array([[1.0], [-1.0]]), jnp.zeros(2))
    >>> layers = [layer_1, (jnp.array([[1.0, 1.0]]), jnp.zeros(1))]
    >>> box = jnp.array([[-1.0]]), jnp.array([[1.0]])
    >>> bool(crown_bounds(layers, *box)[1] <= interval_bounds(layers, *box)[1])  # never looser
    True
    """
    weights, biases, lower, upper = _prepare(layers, lower, upper, activation)
    return _crown(weights, biases, lower, upper, activation)
