r"""Theoretical rates and bounds: parameter counts, pseudo-dimension, entropy, exponents.

Achour, Foucault, Gerchinovitz, Malgouyres, "A general approximation lower bound in
:math:`L^p` norm, with applications to feed-forward neural networks" (NeurIPS 2022,
arXiv 2206.04360). Their main theorem lower-bounds :math:`\sup_{f\in F}\inf_{g\in G}
\|f-g\|_{L^p(\mu)}` through three quantities: the packing number of :math:`F`, the
range of :math:`F` and the fat-shattering dimension of :math:`G` (the approximants),
the latter bounded for ReLU networks by their pseudo-dimension (Bartlett, Harvey, Liaw,
Mehrabian, "Nearly-tight VC-dimension and pseudodimension bounds for piecewise linear
neural networks", JMLR 2019, arXiv 1703.02930). This module holds:

- counting as the papers count: :func:`mlp_size` (``W`` weights and biases, ``L`` affine
  layers, ``U`` hidden units) and :func:`widths_for`;
- :func:`pseudo_dimension_bound` / :func:`fat_shattering_bound`: the explicit upper
  bound of Bartlett et al. (``O(W L log W)``);
- entropy orders: :func:`holder_log_packing` (Kolmogorov & Tikhomirov) and
  :func:`monotone_log_packing` (Gao & Wellner 2007);
- exponents and rates, up to constants: :func:`holder_exponent`, :func:`holder_rate`,
  :func:`monotone_exponent`, :func:`monotone_rate`;
- the general bound, for a user's ``F`` and ``G``: :func:`general_lower_bound`, and its
  two instances :func:`holder_lower_bound`, :func:`monotone_lower_bound`.

All logarithms are natural unless written ``log2``. The rates are numpy functions
(vectorised over ``W`` and ``L``, float64 results); nothing here is traced by JAX.

What could not be checked against the papers' text when this module was written is
marked "[to confirm in the paper]" where it is used: the exact form of the
pseudo-dimension bound, the constants and the log power of the general theorem, and the
power of the log factor of the monotone entropy at ``p = d / (d - 1)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
from jaxtyping import ArrayLike, Float64, Real

from jaxorth._checks import number_at_least, one_of, positive_int, positive_number

__all__ = [
    "CRITICAL_LOG_POWER",
    "MLPSize",
    "fat_shattering_bound",
    "general_lower_bound",
    "holder_exponent",
    "holder_log_packing",
    "holder_lower_bound",
    "holder_rate",
    "mlp_size",
    "monotone_exponent",
    "monotone_log_packing",
    "monotone_lower_bound",
    "monotone_rate",
    "pseudo_dimension_bound",
    "widths_for",
]

#: Power of ``log(1/eps)`` in the monotone entropy at the critical ``p = d / (d - 1)``
#: (Gao & Wellner 2007; for ``d = 2``, ``p = 2``: ``eps^-2 log(1/eps)^2``)
#: [to confirm in the paper].
CRITICAL_LOG_POWER = 2.0

_REGIMES = ("fixed_depth", "deep")


class MLPSize(NamedTuple):
    """Size of a fully connected network, counted as Bartlett et al. and Achour et al. do.

    Attributes
    ----------
    W : int
        Number of parameters, weights and biases: ``sum_l d_l (d_{l-1} + 1)``.
    L : int
        Number of affine layers (hidden layers + 1).
    U : int
        Number of hidden (non-linear) units ``d_1 + ... + d_{L-1}``.

    Examples
    --------
    >>> from jaxorth.approximation import mlp_size
    >>> size = mlp_size([2, 3, 1])  # W = 3 (2 + 1) + 1 (3 + 1)
    >>> size.W, size.L, size.U
    (13, 2, 3)
    """

    W: int
    L: int
    U: int


# ----------------------------------------------------------------------------- checks


def _widths(widths: Any, name: str = "widths") -> tuple[int, ...]:
    if isinstance(widths, str | bytes) or not isinstance(widths, Sequence):
        raise ValueError(
            f"{name} must be a sequence of layer widths (d_0, ..., d_L), got {widths!r}"
        )
    widths = tuple(widths)
    if len(widths) < 2:
        raise ValueError(f"{name} must list d_0, ..., d_L (at least 2 entries), got {widths}")
    return tuple(positive_int(w, f"{name}[{i}]") for i, w in enumerate(widths))


def _dimension(d: Any) -> int:
    return positive_int(d, "d")


def _exponent_p(p: Any, name: str = "p") -> float:
    """``p`` in ``[1, inf]`` as a float (``float('inf')`` accepted)."""
    ok = isinstance(p, int | float | np.integer | np.floating) and not isinstance(p, bool)
    if not ok or math.isnan(float(p)) or float(p) < 1.0:
        raise ValueError(f"{name} must be a number in [1, inf] (inf for the sup norm), got {p!r}")
    return float(p)


def _real_array(value: Any, name: str, minimum: float, *, strict: bool = False) -> Any:
    """``value`` as a float64 array of finite numbers ``>= minimum`` (``>`` if ``strict``)."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a real number or array, got {value!r}") from err
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be a real number or array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite, got {value!r}")
    bad = arr <= minimum if strict else arr < minimum
    if bad.any():
        rel = ">" if strict else ">="
        first = arr[bad].reshape(-1)[0]
        raise ValueError(f"{name} must be {rel} {minimum:g}, got {first:g}")
    return arr


