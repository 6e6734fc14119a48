r"""Recovering a ReLU network from black-box queries by locating its critical points.

A ReLU network :math:`f(x) = a^\top \mathrm{relu}(W x + b) + c` is piecewise linear: along
any line :math:`x(t) = x_0 + t\,u` it is a piecewise-linear function of :math:`t` whose
kinks are the points where the line crosses a hidden neuron's hyperplane
:math:`\{x : w_j \cdot x + b_j = 0\}` (a *critical point* of neuron :math:`j`). Carlini,
Jagielski and Mironov ("Cryptanalytic extraction of neural network models", CRYPTO 2020)
and Rolnick and Kording ("Reverse-engineering deep ReLU networks", ICML 2020) recover the
parameters from such points; this module follows their recipe for one hidden layer:

1. **Critical points.** Along random lines the function is sampled on a grid; a node
   whose second difference is nonzero marks a kink nearby. A kink is located *exactly*
   (to rounding) by intersecting the two linear pieces on its sides, and accepted only
   when every sample near it and one extra query at the intersection agree with that
   single-kink model; otherwise the region is sampled on a finer grid (recursively).
2. **Hyperplanes.** At points on both sides of a kink the gradient is measured by
   forward differences (the function is linear there, so these are exact up to
   rounding); the jump of the gradient is :math:`\pm a_j w_j`, the neuron's normal up
   to scale, and the kink gives its bias, :math:`b_j = -w_j \cdot x^*`. Critical points
   of the same neuron (from different lines) give the same normalised hyperplane: they
   are merged, and a hyperplane seen on fewer than ``min_support`` lines is discarded
   (a spurious point, e.g. two kinks closer than the rounding).
3. **Signs and output layer.** The normal is known only up to sign, and the sign is not
   local: :math:`\alpha\,\mathrm{relu}(-z) = \alpha\,\mathrm{relu}(z) - \alpha z`, the two
   orientations differ by a linear function. A least-squares fit of
   :math:`f \approx \sum_j \alpha_j \mathrm{relu}(\hat z_j) + L \cdot x + \ell_0` (one
   arbitrary orientation :math:`\hat z_j` per neuron) gives the linear part
   :math:`L = -\sum_{j \text{ flipped}} \alpha_j \hat w_j`; since the true network has
   no linear term, the flipped set is the 0/1 solution of that linear system, found by
   enumerating the :math:`2^{N - r}` assignments of the neurons outside a pivot set
   (:math:`r` = rank of the :math:`\alpha_j \hat w_j`; :math:`N - r = 5` for a 10-15-1
   network, 0 when :math:`N \le d_0`). A final least-squares fit with the corrected
   orientations and no linear term gives the output weights and bias.

The result is defined modulo the network's symmetries: hidden neurons come in the
order found and each hidden neuron's (incoming row, bias) has unit Euclidean norm, the
positive scale being pushed into the output weight. Neurons whose hyperplane no line
crosses (dead on the explored region, or far from it) are not found and are not
identifiable from queries there; ``n_neurons`` says how many were recovered.

For deeper networks, :func:`extract_first_layer` recovers the first hidden layer only:
its neurons' critical points lie on hyperplanes that are straight everywhere, while the
critical points of deeper neurons lie on hypersurfaces that bend where they meet the
first layer's boundaries (Rolnick and Kording, section 4), so their local hyperplanes
disagree from one line to the next and are discarded by the support test plus a
straightness test at far-apart points of each candidate hyperplane.
:func:`extract_two_hidden_layers` (experimental: exact on some teachers, incomplete on
others) then walks each second-layer neuron's bent surface across the first-layer
hyperplanes; the jumps of its gradient at the bends give its weights, and a 0/1 system
over all of them the first layer's orientations.

Everything runs in numpy float64; randomness comes from an explicit JAX ``key``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable

import jax
import numpy as np

from jaxorth._checks import int_at_least, positive_int, positive_number
from jaxorth._random import numpy_rng

__all__ = [
    "ExtractionResult",
    "extract_first_layer",
    "extract_one_hidden_layer",
    "extract_two_hidden_layers",
]

Query = Callable[[np.ndarray], np.ndarray]

_MAX_FREE_SIGNS = 20
# far probes of extract_first_layer step radius * _CHECK_SPREAD * U(0.5, 2) along the plane
_CHECK_SPREAD = 3.0


@dataclasses.dataclass(frozen=True)
class ExtractionResult:
    """What :func:`extract_one_hidden_layer` / :func:`extract_first_layer` recovered.

    Attributes
    ----------
    params : list of (W, b) numpy float64 pairs
        ``[(W1, b1), (W2, b2)]`` for the one-hidden-layer extraction (``W1`` of shape
        ``(n_neurons, d_in)``, rows with ``||(w_j, b_j)|| = 1``; ``W2`` of shape
        ``(1, n_neurons)``); ``[(W1, b1)]`` only for :func:`extract_first_layer` (rows
        normalised, orientation arbitrary: a first-layer hyperplane's sign is not
        resolved there).
    queries : int
        Number of input rows sent to ``query`` (every call counted).
    n_critical_points : int
        Critical points located (before merging by neuron).
    n_neurons : int
        Hidden neurons recovered (hyperplanes kept).
    support : tuple of int
        Per recovered neuron, the number of lines on which it was seen.
    fit_residual : float
        ``max |f - f_recovered| / (1 + max |f|)`` on the fit points (one hidden layer;
        ``nan`` for :func:`extract_first_layer`).
    sign_margin : float
        How decisively the signs were resolved: the distance to {0, 1} of the worst-rounded
        entry of the best assignment (0 is ideal, near 0.5 ambiguous); ``nan`` for
        :func:`extract_first_layer`.

    Examples
    --------
    >>> import jax
    >>> import numpy as np
    >>> from jaxorth.identifiability import extract_one_hidden_layer, parameter_distance
    >>> W1 = np.array([[1.0, 0.5], [-0.5, 1.0], [0.3, -1.0]])
    >>> b1, W2, b2 = np.array([0.1, -0.2, 0.05]), np.array([[1.0, -2.0, 0.5]]), np.array([0.3])
    >>> def query(X):  # the black box: a 2-3-1 ReLU network, (B, 2) -> (B,)
    ...     return np.maximum(X @ W1.T + b1, 0.0) @ W2[0] + b2[0]
    >>> result = extract_one_hidden_layer(query, 2, key=jax.random.key(0))
    >>> result.n_neurons, result.queries > 0, len(result.support)
    (3, True, 3)
    >>> bool(result.fit_residual < 1e-10), [W.shape for W, _ in result.params]
    (True, [(3, 2), (1, 3)])
    """

    params: list[tuple[np.ndarray, np.ndarray]]
    queries: int
    n_critical_points: int
    n_neurons: int
    support: tuple[int, ...]
    fit_residual: float
    sign_margin: float


class _Oracle:
    """``query`` with its shape and finiteness checked on every call, and counted."""

    def __init__(self, query: Query, d_in: int):
        if not callable(query):
            raise ValueError(f"query must be a callable X -> f(X), got {query!r}")
        self.query = query
        self.d_in = d_in
        self.count = 0
        self.scale = 1.0

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float64).reshape(-1, self.d_in)
        y = np.asarray(self.query(X))
        self.count += X.shape[0]
        if y.shape != (X.shape[0],):
            raise ValueError(
                f"query must return an array of shape (B,) = ({X.shape[0]},) for X of "
                f"shape {X.shape} (one scalar output per row), got shape {y.shape}"
            )
        if not np.issubdtype(y.dtype, np.floating) and not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"query must return real numbers, got dtype {y.dtype}")
        y = y.astype(np.float64)
        if not np.isfinite(y).all():
            bad = int(np.flatnonzero(~np.isfinite(y))[0])
            raise ValueError(
                f"query returned non-finite values ({int((~np.isfinite(y)).sum())} of "
                f"{y.size}, first at row {bad}: {y[bad]}); the function must be finite "
                f"everywhere it is queried"
            )
        return y


# ---------------------------------------------------------------------------------------
# 1. critical points along a line


def _line_kinks(f_line, t, y, tol, depth, max_depth, left_linear, right_linear, out):
    """Append to ``out`` the kinks ``(t*, slope_left, slope_right)`` of a sampled segment.

    ``t`` is a uniform grid, ``y`` the values on it. A node ``i`` is flat when its second
    difference is below ``tol``; a maximal run ``p..q`` of non-flat nodes holds the kinks
    of ``(t[p-1], t[q+1])``. The linear pieces on both sides (through two flat-side
    samples) are intersected; the single-kink model is accepted when the samples of the
    run and one query at the intersection agree with it, else the run is resampled.
    ``left_linear`` / ``right_linear``: the first / last grid interval is known to be
    kink-free (a subgrid inside a parent's linear interval).
    """
    n = len(t) - 1
    d2 = y[:-2] - 2.0 * y[1:-1] + y[2:]
    nodes = np.flatnonzero(np.abs(d2) > tol) + 1
    if nodes.size == 0:
        return
    runs = np.split(nodes, np.flatnonzero(np.diff(nodes) > 1) + 1)
    for run in runs:
        p, q = int(run[0]), int(run[-1])
        if p >= 2:
            left = (p - 2, p - 1)
        elif left_linear:
            left = (0, 1)
        else:
            continue  # at the end of the explored segment: skip
        if q <= n - 2:
            right = (q + 1, q + 2)
        elif right_linear:
            right = (n - 1, n)
        else:
            continue
        h = t[1] - t[0]
        sl = (y[left[1]] - y[left[0]]) / (t[left[1]] - t[left[0]])
        sr = (y[right[1]] - y[right[0]]) / (t[right[1]] - t[right[0]])
        ok = abs(sl - sr) > tol / h
        if ok:
            # y = y_l + sl (t - t_l) = y_r + sr (t - t_r)
            tl, yl, tr, yr = t[left[1]], y[left[1]], t[right[0]], y[right[0]]
            ts = (yr - yl + sl * tl - sr * tr) / (sl - sr)
            ok = t[left[1]] <= ts <= t[right[0]]
        if ok:
            idx = np.arange(left[0], right[1] + 1)
            model = np.where(t[idx] <= ts, yl + sl * (t[idx] - tl), yr + sr * (t[idx] - tr))
            ok = bool(np.all(np.abs(model - y[idx]) <= 10 * tol))
        if ok:
            ys = f_line(np.array([ts]))[0]
            ok = abs(ys - (yl + sl * (ts - tl))) <= 10 * tol
        if ok:
            out.append((float(ts), float(sl), float(sr)))
        elif depth < max_depth:
            a, b = t[left[0]], t[right[1]]
            m = max(16, 2 * (right[1] - left[0]))
            tt = np.linspace(a, b, m + 1)
            yy = np.empty(m + 1)
            yy[0], yy[-1] = y[left[0]], y[right[1]]
            yy[1:-1] = f_line(tt[1:-1])
            _line_kinks(f_line, tt, yy, tol, depth + 1, max_depth, True, True, out)


def _gradient(oracle: _Oracle, x: np.ndarray, step: float) -> tuple[np.ndarray, float]:
    """Forward-difference gradient at ``x`` (exact up to rounding on a linear piece)."""
    d = x.size
    X = np.vstack([x, x + step * np.eye(d)])
    y = oracle(X)
    return (y[1:] - y[0]) / step, float(y[0])


@dataclasses.dataclass
class _Critical:
    point: np.ndarray  # x* on the hyperplane
    jump: np.ndarray  # g(+ side) - g(- side), the line direction pointing to + side
    direction: np.ndarray  # the line direction
    hyperplane: np.ndarray  # (w, b) / ||(w, b)||, sign canonical
    line: int
    sides: tuple[np.ndarray, np.ndarray]  # x- and x+
    values: tuple[float, float]


def _canonical_sign(h: np.ndarray) -> np.ndarray:
    return h if h[np.argmax(np.abs(h))] > 0 else -h


def _critical_points(oracle, rng, d_in, n_lines, radius, n_grid, max_depth, rtol):
    """Critical points on ``n_lines`` random lines through the ball of radius ``radius``."""
    found: list[_Critical] = []
    half = 5.0 * radius * np.sqrt(d_in)
    for line in range(n_lines):
        x0 = rng.normal(size=d_in) * radius
        u = rng.normal(size=d_in)
        u /= np.linalg.norm(u)

        def f_line(ts, x0=x0, u=u):
            return oracle(x0[None, :] + ts[:, None] * u[None, :])

        t = np.linspace(-half, half, n_grid + 1)
        y = f_line(t)
        tol = rtol * (1.0 + np.max(np.abs(y)))
        kinks: list[tuple[float, float, float]] = []
        _line_kinks(f_line, t, y, tol, 0, max_depth, False, False, kinks)
        kinks.sort()
        ts = np.array([k[0] for k in kinks])
        for i, (tk, sl, sr) in enumerate(kinks):
            gaps = [half - abs(tk)]
            if i > 0:
                gaps.append(tk - ts[i - 1])
            if i + 1 < len(kinks):
                gaps.append(ts[i + 1] - tk)
            eps = min(0.25 * min(gaps), 0.05 * radius)
            if eps <= 1e-9 * radius:
                continue
            step = 1e-3 * eps
            xs = x0 + tk * u
            xm, xp = xs - eps * u, xs + eps * u
            gm, ym = _gradient(oracle, xm, step)
            gp, yp = _gradient(oracle, xp, step)
            # the slopes along the line are known exactly from the search: a gradient whose
            # steps crossed another hyperplane disagrees with them
            gtol = 1e-6 * (np.abs(sl) + np.abs(sr) + np.linalg.norm(gm) + np.linalg.norm(gp))
            if abs(gm @ u - sl) > gtol or abs(gp @ u - sr) > gtol:
                continue
            jump = gp - gm
            norm = np.linalg.norm(jump)
            if norm <= gtol:
                continue
            w = jump / norm
            h = np.append(w, -w @ xs)
            h = _canonical_sign(h / np.linalg.norm(h))
            found.append(_Critical(xs, jump, u, h, line, (xm, xp), (ym, yp)))
    return found


def _merge(points: list[_Critical], tol: float) -> list[list[_Critical]]:
    """Group critical points whose normalised hyperplanes agree (up to sign) within tol."""
    groups: list[list[_Critical]] = []
    reps: list[np.ndarray] = []
    for c in points:
        for g, r in zip(groups, reps, strict=True):
            if min(np.linalg.norm(c.hyperplane - r), np.linalg.norm(c.hyperplane + r)) <= tol:
                g.append(c)
                break
        else:
            groups.append([c])
            reps.append(c.hyperplane)
    return groups


def _probe(oracle, h, x_star, rng, n_probes, radius, n_grid, rtol, spread=1.0):
    """Critical points of the hyperplane ``h`` found near ``n_probes`` far-apart points of it.

    Each probe moves from ``x_star`` by a random step of length ~``radius`` inside the
    hyperplane and searches a short segment along its normal for the kink (located by
    the same single-kink test as on the lines). Returns the points found.
    """
    w = h[:-1]
    nrm = w / np.linalg.norm(w)
    delta = 1e-4 * radius
    found = []
    for _ in range(n_probes):
        v = rng.normal(size=w.size)
        v -= (v @ nrm) * nrm
        v *= spread * radius * rng.uniform(0.5, 2.0) / np.linalg.norm(v)
        xp = x_star + v
        xp -= ((xp @ w + h[-1]) / (w @ w)) * w  # back onto the approximate hyperplane

        def f_line(ts, xp=xp):
            return oracle(xp[None, :] + ts[:, None] * nrm[None, :])

        t = np.linspace(-delta, delta, n_grid + 1)
        y = f_line(t)
        kinks: list[tuple[float, float, float]] = []
        _line_kinks(f_line, t, y, rtol * (1.0 + np.max(np.abs(y))), 0, 2, False, False, kinks)
        if len(kinks) == 1 and abs(kinks[0][0]) <= 0.5 * delta:
            found.append(xp + kinks[0][0] * nrm)
    return found


def _hyperplane(group: list[_Critical], extra: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """The normalised (w, b) of a group, and how well its points fit one hyperplane.

    Starts from the mean of the members' gradient estimates (signs aligned; accurate to
    ~1e-10) and refines it to the hyperplane through the critical points themselves (the
    group's and the probes' ``extra`` ones, located to rounding) when there are at least
    ``d_in + 1`` of them. The second value is the smallest singular value of the
    normalised points ``[x, 1]`` relative to the next one (``nan`` when too few).
    """
    ref = group[0].hyperplane
    hs = np.array([c.hyperplane if c.hyperplane @ ref >= 0 else -c.hyperplane for c in group])
    h = hs.mean(axis=0)
    h /= np.linalg.norm(h)
    P = np.array([np.append(x, 1.0) for x in [c.point for c in group] + list(extra)])
    if P.shape[0] < P.shape[1]:
        return h, float("nan")
    P /= np.linalg.norm(P, axis=1, keepdims=True)
    _, s, vt = np.linalg.svd(P)
    fit = vt[-1] if vt[-1] @ h >= 0 else -vt[-1]
    fit /= np.linalg.norm(fit)
    flatness = float(s[-1] / s[-2])
    if flatness <= 1e-9 and np.linalg.norm(fit - h) <= 1e-6:
        h = fit
    return h, flatness


def _check_common(query, d_in, n_lines, radius, n_grid, max_depth, rtol, min_support):
    d_in = positive_int(d_in, "d_in")
    n_lines = positive_int(n_lines, "n_lines")
    radius = positive_number(radius, "radius")
    n_grid = int_at_least(n_grid, "n_grid", 4)
    max_depth = int_at_least(max_depth, "max_depth", 0)
    rtol = positive_number(rtol, "rtol")
    min_support = positive_int(min_support, "min_support")
    if min_support > n_lines:
        raise ValueError(
            f"min_support must be <= n_lines={n_lines} (a neuron is kept when seen on at "
            f"least min_support lines), got {min_support}"
        )
    return _Oracle(query, d_in), d_in, n_lines, radius, n_grid, max_depth, rtol, min_support


def _find_hyperplanes(oracle, rng, d_in, n_lines, radius, n_grid, max_depth, rtol, min_support):
    points = _critical_points(oracle, rng, d_in, n_lines, radius, n_grid, max_depth, rtol)
    groups = _merge(points, 1e-6)
    groups = [g for g in groups if len({c.line for c in g}) >= min_support]
    return points, groups


# ---------------------------------------------------------------------------------------
# 2. signs and output layer (one hidden layer)


def _resolve_signs(U: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float]:
    """The 0/1 vector ``beta`` with ``U @ beta = target`` (U: (d, n)); and its margin.

    Columns are split into a pivot set (QR with column pivoting, numerical rank r) and
    the rest; every 0/1 assignment of the ``n - r`` others fixes the pivot entries by
    least squares, and the assignment whose pivot entries are closest to 0/1 wins.
    """
    import scipy.linalg

    d, n = U.shape
    if n == 0:
        return np.zeros(0), 0.0
    _, R, perm = scipy.linalg.qr(U, mode="economic", pivoting=True)
    diag = np.abs(np.diag(R))
    r = int(np.sum(diag > 1e-9 * max(diag[0], 1e-300)))
    piv, free = perm[:r], perm[r:]
    if free.size > _MAX_FREE_SIGNS:
        raise RuntimeError(
            f"resolving the signs of {n} neurons in {d} input dimensions needs 2^{free.size} "
            f"trials (more than 2^{_MAX_FREE_SIGNS}); this extraction supports n_neurons - "
            f"d_in <= {_MAX_FREE_SIGNS}"
        )
    B = np.array(list(itertools.product((0.0, 1.0), repeat=free.size)), dtype=np.float64)
    B = B.reshape(2**free.size, free.size)
    rhs = target[:, None] - U[:, free] @ B.T  # (d, 2^k)
    bp = np.linalg.lstsq(U[:, piv], rhs, rcond=None)[0]  # (r, 2^k)
    dist = np.max(np.abs(bp - np.round(bp)), axis=0) if r else np.zeros(B.shape[0])
    resid = np.linalg.norm(U[:, piv] @ np.round(bp) - rhs, axis=0) / (
        1.0 + np.linalg.norm(U, axis=0).sum()
    )
    score = dist + resid
    best = int(np.argmin(score))
    beta = np.zeros(n)
    beta[piv] = np.clip(np.round(bp[:, best]), 0.0, 1.0)
    beta[free] = B[best]
    return beta, float(score[best])


def extract_one_hidden_layer(
    query: Query,
    d_in: int,
    *,
    key: jax.Array,
    n_lines: int = 10,
    radius: float = 1.0,
    n_grid: int = 64,
    max_depth: int = 8,
    rtol: float = 1e-10,
    min_support: int = 2,
) -> ExtractionResult:
    r"""Recover a one-hidden-layer ReLU network ``x -> a . relu(W x + b) + c`` from queries.

    Parameters
    ----------
    query : callable
        The black box, ``X`` of shape ``(B, d_in)`` (float64) -> ``(B,)`` values. Every
        row sent is counted in ``ExtractionResult.queries``.
    d_in : int
        The input dimension.
    key : PRNGKeyArray
        JAX PRNG key for the random lines.
    n_lines : int
        Random lines searched for critical points (each neuron must be crossed by
        ``min_support`` of them within the searched segment).
    radius : float
        The input scale: lines pass through ``N(0, radius^2 I)`` points and span
        ``t in [-5 radius sqrt(d_in), +5 radius sqrt(d_in)]``.
    n_grid : int
        Grid intervals per line before refinement (>= 4).
    max_depth : int
        Refinement levels around a kink that the single-kink test rejects.
    rtol : float
        Flatness threshold of a second difference, relative to ``1 + max |f|`` on the
        line (must exceed the rounding of ``query``; 1e-10 suits float64).
    min_support : int
        A hyperplane is kept when seen on at least this many lines (<= ``n_lines``).

    Returns
    -------
    ExtractionResult
        ``params = [(W1, b1), (W2, b2)]``: equal to the teacher modulo permutation and
        positive rescaling of hidden neurons (hidden rows ``(w_j, b_j)`` of unit norm),
        up to rounding when every neuron was found.

    Raises
    ------
    ValueError
        Bad arguments (``d_in`` not a positive integer, ...), or ``query`` returning a
        wrong shape or non-finite values (checked on every call, before use).
    RuntimeError
        No critical point found (a linear function, or a radius missing every
        hyperplane), or more than 20 neurons beyond the rank of their normals (the sign
        enumeration).

    See Carlini, Jagielski, Mironov (CRYPTO 2020) and Rolnick, Kording (ICML 2020); the
    module docstring gives the algorithm.

    Examples
    --------
    >>> import jax
    >>> import numpy as np
    >>> from jaxorth.identifiability import extract_one_hidden_layer, parameter_distance
    >>> W1 = np.array([[1.0, 0.5], [-0.5, 1.0], [0.3, -1.0]])
    >>> b1, W2, b2 = np.array([0.1, -0.2, 0.05]), np.array([[1.0, -2.0, 0.5]]), np.array([0.3])
    >>> def query(X):  # the black box: a 2-3-1 ReLU network, (B, 2) -> (B,)
    ...     return np.maximum(X @ W1.T + b1, 0.0) @ W2[0] + b2[0]
    >>> result = extract_one_hidden_layer(query, 2, key=jax.random.key(0))
    >>> teacher = [(W1, b1), (W2, b2)]
    >>> result.n_neurons, bool(parameter_distance(teacher, result.params, relative=True) < 1e-9)
    (3, True)
    """
    oracle, d_in, n_lines, radius, n_grid, max_depth, rtol, min_support = _check_common(
        query, d_in, n_lines, radius, n_grid, max_depth, rtol, min_support
    )
    rng = numpy_rng(key)
    points, groups = _find_hyperplanes(
        oracle, rng, d_in, n_lines, radius, n_grid, max_depth, rtol, min_support
    )
    if not groups:
        raise RuntimeError(
            f"no critical point was found on {n_lines} lines ({oracle.count} queries): the "
            f"function looks linear on the searched region (increase radius or n_lines)"
        )
    H = []
    for g in groups:
        h0 = _hyperplane(g, [])[0]
        n_probes = max(d_in + 2 - len(g), 0)
        extra = _probe(oracle, h0, g[0].point, rng, n_probes, radius, 8, rtol)
        H.append(_hyperplane(g, extra)[0])
    H = np.array(H)  # (n, d_in + 1), unit rows
    n = H.shape[0]
    # fit points: both sides of every critical point (already queried) + fresh ones
    X_side = np.array([s for c in points for s in c.sides])
    y_side = np.array([v for c in points for v in c.values])
    X_new = rng.normal(size=(2 * (n + d_in + 1), d_in)) * radius
    X = np.vstack([X_side, X_new])
    y = np.concatenate([y_side, oracle(X_new)])
    Z = X @ H[:, :-1].T + H[:, -1]
    ones = np.ones((X.shape[0], 1))
    coef = np.linalg.lstsq(np.hstack([np.maximum(Z, 0.0), X, ones]), y, rcond=None)[0]
    alpha, lin = coef[:n], coef[n : n + d_in]
    # f = sum_j alpha_j relu(z_j) - sum_{flipped} alpha_j z_j + c  =>  lin = -U beta
    beta, margin = _resolve_signs(H[:, :-1].T * alpha, -lin)
    sigma = 1.0 - 2.0 * beta
    H = H * sigma[:, None]
    feats = np.hstack([np.maximum(X @ H[:, :-1].T + H[:, -1], 0.0), ones])
    out = np.linalg.lstsq(feats, y, rcond=None)[0]
    resid = float(np.max(np.abs(feats @ out - y)) / (1.0 + np.max(np.abs(y))))
    params = [
        (H[:, :-1].copy(), H[:, -1].copy()),
        (out[None, :n].copy(), out[n:].copy()),
    ]
    return ExtractionResult(
        params=params,
        queries=oracle.count,
        n_critical_points=len(points),
        n_neurons=n,
        support=tuple(len({c.line for c in g}) for g in groups),
        fit_residual=resid,
        sign_margin=margin,
    )


def _first_layer(
    oracle, rng, d_in, n_lines, radius, n_grid, max_depth, rtol, min_support, n_checks
):
    """Critical points and the straight hyperplanes among them (see extract_first_layer)."""
    points, groups = _find_hyperplanes(
        oracle, rng, d_in, n_lines, radius, n_grid, max_depth, rtol, min_support
    )
    H, support = [], []
    for g in groups:
        h0 = _hyperplane(g, [])[0]
        n_probes = max(d_in + 2 - len(g), 0)
        extra = _probe(oracle, h0, g[0].point, rng, n_probes, radius, 8, rtol)
        far = _probe(oracle, h0, g[0].point, rng, n_checks, radius, 8, rtol, _CHECK_SPREAD)
        if len(far) < n_checks:
            continue
        h, flatness = _hyperplane(g, extra + far)
        if not flatness <= 1e-9:
            continue
        H.append(_canonical_sign(h))
        support.append(len({c.line for c in g}))
    return points, np.array(H).reshape(-1, d_in + 1), tuple(support)


def extract_first_layer(
    query: Query,
    d_in: int,
    *,
    key: jax.Array,
    n_lines: int = 10,
    radius: float = 1.0,
    n_grid: int = 64,
    max_depth: int = 8,
    rtol: float = 1e-10,
    min_support: int = 2,
    n_checks: int = 4,
) -> ExtractionResult:
    r"""Recover the first hidden layer of a deep ReLU network from queries (hyperplanes).

    Critical points are located as in :func:`extract_one_hidden_layer`. A first-layer
    neuron's critical points lie on one hyperplane everywhere, while a deeper neuron's
    bend at the boundaries of the layers before it (Rolnick and Kording, ICML 2020,
    section 4): a candidate hyperplane is kept when it is seen on ``min_support`` lines
    and at least ``n_checks`` probes at far-apart points of it (random steps of length
    ~``radius`` inside the hyperplane) find a kink exactly on it, all the points fitting
    one hyperplane to rounding. A first-layer neuron is missed where no line crosses it
    or where it has no effect on the output (every path after it dead).

    Parameters
    ----------
    query, d_in, key, n_lines, radius, n_grid, max_depth, rtol, min_support
        As in :func:`extract_one_hidden_layer`.
    n_checks : int
        Far probes that must find the hyperplane away from where it was seen.

    Returns
    -------
    ExtractionResult
        ``params = [(W1, b1)]``: one row per recovered first-layer neuron,
        ``||(w_j, b_j)|| = 1``, orientation (sign) not resolved: the row equals ``+-``
        the teacher's normalised row. ``fit_residual`` and ``sign_margin`` are ``nan``.

    Examples
    --------
    >>> import jax
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> widths = (3, 4, 3, 1)  # a teacher with two hidden layers, He-normal weights
    >>> teacher = [(rng.normal(size=(o, i)) * np.sqrt(2 / i), 0.1 * rng.normal(size=o))
    ...            for i, o in zip(widths[:-1], widths[1:])]
    >>> def query(X):
    ...     for W, b in teacher[:-1]:
    ...         X = np.maximum(X @ W.T + b, 0.0)
    ...     return X @ teacher[-1][0][0] + teacher[-1][1][0]
    >>> from jaxorth.identifiability import extract_first_layer, hyperplane_distance
    >>> result = extract_first_layer(query, 3, key=jax.random.key(0))
    >>> result.n_neurons, bool(hyperplane_distance(result.params[0], teacher[0]) < 1e-9)
    (4, True)
    """
    oracle, d_in, n_lines, radius, n_grid, max_depth, rtol, min_support = _check_common(
        query, d_in, n_lines, radius, n_grid, max_depth, rtol, min_support
    )
    n_checks = positive_int(n_checks, "n_checks")
    rng = numpy_rng(key)
    points, H, support = _first_layer(
        oracle, rng, d_in, n_lines, radius, n_grid, max_depth, rtol, min_support, n_checks
    )
    return ExtractionResult(
        params=[(H[:, :-1].copy(), H[:, -1].copy())],
        queries=oracle.count,
        n_critical_points=len(points),
        n_neurons=H.shape[0],
        support=support,
        fit_residual=float("nan"),
        sign_margin=float("nan"),
    )


# ---------------------------------------------------------------------------------------
# 3. the second hidden layer: walking each second-layer neuron's bent critical surface


def _kink_near(oracle, p, u, width, rtol):
    """The kinks of ``t -> f(p + t u)`` on ``[-width, width]`` (single-kink located)."""

    def f_line(ts):
        return oracle(p[None, :] + ts[:, None] * u[None, :])

    t = np.linspace(-width, width, 17)
    y = f_line(t)
    kinks: list[tuple[float, float, float]] = []
    _line_kinks(f_line, t, y, rtol * (1.0 + np.max(np.abs(y))), 0, 3, False, False, kinks)
    return [k[0] for k in kinks]


def _jump(oracle, x, u, eps):
    """Gradient jump ``g(x + eps u) - g(x - eps u)`` by forward differences."""
    gp, _ = _gradient(oracle, x + eps * u, 0.3 * eps)
    gm, _ = _gradient(oracle, x - eps * u, 0.3 * eps)
    return gp - gm


def _walk(oracle, H, x, J, radius, rtol, max_steps):
    """Walk the critical surface of one second-layer neuron from its point ``x``.

    In the region of ``x`` the surface is the plane through ``x`` with normal ``J`` (the
    gradient jump, ``+- a_k`` times the gradient of the neuron's pre-activation ``y_k``).
    The walk moves inside that plane towards a first-layer hyperplane ``j`` not yet
    crossed, steps across the first one it meets, finds the surface again on the other
    side (it is continuous) and measures the new jump ``J'``. With ``s_j`` the side
    ``1[z_j > 0]`` and ``sigma_j`` the unknown orientation of first-layer neuron ``j``,

        J(region) = sum_j tau_j s_j(region) w_j - sum_{sigma_j = -1} tau_j w_j,

    where ``tau_j`` is, up to one factor per neuron, its weight on first-layer neuron j
    (Rolnick and Kording's bending of second-layer boundaries, written for the gradient
    jumps): each crossing of ``j`` gives ``J' - J = +- tau_j w_j``. Returns ``tau``
    (``nan`` where ``j`` was never crossed), the constant vector
    ``const = J - sum_j tau_j s_j w_j`` and a point on the surface.
    """
    n1 = H.shape[0]
    Wn, bn = H[:, :-1], H[:, -1]
    tau = np.full(n1, np.nan)
    pieces = [(x, J, (x @ Wn.T + bn) > 0)]
    for _ in range(max_steps):
        todo = np.flatnonzero(np.isnan(tau))
        if todo.size == 0:
            break
        n = J / np.linalg.norm(J)
        z = x @ Wn.T + bn
        progress = False
        for target in todo:
            m = Wn[target] - (Wn[target] @ n) * n
            if np.linalg.norm(m) < 1e-6:
                continue
            m /= np.linalg.norm(m)
            if -z[target] / (Wn[target] @ m) < 0:
                m = -m
            rate = Wn @ m
            with np.errstate(divide="ignore", invalid="ignore"):
                ts = -z / rate
            ts[~(ts > 1e-12)] = np.inf
            order = np.argsort(ts)
            i = int(order[0])
            if not np.isfinite(ts[i]) or ts[i] > 50 * radius:
                continue
            q = x + ts[i] * m  # on hyperplane i and on the surface
            # the search stays in a ball around q that no other hyperplane meets
            dq = np.abs(q @ Wn.T + bn) / np.linalg.norm(Wn, axis=1)
            dq[i] = np.inf
            delta = min(0.02 * np.min(dq), 0.002 * radius)
            # in the 2-D section through q spanned by m and n, the surface beyond
            # hyperplane i is a ray from q: search it on the segment parallel to the
            # trace of hyperplane i at distance delta inside the new region
            wi = Wn[i]
            e2 = (wi @ m) * m + (wi @ n) * n
            e2 /= np.linalg.norm(e2)
            if (wi @ e2) * (wi @ m) < 0:
                e2 = -e2
            if e2 @ m < 0:
                e2 = -e2
            e1 = (wi @ n) * m - (wi @ m) * n
            e1 /= np.linalg.norm(e1)
            base = q + delta * e2
            side = (base @ Wn.T + bn) > 0
            found = _kink_near(oracle, base, e1, 20 * delta, rtol)
            cands = []
            for tk in found:
                xk = base + tk * e1
                zk = xk @ Wn.T + bn
                dist = np.min(np.abs(zk) / np.linalg.norm(Wn, axis=1))
                if dist > 1e-7 * radius and np.array_equal(zk > 0, side):
                    cands.append((abs(tk), tk, xk, dist))
            if not cands:
                continue
            best = None
            for _, tk, xk, dist in sorted(cands, key=lambda c: c[0]):
                others = [abs(tk - t0) for t0 in found if t0 != tk]
                eps = 0.1 * min([dist, delta, *others])
                Jk = _jump(oracle, xk, e1, eps)
                for sgn in (1.0, -1.0):
                    d = sgn * Jk - J
                    coef = (d @ wi) / (wi @ wi)
                    res = np.linalg.norm(d - coef * wi) / (np.linalg.norm(J) + np.linalg.norm(Jk))
                    if best is None or res < best[0]:
                        best = (res, sgn, coef, xk, Jk)
                if best[0] <= 1e-6:
                    break
            res, sgn, coef, xk, Jk = best
            if res > 1e-6:
                continue
            ds = float(side[i]) - float(pieces[-1][2][i])
            if np.isnan(tau[i]):
                tau[i] = coef / ds
            x, J = xk, sgn * Jk
            pieces.append((x, J, side))
            progress = True
            break
        if not progress:
            break
    return tau, pieces


def _explains(tau, pieces, Wn, side, J):
    """Whether a walked neuron predicts the gradient jump ``J`` at a point of ``side``."""
    x0, J0, s0 = pieces[0]
    differ = side != s0
    if np.isnan(tau[differ]).any():
        return False
    pred = J0 + ((side.astype(float) - s0) * np.nan_to_num(tau)) @ Wn
    return min(np.linalg.norm(J - pred), np.linalg.norm(J + pred)) <= 1e-6 * np.linalg.norm(J)


def _merge_walk(neuron, tau, pieces) -> bool:
    """Merge a walk into ``neuron`` when their weights agree up to one factor on >= 2."""
    common = ~np.isnan(neuron[0]) & ~np.isnan(tau)
    if common.sum() < 2:
        return False
    ratio = tau[common] / neuron[0][common]
    if np.max(np.abs(ratio - ratio[0])) > 1e-4 * abs(ratio[0]):
        return False
    r = ratio[0]
    fill = np.isnan(neuron[0]) & ~np.isnan(tau)
    neuron[0][fill] = tau[fill] / r
    neuron[1].extend((x, J / r, s) for x, J, s in pieces)
    return True


def _forward(params, X):
    h = X
    for W, b in params[:-1]:
        h = np.maximum(h @ W.T + b, 0.0)
    W, b = params[-1]
    return (h @ W.T + b)[:, 0]


def _gauss_newton(params, X, y, n_iter):
    """Gauss-Newton steps on sum (f_theta(x_i) - y_i)^2 for a 2-hidden-layer network.

    From a close start the activation patterns are right and each step is the
    least-squares (minimum-norm: the rescaling symmetries leave directions free) solution
    of the linearised problem; a step is kept only when it lowers the residual.
    """
    (W1, b1), (W2, b2), (W3, b3) = [(W.copy(), b.copy()) for W, b in params]
    best = np.linalg.norm(_forward(params, X) - y)
    for _ in range(n_iter):
        u1 = X @ W1.T + b1
        h1 = np.maximum(u1, 0.0)
        u2 = h1 @ W2.T + b2
        h2 = np.maximum(u2, 0.0)
        g2 = W3[0] * (u2 > 0)
        g1 = (g2 @ W2) * (u1 > 0)
        Jac = np.hstack(
            [
                (g1[:, :, None] * X[:, None, :]).reshape(len(X), -1),
                g1,
                (g2[:, :, None] * h1[:, None, :]).reshape(len(X), -1),
                g2,
                h2,
                np.ones((len(X), 1)),
            ]
        )
        r = h2 @ W3[0] + b3[0] - y
        step = np.linalg.lstsq(Jac, -r, rcond=None)[0]
        sizes = [W1.size, b1.size, W2.size, b2.size, W3.size, b3.size]
        parts = np.split(step, np.cumsum(sizes)[:-1])
        cand = [
            (W1 + parts[0].reshape(W1.shape), b1 + parts[1]),
            (W2 + parts[2].reshape(W2.shape), b2 + parts[3]),
            (W3 + parts[4].reshape(W3.shape), b3 + parts[5]),
        ]
        new = np.linalg.norm(_forward(cand, X) - y)
        if not new < best:
            break
        best = new
        (W1, b1), (W2, b2), (W3, b3) = cand
    return [(W1, b1), (W2, b2), (W3, b3)]


def extract_two_hidden_layers(
    query: Query,
    d_in: int,
    *,
    key: jax.Array,
    n_lines: int = 10,
    radius: float = 1.0,
    n_grid: int = 64,
    max_depth: int = 8,
    rtol: float = 1e-10,
    min_support: int = 2,
    n_checks: int = 4,
) -> ExtractionResult:
    r"""Recover a ReLU network with two hidden layers and a scalar output (experimental).

    **Not reliable yet**: exact (parameter error ~1e-14) on some teachers, incomplete
    on others (a missed or duplicated second-layer neuron); always read
    ``fit_residual`` (~1e-15 when the recovery is exact, >= 1e-4 when it is not) and
    ``n_neurons``. Steps:

    1. The first layer's hyperplanes as in :func:`extract_first_layer` (orientations
       unknown).
    2. Every critical point off those hyperplanes belongs to a second-layer neuron; from
       one such point the neuron's bent critical surface is walked across the
       first-layer hyperplanes (``_walk``), giving its incoming weights up to one factor.
       A point whose gradient jump a walked neuron predicts starts no new walk; walks of
       the same neuron are merged (weights agreeing up to one factor on >= 2 entries).
    3. The first-layer orientations solve the stacked 0/1 least-squares system of the
       neurons whose walk crossed every hyperplane (rounded; ``sign_margin`` is the
       worst rounding). Weights a walk missed follow from its pieces when the missing
       first-layer neurons are active on the surface; otherwise they start at 0. Each
       second-layer neuron's bias makes its pre-activation vanish on its surface; its
       orientation and the output layer come from a least-squares fit of ``f`` on
       ``relu(y_k)``, ``y_k`` and 1 (``relu(-y) = relu(y) - y``: a flipped neuron shows a
       coefficient ``-alpha_k`` on ``y_k``), then a fit without the ``y_k`` terms and a
       few Gauss-Newton steps on all parameters (fit points: both sides of every critical
       point and ``3 E`` fresh queries, ``E`` the number of parameters).

    Arguments are those of :func:`extract_first_layer`. ``params`` has three layers,
    hidden rows ``(w, b)`` of unit norm before the Gauss-Newton polish (which may move
    them slightly off 1). ``n_neurons`` counts the hidden neurons of both layers;
    ``support`` lists, per second-layer neuron, the surface pieces its walks measured.
    Costs far more queries than one hidden layer (~3e4 for 4-8-8-1, ~2e5 for
    10-15-15-1).

    Raises ``RuntimeError`` when no first-layer hyperplane, no walkable second-layer
    neuron or no neuron whose walk crossed every first-layer hyperplane was found.

    References: Rolnick and Kording (ICML 2020), section 4 (bending of deeper
    boundaries); Carlini, Jagielski and Mironov (CRYPTO 2020), sign recovery.

    Examples
    --------
    >>> import jax
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> widths = (3, 4, 3, 1)  # a teacher with two hidden layers, He-normal weights
    >>> teacher = [(rng.normal(size=(o, i)) * np.sqrt(2 / i), 0.1 * rng.normal(size=o))
    ...            for i, o in zip(widths[:-1], widths[1:])]
    >>> def query(X):
    ...     for W, b in teacher[:-1]:
    ...         X = np.maximum(X @ W.T + b, 0.0)
    ...     return X @ teacher[-1][0][0] + teacher[-1][1][0]
    >>> from jaxorth.identifiability import extract_two_hidden_layers, parameter_distance
    >>> result = extract_two_hidden_layers(query, 3, key=jax.random.key(0))
    >>> result.n_neurons, bool(result.fit_residual < 1e-12)  # exact on this teacher
    (7, True)
    """
    oracle, d_in, n_lines, radius, n_grid, max_depth, rtol, min_support = _check_common(
        query, d_in, n_lines, radius, n_grid, max_depth, rtol, min_support
    )
    n_checks = positive_int(n_checks, "n_checks")
    rng = numpy_rng(key)
    points, H, _ = _first_layer(
        oracle, rng, d_in, n_lines, radius, n_grid, max_depth, rtol, min_support, n_checks
    )
    n1 = H.shape[0]
    if n1 == 0:
        raise RuntimeError("no first-layer hyperplane was found (increase radius or n_lines)")
    Wn, bn = H[:, :-1], H[:, -1]
    wnorm = np.linalg.norm(Wn, axis=1)
    second = [c for c in points if np.min(np.abs(c.point @ Wn.T + bn) / wnorm) > 1e-7 * radius]
    neurons: list[list] = []  # [tau, pieces]; pieces: (x, J, side)
    for c in second:
        s = (c.point @ Wn.T + bn) > 0
        J = c.jump
        if any(_explains(tau, pieces, Wn, s, J) for tau, pieces in neurons):
            continue
        tau, pieces = _walk(oracle, H, c.point, J, radius, rtol, 6 * n1)
        if len(pieces) < 2:
            continue
        for other in neurons:
            if _merge_walk(other, tau, pieces):
                break
        else:
            neurons.append([tau, pieces])
    neurons = [nrn for nrn in neurons if np.sum(~np.isnan(nrn[0])) >= 2]
    if not neurons:
        raise RuntimeError("no second-layer neuron could be walked across the first layer")
    # first-layer orientations from the complete neurons: for every piece,
    # J = sum_j tau_j (s_j - beta_j) w_j with beta_j = 1[sigma_j = -1]
    rows, rhs = [], []
    for tau, pieces in neurons:
        if np.isnan(tau).any():
            continue
        for _x, J, side in pieces:
            rows.append(-(tau[:, None] * Wn).T)
            rhs.append(J - (tau * side) @ Wn)
    if not rows:
        raise RuntimeError(
            "no second-layer neuron's surface crossed every first-layer hyperplane: the "
            "first layer's orientations are not resolved (increase n_lines or radius)"
        )
    beta_ls = np.linalg.lstsq(np.vstack(rows), np.concatenate(rhs), rcond=None)[0]
    beta = np.clip(np.round(beta_ls), 0.0, 1.0)
    margin = float(np.max(np.abs(beta_ls - beta)))
    sigma = 1.0 - 2.0 * beta
    H1 = H * sigma[:, None]

    def hidden1(X):
        return np.maximum(X @ H1[:, :-1].T + H1[:, -1], 0.0)

    # incomplete neurons: the missing weights of first-layer neurons active on their
    # surface follow from the pieces; those inactive on all of it stay 0 (refined below)
    filled = []  # [tau, determined, pieces]
    for tau, pieces in neurons:
        tau = tau.copy()
        det = ~np.isnan(tau)
        miss = np.flatnonzero(~det)
        if miss.size:
            known = np.where(det, tau, 0.0)
            M = np.vstack(
                [((side[miss] - beta[miss])[:, None] * Wn[miss]).T for _, _, side in pieces]
            )
            r = np.concatenate([J - (known * (side - beta)) @ Wn for _, J, side in pieces])
            nz = np.linalg.norm(M, axis=0) > 1e-9 * np.linalg.norm(M)
            sol, _, rank, _ = np.linalg.lstsq(M[:, nz], r, rcond=None)
            if rank == nz.sum():  # the pieces determine these weights
                tau[miss[nz]] = sol
                det[miss[nz]] = True
        filled.append([np.where(det, tau, np.nan), pieces])
    # the same neuron walked from two places: merge (repeat until nothing changes)
    merged = True
    while merged:
        merged = False
        for i in range(len(filled)):
            for j in range(i + 1, len(filled)):
                if _merge_walk(filled[i], filled[j][0], filled[j][1]):
                    del filled[j]
                    merged = True
                    break
            if merged:
                break
    T, cvec, support = [], [], []
    for tau, pieces in filled:
        tau = np.nan_to_num(tau)
        # a walk that strayed onto another neuron's surface contradicts its own pieces
        err = max(
            np.linalg.norm(J - (tau * (side - beta)) @ Wn) / np.linalg.norm(J)
            for _, J, side in pieces
        )
        if err > 1e-5:
            continue
        T.append(tau)
        support.append(len(pieces))
        cvec.append(-np.mean([hidden1(x[None, :])[0] @ tau for x, _, _ in pieces]))
    if not T:
        raise RuntimeError("no second-layer neuron was recovered consistently")
    T = np.array(T)
    n2 = T.shape[0]
    H2 = np.hstack([T, np.array(cvec)[:, None]])
    H2 /= np.linalg.norm(H2, axis=1, keepdims=True)
    n_params = n1 * (d_in + 1) + n2 * (n1 + 1) + n2 + 1
    X_new = rng.normal(size=(3 * n_params, d_in)) * radius
    X = np.vstack([np.array([sd for c in points for sd in c.sides]), X_new])
    y = np.concatenate([np.array([v for c in points for v in c.values]), oracle(X_new)])
    Y2 = hidden1(X) @ H2[:, :-1].T + H2[:, -1]
    ones = np.ones((X.shape[0], 1))
    coef = np.linalg.lstsq(np.hstack([np.maximum(Y2, 0.0), Y2, ones]), y, rcond=None)[0]
    pr, qlin = coef[:n2], coef[n2 : 2 * n2]
    flip = np.where(np.abs(qlin + pr) < np.abs(qlin), -1.0, 1.0)
    H2 = H2 * flip[:, None]
    feats = np.hstack([np.maximum(hidden1(X) @ H2[:, :-1].T + H2[:, -1], 0.0), ones])
    out = np.linalg.lstsq(feats, y, rcond=None)[0]
    params = [
        (H1[:, :-1].copy(), H1[:, -1].copy()),
        (H2[:, :-1].copy(), H2[:, -1].copy()),
        (out[None, :n2].copy(), out[n2:].copy()),
    ]
    params = _gauss_newton(params, X, y, 8)
    resid = float(np.max(np.abs(_forward(params, X) - y)) / (1.0 + np.max(np.abs(y))))
    return ExtractionResult(
        params=params,
        queries=oracle.count,
        n_critical_points=len(points),
        n_neurons=n1 + n2,
        support=tuple(support),
        fit_residual=resid,
        sign_margin=margin,
    )