def _out(arr: Any) -> Any:
    """A 0-d result as a numpy float64 scalar, otherwise the float64 array."""
    arr = np.asarray(arr, dtype=np.float64)
    return np.float64(arr) if arr.ndim == 0 else arr


# --------------------------------------------------------------------------- counting


def mlp_size(widths: Sequence[int]) -> MLPSize:
    """``(W, L, U)`` of the fully connected network with layer widths ``(d_0, ..., d_L)``.

    ``W = sum_{l=1}^L d_l (d_{l-1} + 1)`` (weights and biases; equal to
    :func:`jaxorth.identifiability.n_parameters`), ``L`` the number of affine layers,
    ``U = d_1 + ... + d_{L-1}`` the hidden units (the output layer is affine, not
    counted), as in Bartlett et al. (2019, Section 1) and Achour et al. (2022, Section 4).

    Parameters
    ----------
    widths : sequence of int
        ``(d_0, ..., d_L)``: input dimension, hidden widths, output dimension; all >= 1.

    Examples
    --------
    >>> from jaxorth.approximation import mlp_size
    >>> mlp_size([1, 4, 1])  # W = 2 * 4 + 4 + 1 parameters, L = 2 affine layers, 4 units
    MLPSize(W=13, L=2, U=4)
    """
    w = _widths(widths)
    n_params = sum(d_out * (d_in + 1) for d_in, d_out in zip(w[:-1], w[1:], strict=False))
    return MLPSize(W=n_params, L=len(w) - 1, U=sum(w[1:-1]))


def widths_for(d_in: int, width: int, depth: int) -> tuple[int, ...]:
    """``(d_in, width, ..., width, 1)``: ``depth`` affine layers, ``depth - 1`` hidden ones.

    ``depth = L >= 1``; ``depth = 1`` is the affine map ``(d_in, 1)``.

    Examples
    --------
    >>> from jaxorth.approximation import widths_for
    >>> widths_for(2, 16, 3)  # 3 affine layers, 2 hidden
    (2, 16, 16, 1)
    """
    d_in = positive_int(d_in, "d_in")
    width = positive_int(width, "width")
    depth = positive_int(depth, "depth")
    return (d_in,) + (width,) * (depth - 1) + (1,)


# ------------------------------------------------------------------ pseudo-dimension


def pseudo_dimension_bound(widths: Sequence[int], *, breakpoints: int = 1) -> float:
    r"""Upper bound on the pseudo-dimension of the networks with these widths.

    Bartlett, Harvey, Liaw & Mehrabian (JMLR 2019), upper bound for piecewise-linear
    activations with ``p = breakpoints`` breakpoints (``p + 1`` pieces; ReLU: ``p = 1``)
    and a linear output unit (the refined upper bound, Theorem 6 of the arXiv/JMLR
    version; Theorem 7 extends it to piecewise-polynomial activations of degree ``D``
    with ``R = sum_i k_i (1 + (i - 1) D^(i - 1))``) [to confirm in the paper: the form
    below is the statement as recalled, not checked against the text; only the orders
    ``O(W L log W)`` / ``Omega(W L log(W/L))`` and "also hold for the pseudodimension"
    were confirmed, from the abstract]:

    .. math::

        \mathrm{Pdim} \le L + \bar L\, W \log_2\!\big(4 e p R \log_2(2 e p R)\big),
        \qquad R = \sum_{i=1}^{L} i\, k_i, \qquad
        \bar L = \frac{1}{W}\sum_{i=1}^{L} W_i,

    with ``k_i = d_i`` the units of layer ``i`` (output layer included) and ``W_i`` the
    parameters of layers ``1..i`` (the "effective depth" ``1 <= Lbar <= L``). The paper
    states that its VC-dimension bounds also hold for the pseudo-dimension (abstract of
    arXiv 1703.02930), which is what Achour et al. use as a bound on the fat-shattering
    dimension. Order: ``O(W L log W)``, matched below by ``Omega(W L log(W / L))``.

    Parameters
    ----------
    widths : sequence of int
        ``(d_0, ..., d_L)``, all >= 1.
    breakpoints : int
        Number ``p >= 1`` of breakpoints of the activation.

    Returns
    -------
    float
        The bound (a real number; the pseudo-dimension is an integer below it).

    Examples
    --------
    >>> import math
    >>> from jaxorth.approximation import pseudo_dimension_bound
    >>> # widths (1, 4, 1): k = (4, 1), R = 1 * 4 + 2 * 1, W_1 = 8, W = W_2 = 13, L = 2
    >>> R, W, L_bar = 6, 13, (8 + 13) / 13
    >>> by_hand = 2 + L_bar * W * math.log2(4 * math.e * R * math.log2(2 * math.e * R))
    >>> math.isclose(pseudo_dimension_bound([1, 4, 1]), by_hand), round(by_hand, 2)
    (True, 177.51)
    """
    w = _widths(widths)
    p = positive_int(breakpoints, "breakpoints")
    layer_params = [d_out * (d_in + 1) for d_in, d_out in zip(w[:-1], w[1:], strict=False)]
    cumulative = np.cumsum(layer_params, dtype=np.float64)
    n_params = float(cumulative[-1])
    n_layers = len(layer_params)
    l_bar = float(cumulative.sum()) / n_params
    r = float(sum(i * k for i, k in enumerate(w[1:], start=1)))
    inner = 4.0 * math.e * p * r * math.log2(2.0 * math.e * p * r)
    return float(n_layers + l_bar * n_params * math.log2(inner))


def fat_shattering_bound(widths: Sequence[int], gamma: float, *, breakpoints: int = 1) -> float:
    """Bound on the fat-shattering dimension at scale ``gamma > 0``: the pseudo-dimension's.

    ``fat_gamma(G) <= Pdim(G)`` for every ``gamma > 0`` (a set gamma-shattered is
    pseudo-shattered by the same witnesses), so this is :func:`pseudo_dimension_bound`,
    whatever ``gamma``; it is the form in which Achour et al. use it.

    Examples
    --------
    >>> from jaxorth.approximation import fat_shattering_bound, pseudo_dimension_bound
    >>> fat_shattering_bound([1, 4, 1], 0.1) == pseudo_dimension_bound([1, 4, 1])  # any gamma
    True
    """
    positive_number(gamma, "gamma")
    return pseudo_dimension_bound(widths, breakpoints=breakpoints)


def _pdim_size_bound(n_params: Any, n_layers: Any, breakpoints: int) -> Any:
    """:func:`pseudo_dimension_bound` in terms of ``(W, L)`` alone, any architecture.

    ``Lbar <= L`` and ``R = sum_i i k_i <= L (U + d_L) <= L W`` (every unit has a bias),
    and the bound grows with both, so ``L + L W log2(4 e p L W log2(2 e p L W))``
    bounds the pseudo-dimension of every network with ``W`` parameters in ``L`` layers.
    """
    r = n_layers * n_params
    inner = 4.0 * math.e * breakpoints * r * np.log2(2.0 * math.e * breakpoints * r)
    return n_layers + n_layers * n_params * np.log2(inner)


# -------------------------------------------------------------------------- entropy


def holder_log_packing(
    eps: Real[ArrayLike, "*e"], *, alpha: float, d: int, constant: float = 1.0
) -> Float64[np.ndarray, "*e"] | float:
    r"""Order of the log packing number of the Hölder ball: ``constant * eps^(-d/alpha)``.

    Kolmogorov & Tikhomirov (1959): the unit ball of :math:`C^\alpha([0,1]^d)` has
    :math:`\log M(\varepsilon) \asymp \varepsilon^{-d/\alpha}`, the same order in every
    :math:`L^p`, ``1 <= p <= inf`` (the bump construction packs in every ``L^p``; the
    covering is in sup norm). Achour et al. (2022, Section 4) use this order. The
    constants of ``asymp`` are not provided: ``constant`` (default 1) sets the one used,
    so this is an order, not a certified count (for a certified packing use the
    hard-instance construction of the targets module).

    Parameters
    ----------
    eps : float or array
        Separations ``> 0``.
    alpha, d : float, int
        Smoothness ``alpha > 0`` and input dimension ``d >= 1``.
    constant : float
        Multiplicative constant ``> 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.approximation import holder_log_packing
    >>> np.round(holder_log_packing(np.array([0.1, 0.01]), alpha=2.0, d=2), 6).tolist()  # 1 / eps
    [10.0, 100.0]
    """
    alpha = positive_number(alpha, "alpha")
    d = _dimension(d)
    constant = positive_number(constant, "constant")
    e = _real_array(eps, "eps", 0.0, strict=True)
    with np.errstate(over="ignore"):
        return _out(constant * e ** (-d / alpha))


def monotone_log_packing(
    eps: Real[ArrayLike, "*e"], *, d: int, p: float, constant: float = 1.0
) -> Float64[np.ndarray, "*e"] | float:
    r"""Order of the log packing number of monotone functions ``[0,1]^d -> [0,1]`` in ``L^p``.

    Gao & Wellner (2007, J. Multivariate Anal., "Entropy estimate for high-dimensional
    monotonic functions"): for coordinatewise nondecreasing functions into ``[0, 1]``,

    - ``d = 1``: ``eps^-1`` for every finite ``p``;
    - ``d >= 2``, ``p != d/(d-1)``: ``eps^(-max(d, p (d-1)))``;
    - ``d >= 2``, ``p = d/(d-1)`` (both terms equal ``d``): ``eps^-d`` times a power of
      ``log(1/eps)``, here :data:`CRITICAL_LOG_POWER` ``= 2`` (the bivariate ``L^2`` case
      ``eps^-2 log^2(1/eps)``) [to confirm in the paper: the power for general ``d``];
    - ``p = inf``: ``inf`` (monotone functions with jumps are not totally bounded in sup
      norm: the steps ``1[x_1 >= t]`` are 1 apart for distinct ``t``).

    The log factor is ``max(1, log(1/eps))^k`` so that the order stays >= the power.
    ``constant`` (default 1) multiplies the finite orders (an order, not a count).

    Parameters
    ----------
    eps : float or array
        Separations ``> 0``.
    d : int
        Input dimension ``>= 1``.
    p : float
        Exponent of the norm, in ``[1, inf]``.
    constant : float
        Multiplicative constant ``> 0``.

    Examples
    --------
    >>> from jaxorth.approximation import monotone_log_packing
    >>> round(float(monotone_log_packing(0.1, d=1, p=2.0)), 6)  # d = 1: 1 / eps
    10.0
    >>> round(float(monotone_log_packing(0.1, d=2, p=4.0)), 6)  # eps^-max(d, p (d - 1))
    10000.0
    >>> float(monotone_log_packing(0.1, d=2, p=float("inf")))  # not totally bounded
    inf
    """
    d = _dimension(d)
    p = _exponent_p(p)
    constant = positive_number(constant, "constant")
    e = _real_array(eps, "eps", 0.0, strict=True)
    if math.isinf(p):
        return _out(np.full(e.shape, np.inf))
    power = 1.0 if d == 1 else max(float(d), p * (d - 1))
    with np.errstate(over="ignore", divide="ignore"):
        out = constant * e ** (-power)
        if d >= 2 and math.isclose(p, d / (d - 1), rel_tol=1e-12):
            out = out * np.maximum(1.0, np.log(1.0 / e)) ** CRITICAL_LOG_POWER
    return _out(out)


# ------------------------------------------------------------------ exponents, rates


def holder_exponent(alpha: float, d: int, *, regime: str = "fixed_depth") -> float:
    """Exponent ``beta`` of the Hölder rate ``W^-beta``: ``alpha/d`` or ``2 alpha/d``.

    ``regime="fixed_depth"``: ``L`` fixed, the rate ``(W L log W)^(-alpha/d)`` is
    ``W^(-alpha/d)`` up to a log; ``"deep"``: ``L`` proportional to ``W``, it is
    ``W^(-2 alpha/d)`` up to a log (Achour et al. 2022, Section 4; matching upper
    bounds: Yarotsky 2017-2018, Lu, Shen, Yang & Zhang 2021).

    Examples
    --------
    >>> from jaxorth.approximation import holder_exponent
    >>> holder_exponent(1.0, 2)  # alpha / d at fixed depth
    0.5
    """
    alpha = positive_number(alpha, "alpha")
    d = _dimension(d)
    regime = one_of(regime, "regime", _REGIMES)
    return (2.0 if regime == "deep" else 1.0) * alpha / d


def monotone_exponent(d: int, p: float) -> float:
    """Exponent of the monotone rate: ``1 / max(d, p (d-1))`` for finite ``p``, 0 for ``inf``.

    From the entropy order of :func:`monotone_log_packing` (Achour et al. 2022,
    Section 4, monotone functions): ``d = 1`` gives 1; ``p = inf`` gives 0 (no decay:
    a continuous network stays ``1/2`` away from a unit step in sup norm).

    Examples
    --------
    >>> from jaxorth.approximation import monotone_exponent
    >>> monotone_exponent(2, 1.0), monotone_exponent(2, 4.0)  # 1 / max(d, p (d - 1))
    (0.5, 0.25)
    """
    d = _dimension(d)
    p = _exponent_p(p)
    if math.isinf(p):
        return 0.0
    return 1.0 / max(float(d), p * (d - 1))


def _sizes(n_params: Any, n_layers: Any) -> tuple[Any, Any]:
    w = _real_array(n_params, "W", 2.0)
    ell = _real_array(n_layers, "L", 1.0)
    try:
        w, ell = np.broadcast_arrays(w, ell)
    except ValueError as err:
        raise ValueError(
            f"W and L must broadcast together, got shapes {w.shape} and {ell.shape}"
        ) from err
    return w, ell


def holder_rate(
    W: Real[ArrayLike, "*w"], L: Real[ArrayLike, "*l"], *, alpha: float, d: int
) -> Float64[np.ndarray, "*wl"] | float:
    """``(W L log W)^(-alpha/d)``: the order of the Hölder lower bound, up to constants.

    Achour et al. (2022, Section 4, Hölder balls): in every ``L^p`` the error of
    networks with ``W >= 2`` parameters in ``L`` layers on the Hölder ball is at least
    this, up to constants and log factors [to confirm in the paper: which log factors].
    At fixed ``L`` its log-log slope in ``W`` is ``-(alpha/d)(1 + 1/log W)``, steeper
    than ``-alpha/d`` and tending to it.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.approximation import holder_rate
    >>> rate = holder_rate(np.array([100.0, 10_000.0]), 2, alpha=1.0, d=2)
    >>> bool(rate[1] < rate[0])  # (W L log W)^(-alpha/d) decreases with W
    True
    """
    alpha = positive_number(alpha, "alpha")
    d = _dimension(d)
    w, ell = _sizes(W, L)
    return _out((w * ell * np.log(w)) ** (-alpha / d))


def monotone_rate(
    W: Real[ArrayLike, "*w"], L: Real[ArrayLike, "*l"], *, d: int, p: float
) -> Float64[np.ndarray, "*wl"] | float:
    """``(W L log W)^(-monotone_exponent(d, p))``, up to constants (1 for ``p = inf``).

    Examples
    --------
    >>> from jaxorth.approximation import monotone_rate
    >>> float(monotone_rate(100.0, 2, d=2, p=float("inf")))  # no decay in sup norm
    1.0
    """
    exponent = monotone_exponent(d, p)
    w, ell = _sizes(W, L)
    return _out((w * ell * np.log(w)) ** (-exponent))


# ------------------------------------------------------------------ the general bound


def _default_grid(value_range: float) -> np.ndarray:
    """64 candidates a decade, from ``value_range`` down to ``1e-300 value_range``."""
    return value_range * np.logspace(0.0, -300.0, 300 * 64 + 1)


def _evaluate(fn: Callable[[Any], Any] | float, grid: np.ndarray, name: str) -> np.ndarray:
    """``fn`` on every grid point (one vectorised call if it returns an array of that shape)."""
    if not callable(fn):
        value = number_at_least(fn, name, 0.0)
        return np.full(grid.shape, value)
    values = None
    try:
        out = np.asarray(fn(grid), dtype=np.float64)
        if out.shape == grid.shape:
            values = out
    except (TypeError, ValueError):
        values = None
    if values is None:
        values = np.array([float(fn(float(x))) for x in grid], dtype=np.float64)
    if np.isnan(values).any() or (values < 0).any():
        first = values[np.isnan(values) | (values < 0)][0]
        raise ValueError(f"{name} must return numbers >= 0 (inf allowed), got {first}")
    return values


def general_lower_bound(
    log_packing: Callable[[Any], Any],
    fat_dim: Callable[[Any], Any] | float,
    *,
    p: float,
    value_range: float = 1.0,
    eps_grid: Real[ArrayLike, " n"] | None = None,
    constant: float = 1.0,
    packing_factor: float = 4.0,
    fat_scale: float = 0.125,
    log_power: float = 2.0,
) -> float:
    r"""A lower bound on ``sup_{f in F} inf_{g in G} ||f - g||_{L^p(mu)}`` (constants unconfirmed).

    Achour et al. (2022, main theorem, Section 2): the bound combines the packing
    number of ``F``, the range of ``F`` and the fat-shattering dimension of ``G``
    through a result of Mendelson (2002) bounding ``L^p(mu)`` covering numbers of a
    bounded class by its fat-shattering dimension. The argument, for a candidate bound
    ``b``: if every ``f`` had some ``g`` with ``||f - g||_p < b``, then a
    ``(4 b)``-packing ``f_1..f_M`` of ``F`` would give approximants, clipped to the
    range interval of ``F`` (clipping brings them closer to every ``f`` and does not
    raise the fat-shattering dimension), that are pairwise ``> 2 b`` apart, hence
    ``M <= N(b, clip G, L^p(mu))``. Scaling the range to length 1, Mendelson's bound
    reads ``log N(r) <= C p fat_{r/8} log^2(2 fat_{r/8} / r)``. So ``b`` is certified when

    .. math::

        \log M(c_M b, F, L^p(\mu)) > C\, p\, \mathrm{fat}_{c_f b}(G)\,
        \log^{k}\!\Big(\frac{2\, \max(\mathrm{fat}_{c_f b}(G), 1)\, B}{b}\Big),

    with ``c_M = packing_factor = 4``, ``c_f = fat_scale = 1/8``, ``k = log_power = 2``,
    ``C = constant = 1``, ``B = value_range`` (the log is floored at 1). The returned
    value is the largest grid ``b`` where this holds (0.0 if none).
    [to confirm in the paper: the form of the condition, the constants ``C``, ``c_M``,
    ``c_f``, the power ``k``, the argument of the log and the linear factor ``p`` were
    not checked against the paper's statement; the defaults are the ones of the
    argument above with Mendelson's constant ``C`` unknown, set to 1.]

    Parameters
    ----------
    log_packing : callable
        ``eps -> log M(eps, F, L^p(mu))`` (natural log; ``inf`` allowed). Called once
        with the whole grid (numpy array) if it returns an array of that shape, else
        point by point.
    fat_dim : callable or float
        ``gamma -> fat_gamma(G)``, or one number (a scale-free bound such as the
        pseudo-dimension, :func:`pseudo_dimension_bound`).
    p : float
        Exponent in ``[1, inf)``. For the sup norm, any ``L^p`` bound is a sup-norm
        bound (``||.||_inf >= ||.||_p`` for a probability measure).
    value_range : float
        Length ``B > 0`` of an interval holding the values of every ``f in F``.
    eps_grid : array, optional
        Candidate bounds ``b > 0``; default: 64 a decade from ``value_range`` down to
        ``1e-300 value_range``.
    constant, packing_factor, fat_scale, log_power : float
        The constants of the condition above (all ``> 0``; ``log_power >= 0``).

    Returns
    -------
    float
        The lower bound; a certified one once the constants are confirmed (until
        then, trust its behaviour in ``W``, ``L``, ``p``, not its absolute value).

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.approximation import general_lower_bound
    >>> grid = np.logspace(-1, -8, 71)
    >>> def log_packing(eps):  # a class of log packing number 1 / eps
    ...     return 1.0 / eps
    >>> small, large = (general_lower_bound(log_packing, fat, p=2.0, eps_grid=grid)
    ...                 for fat in (10.0, 1000.0))
    >>> bool(small in grid), bool(0 < large < small)  # richer networks: a lower bound
    (True, True)
    """
    if not callable(log_packing):
        raise ValueError(f"log_packing must be a callable eps -> log M(eps), got {log_packing!r}")
    p = _exponent_p(p)
    if math.isinf(p):
        raise ValueError(
            "p must be finite in general_lower_bound (the theorem holds for 1 <= p < inf); "
            "for the sup norm, an L^p lower bound is also a sup-norm lower bound"
        )
    value_range = positive_number(value_range, "value_range")
    constant = positive_number(constant, "constant")
    packing_factor = positive_number(packing_factor, "packing_factor")
    fat_scale = positive_number(fat_scale, "fat_scale")
    log_power = number_at_least(log_power, "log_power", 0.0)
    if eps_grid is None:
        grid = _default_grid(value_range)
    else:
        grid = _real_array(eps_grid, "eps_grid", 0.0, strict=True).reshape(-1)
        if grid.size == 0:
            raise ValueError("eps_grid must hold at least one candidate bound")
    log_m = _evaluate(log_packing, packing_factor * grid, "log_packing")
    fat = _evaluate(fat_dim, fat_scale * grid, "fat_dim")
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        log_factor = np.maximum(1.0, np.log(2.0 * np.maximum(fat, 1.0) * value_range / grid))
        needed = constant * p * fat * log_factor**log_power
        holds = log_m > needed
    if not holds.any():
        return 0.0
    return float(grid[holds].max())


def _lower_bound_grid(
    n_params: Any,
    n_layers: Any,
    log_packing: Callable[[Any], Any],
    p: float,
    value_range: float,
    breakpoints: int,
    options: dict[str, Any],
) -> Any:
    w, ell = _sizes(n_params, n_layers)
    fat = _pdim_size_bound(w, ell, breakpoints)
    out = np.empty(w.shape)
    for index in np.ndindex(w.shape):
        out[index] = general_lower_bound(
            log_packing, float(fat[index]), p=p, value_range=value_range, **options
        )
    return _out(out)


def holder_lower_bound(
    W: Real[ArrayLike, "*w"],
    L: Real[ArrayLike, "*l"],
    *,
    alpha: float,
    d: int,
    p: float,
    breakpoints: int = 1,
    **options: Any,
) -> Float64[np.ndarray, "*wl"] | float:
    """:func:`general_lower_bound` for the Hölder ball and ReLU networks of size ``(W, L)``.

    ``F``: functions ``[0,1]^d -> [-1, 1]`` with Hölder constant <= 1 (``value_range =
    2``), log packing :func:`holder_log_packing` (constant 1, so the result is the
    bound's order, not a certified number); ``G``: every network with ``W``
    parameters in ``L`` layers, ``fat <= L + L W log2(4 e p L W log2(2 e p L W))`` (the
    pseudo-dimension bound with ``Lbar <= L`` and ``sum_i i k_i <= L W``). Decays like
    ``(W L log W)^(-alpha/d)`` up to log factors. ``p = inf`` returns the ``p = 1``
    bound (valid: the sup norm dominates ``L^1``; the entropy order does not depend on
    ``p``). ``options`` go to :func:`general_lower_bound` (``eps_grid``, constants).

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.approximation import holder_lower_bound
    >>> bound = holder_lower_bound(np.array([100.0, 1000.0]), 2, alpha=1.0, d=2, p=2.0)
    >>> bound.shape, bool(0 < bound[1] < bound[0])  # decays with the number of parameters W
    ((2,), True)
    """
    alpha = positive_number(alpha, "alpha")
    d = _dimension(d)
    p = _exponent_p(p)
    breakpoints = positive_int(breakpoints, "breakpoints")
    exponent = d / alpha

    def log_packing(eps: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return np.asarray(eps, dtype=np.float64) ** (-exponent)

    p_used = 1.0 if math.isinf(p) else p
    return _lower_bound_grid(W, L, log_packing, p_used, 2.0, breakpoints, options)


def monotone_lower_bound(
    W: Real[ArrayLike, "*w"],
    L: Real[ArrayLike, "*l"],
    *,
    d: int,
    p: float,
    breakpoints: int = 1,
    **options: Any,
) -> Float64[np.ndarray, "*wl"] | float:
    """:func:`general_lower_bound` for monotone functions and ReLU networks of size ``(W, L)``.

    ``F``: coordinatewise nondecreasing functions ``[0,1]^d -> [0, 1]``
    (``value_range = 1``), log packing :func:`monotone_log_packing` (constant 1: an
    order); ``G`` as in :func:`holder_lower_bound`. Decays like
    ``(W L log W)^(-monotone_exponent(d, p))`` up to log factors. ``p = inf``: ``1/2``
    for every size, exactly: a ReLU network is continuous and every continuous ``g``
    has ``sup |1[x_1 >= 1/2] - g| >= 1/2``.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.approximation import monotone_lower_bound
    >>> float(monotone_lower_bound(100.0, 2, d=2, p=float("inf")))  # a jump: 1/2 at every size
    0.5
    >>> bound = monotone_lower_bound(np.array([100.0, 1000.0]), 2, d=2, p=2.0)
    >>> bool(0 < bound[1] < bound[0])
    True
    """
    d = _dimension(d)
    p = _exponent_p(p)
    breakpoints = positive_int(breakpoints, "breakpoints")
    if math.isinf(p):
        w, _ = _sizes(W, L)
        return _out(np.full(w.shape, 0.5))

    def log_packing(eps: np.ndarray) -> np.ndarray:
        return np.asarray(monotone_log_packing(np.asarray(eps), d=d, p=p), dtype=np.float64)

    return _lower_bound_grid(W, L, log_packing, p, 1.0, breakpoints, options)
