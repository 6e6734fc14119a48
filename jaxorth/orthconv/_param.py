"""Explicit-kernel parametrization of exact orthogonal circular convolutions.

Every orthogonal circular convolution shape that exists (Achour, Malgouyres, Mamalet,
JMLR 2022, Theorem 1: row-orthogonal needs ``M <= C k^d``, column-orthogonal needs
``S <= k``) is reached by one of four compositions of orthogonal pieces, each an
explicit kernel, so that the layer is applied as ONE plain circular convolution with a
kernel of exactly the requested size ``k``:

==========================  ===================================================  =========
case                        kernel (``A o B``: B applied first)                  BCOP on
==========================  ===================================================  =========
``S = 1, M <= C`` (RO)      ``W o BCOP_C(k)``, ``W`` (M, C) orthonormal rows      C chans
``S = 1, M > C``  (CO)      ``BCOP_M(k) o W``, ``W`` (M, C) orthonormal columns   M chans
``1 < S <= k`` (RO or CO)   ``RKO_S(R) o BCOP_C(k - S + 1)``                       C chans
``S > k`` (RO only)         ``RKO_k(R)``                                         none
==========================  ===================================================  =========

- ``BCOP_n(s)`` (block convolution orthogonal parametrization, Li et al., NeurIPS 2019,
  section 3): the stride-1 convolution ``n -> n`` with ``s`` taps per axis obtained as a
  product of ``d (s - 1)`` two-tap convolutions ``[P, I - P]`` along alternating axes,
  ``P = Q Q^T`` a symmetric projector with ``Q`` of shape ``(n, r)`` orthonormal. Each
  factor is orthogonal (its symbol ``P + (I - P) e^{i w}`` is unitary), so the product is.
- ``RKO_s(R)`` (reshaped kernel orthogonalization, Serrurier et al. 2021; Achour et al.
  2022, section 2): a matrix ``R`` of shape ``(M, C s^d)`` with orthonormal rows (if
  ``M <= C s^d``) or columns, reshaped into an ``(M, C, s, ..., s)`` kernel and applied with
  stride ``S >= s``: the windows do not overlap, so the layer matrix is block diagonal with
  blocks ``R`` (and zero columns when ``S > s``): RO/CO exactly as ``R``.
- Composition: the kernel of ``conv_S(K_2) o conv_1(K_1)`` is the full convolution of the
  kernels, ``K[t] = sum_{a + b = t} K_2[b] K_1[a]`` (:func:`compose_kernels`), of size
  ``k_1 + k_2 - 1``; it equals the composition up to a circular shift of the input (the
  tap offsets ``p = (k - 1) // 2`` of :func:`~jaxorth.orthconv.conv` do not add up), which
  is a permutation and changes no singular value. RO o (orthogonal) is RO and
  (CO) o CO is CO, hence every case above is exactly orthogonal.

The matrices (``Q`` and ``R``/``W``) are produced from unconstrained parameters by
:func:`~jaxorth.linalg.bjorck` (default), :func:`~jaxorth.linalg.cayley` or
:func:`~jaxorth.linalg.skew_expm` (the last two on a square parameter, then sliced).
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from jaxorth.linalg import bjorck, cayley, skew_expm

from ._conv import _check_values
from ._exists import check_orthogonal_conv

__all__ = [
    "OrthConvPlan",
    "bcop_kernel",
    "compose_kernels",
    "init_orth_conv_params",
    "orth_conv_kernel",
    "orth_conv_plan",
    "orthonormal_from_param",
    "rko_kernel",
]

Method = Literal["bjorck", "cayley", "expm"]
_METHODS = ("bjorck", "cayley", "expm")


class OrthConvPlan(NamedTuple):
    """Static structure of an exact orthogonal convolution (see :func:`orth_conv_plan`).

    Attributes
    ----------
    out_channels, in_channels, kernel_size, stride, ndim : int
        ``M, C, k, S, d``.
    mode : str
        ``"RO"`` (``M <= C S^d``, ``A A^T = I``) or ``"CO"`` (``A^T A = I``).
    bcop_channels : int
        Channels ``n`` the BCOP projectors act on (``C``, or ``M`` in the CO stride-1 case).
    bcop_size : int
        Taps per axis of the BCOP factor (``1``: no BCOP factor).
    rank : int
        Rank ``r`` of each projector ``P = Q Q^T``.
    matrix_shape : tuple[int, int]
        Shape ``(M, C s^d)`` of the orthonormal matrix ``R`` (``W`` when ``s = 1``).
    matrix_size : int
        Taps per axis ``s`` of the reshaped matrix kernel (``1``, ``S`` or ``k``).
    matrix_first : bool
        ``True`` when ``W`` is applied before the BCOP factor (CO, stride 1).

    Examples
    --------
    >>> from jaxorth.orthconv import orth_conv_plan
    >>> plan = orth_conv_plan(4, 16, 3)  # M = 4 <= C = 16, stride 1: row-orthogonal
    >>> plan.mode, plan.matrix_shape, plan.bcop_size  # W: 4 x 16, a BCOP factor of k = 3 taps
    ('RO', (4, 16), 3)
    """

    out_channels: int
    in_channels: int
    kernel_size: int
    stride: int
    ndim: int
    mode: str
    bcop_channels: int
    bcop_size: int
    rank: int
    matrix_shape: tuple[int, int]
    matrix_size: int
    matrix_first: bool

    @property
    def n_projectors(self) -> int:
        """Number of two-tap factors ``d (bcop_size - 1)``."""
        return self.ndim * (self.bcop_size - 1)


def orth_conv_plan(
    out_channels: int,
    in_channels: int,
    kernel_size: int,
    stride: int = 1,
    ndim: int = 2,
    rank: int | None = None,
) -> OrthConvPlan:
    """Choose the factorization of an exact orthogonal convolution (table in the module doc).

    Parameters
    ----------
    out_channels, in_channels, kernel_size, stride, ndim : int
        ``M, C, k, S, d``.
    rank : int or None
        Rank of the BCOP projectors, ``1 <= rank <= n`` (default ``max(1, n // 2)``,
        ``n`` the BCOP channel count).

    Returns
    -------
    OrthConvPlan

    Raises
    ------
    ValueError
        If no orthogonal convolution of that shape exists (Achour et al. 2022, Theorem 1:
        the message names the violated condition and the numbers), or for a bad ``rank``.

    Examples
    --------
    >>> from jaxorth.orthconv import orth_conv_plan
    >>> plan = orth_conv_plan(32, 16, 3, stride=2)
    >>> plan.mode, plan.kernel_size, plan.stride
    ('RO', 3, 2)
    """
    mode = check_orthogonal_conv(
        out_channels, in_channels, kernel_size, stride, ndim, warn_square=False
    )
    m, c, k, s, d = out_channels, in_channels, kernel_size, stride, ndim
    if s == 1:
        n, size, msize, first = (c, k, 1, False) if m <= c else (m, k, 1, True)
    elif s <= k:
        n, size, msize, first = c, k - s + 1, s, False
    else:  # S > k: row-orthogonal only (checked above), windows do not overlap
        n, size, msize, first = c, 1, k, False
    if rank is None:
        rank = max(1, n // 2)
    if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= n:
        raise ValueError(f"rank must be an int in [1, {n}] (BCOP channels n={n}), got {rank!r}")
    return OrthConvPlan(
        out_channels=m,
        in_channels=c,
        kernel_size=k,
        stride=s,
        ndim=d,
        mode=mode,
        bcop_channels=n,
        bcop_size=size,
        rank=rank,
        matrix_shape=(m, c * msize**d),
        matrix_size=msize,
        matrix_first=first,
    )


def _check_method(method: str) -> None:
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")


def _param_shapes(plan: OrthConvPlan, method: str) -> dict[str, tuple[int, ...]]:
    n, r = plan.bcop_channels, plan.rank
    rows, cols = plan.matrix_shape
    if method == "bjorck":
        shapes = {"projectors": (plan.n_projectors, n, r), "matrix": (rows, cols)}
    else:
        big = max(rows, cols)
        shapes = {"projectors": (plan.n_projectors, n, n), "matrix": (big, big)}
    if plan.n_projectors == 0:
        del shapes["projectors"]
    return shapes


def orthonormal_from_param(
    param: Float[Array, "*batch p q"],
    shape: tuple[int, int],
    method: Method = "bjorck",
    n_iter: int = 15,
    order: int = 2,
) -> Float[Array, "*batch m n"]:
    """Map an unconstrained parameter to an ``(m, n)`` matrix with orthonormal rows or columns.

    ``bjorck``: the parameter has shape ``(m, n)`` and the result is its orthogonal polar
    factor (:func:`~jaxorth.linalg.bjorck`). ``cayley`` / ``expm``: the parameter is square
    ``(p, p)``, ``p = max(m, n)``, mapped to an orthogonal matrix
    (:func:`~jaxorth.linalg.cayley`, :func:`~jaxorth.linalg.skew_expm`) whose top-left
    ``(m, n)`` block is returned.

    Parameters
    ----------
    param : Float[Array, "*batch p q"]
        Unconstrained parameter (leading batch axes allowed).
    shape : tuple[int, int]
        Target ``(m, n)``.
    method : {"bjorck", "cayley", "expm"}
    n_iter, order : int
        Bjorck iterations and order (ignored by the other methods).

    Returns
    -------
    Float[Array, "*batch m n"]
        Orthonormal rows if ``m <= n``, orthonormal columns if ``m >= n``.

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth.orthconv import orthonormal_from_param
    >>> p = jax.random.normal(jax.random.key(0), (5, 5))
    >>> w = orthonormal_from_param(p, (3, 5), "cayley")  # 3 orthonormal rows
    >>> bool(jnp.allclose(w @ w.T, jnp.eye(3), atol=1e-5))
    True
    """
    _check_method(method)
    _check_values(param, "param")
    m, n = shape
    if method == "bjorck":
        if param.shape[-2:] != (m, n):
            raise ValueError(f"param must end with shape {(m, n)} for bjorck, got {param.shape}")
        return bjorck(param, n_iter=n_iter, order=order)
    p = max(m, n)
    if param.shape[-2:] != (p, p):
        raise ValueError(f"param must end with shape {(p, p)} for {method}, got {param.shape}")
    q = cayley(param) if method == "cayley" else skew_expm(param)
    return q[..., :m, :n]


def bcop_kernel(q: Float[Array, "L n r"], ndim: int) -> Float[Array, "n n *s"]:
    """Kernel of a product of two-tap orthogonal convolutions ``[P, I - P]`` (BCOP).

    Li, Haque, Anil, Lucas, Grosse, Jacobsen (NeurIPS 2019), section 3: with
    ``P_l = Q_l Q_l^T`` (``Q_l`` orthonormal columns), the factor ``l`` acts along spatial
    axis ``l mod d`` as ``z[i] = P_l x[i] + (I - P_l) x[i + 1]``; the factors are composed
    in order ``l = 0, 1, ...`` (factor 0 applied first), giving ``s = 1 + L / d`` taps per
    axis. Each factor is an orthogonal stride-1 convolution, so the result is one too
    (for any input size). ``P (X_0 - X_1) + X_1`` with ``P`` applied as ``Q (Q^T .)``
    keeps the cost at ``O(n r s^d)`` per factor.

    Parameters
    ----------
    q : Float[Array, "L n r"]
        ``L`` matrices with orthonormal columns (``L`` a multiple of ``ndim``; ``L = 0``
        gives the identity kernel).
    ndim : int
        Number of spatial axes ``d``.

    Returns
    -------
    Float[Array, "n n s_1 ... s_d"]
        ``s = 1 + L / d`` taps per axis; ``kernel[out, in, ...]``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.orthconv import bcop_kernel, lorth
    >>> q = jnp.array([[[1.0], [0.0]]])  # L = 1 factor with P = diag(1, 0), 1-D signals
    >>> kernel = bcop_kernel(q, 1)
    >>> kernel.shape  # (n, n, s), s = 1 + L / d = 2 taps
    (2, 2, 2)
    >>> kernel[:, :, 0].tolist(), kernel[:, :, 1].tolist()  # the taps [P, I - P]
    ([[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 1.0]])
    >>> float(lorth(kernel))  # an orthogonal convolution
    0.0
    """
    if q.ndim != 3 or q.shape[0] % ndim:
        raise ValueError(
            f"q must have shape (L, n, r) with L a multiple of ndim={ndim}, got {q.shape}"
        )
    n = q.shape[1]
    kernel = jnp.eye(n, dtype=q.dtype).reshape((n, n) + (1,) * ndim)
    for idx in range(q.shape[0]):
        ax = 2 + idx % ndim
        pad_hi = [(0, 0)] * kernel.ndim
        pad_lo = [(0, 0)] * kernel.ndim
        pad_hi[ax] = (0, 1)
        pad_lo[ax] = (1, 0)
        x0 = jnp.pad(kernel, pad_hi)  # tap t: X[t]      (P branch)
        x1 = jnp.pad(kernel, pad_lo)  # tap t: X[t - 1]  (I - P branch)
        qi = q[idx]
        proj = jnp.einsum("nr,nc...->rc...", qi, x0 - x1)
        kernel = x1 + jnp.einsum("nr,rc...->nc...", qi, proj)
    return kernel


def rko_kernel(matrix: Float[Array, "M Cs"], in_channels: int, ndim: int) -> Float[Array, "M C *s"]:
    """Reshape an ``(M, C s^d)`` matrix into an ``(M, C, s, ..., s)`` kernel (RKO).

    Applied with stride ``S >= s`` the windows do not overlap, so the layer matrix is
    block diagonal with blocks ``matrix`` (Serrurier et al., CVPR 2021; Achour et al. 2022,
    section 2): orthonormal rows/columns of ``matrix`` give a RO/CO convolution.

    Parameters
    ----------
    matrix : Float[Array, "M Cs"]
        ``M x (C s^d)`` matrix, columns ordered ``(c, a_1, ..., a_d)`` row-major.
    in_channels : int
        ``C``.
    ndim : int
        ``d``.

    Returns
    -------
    Float[Array, "M C s_1 ... s_d"]

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.orthconv import rko_kernel
    >>> rko_kernel(jnp.eye(8), 2, 2).shape  # (M, C s^d) -> (M, C, s, s)
    (8, 2, 2, 2)
    """
    m, cols = matrix.shape
    s = round((cols / in_channels) ** (1.0 / ndim))
    if in_channels * s**ndim != cols:
        raise ValueError(
            f"matrix has {cols} columns, not C * s^d for C={in_channels}, d={ndim} and an integer s"
        )
    return matrix.reshape((m, in_channels) + (s,) * ndim)


def compose_kernels(
    outer: Float[Array, "M N *b"], inner: Float[Array, "N C *a"]
) -> Float[Array, "M C *t"]:
    """Kernel of the composition ``conv_S(outer) o conv_1(inner)`` of circular convolutions.

    ``K[m, c, t] = sum_{n, a + b = t} outer[m, n, b] inner[n, c, a]``: the full convolution
    of the kernels, with ``a_j + b_j - 1`` taps per axis. ``inner`` is applied with stride 1
    and ``outer`` with any stride ``S``; the composite is applied with stride ``S``. Exact
    up to a circular shift of the input (tap offsets ``(k - 1) // 2`` do not add up): a
    permutation, so singular values and orthogonality are those of the composition.

    Parameters
    ----------
    outer : Float[Array, "M N b_1 ... b_d"]
    inner : Float[Array, "N C a_1 ... a_d"]

    Returns
    -------
    Float[Array, "M C t_1 ... t_d"]
        ``t_j = a_j + b_j - 1``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.orthconv import compose_kernels
    >>> compose_kernels(jnp.ones((4, 3, 2, 2)), jnp.ones((3, 2, 3, 3))).shape  # taps 2 + 3 - 1
    (4, 2, 4, 4)
    """
    if outer.ndim != inner.ndim or outer.ndim < 3 or outer.shape[1] != inner.shape[0]:
        raise ValueError(
            f"outer (M, N, *b) and inner (N, C, *a) must share N and the number of spatial "
            f"axes, got outer.shape={outer.shape}, inner.shape={inner.shape}"
        )
    a, b = inner.shape[2:], outer.shape[2:]
    t = tuple(i + j - 1 for i, j in zip(a, b))
    out = None
    # loop over the taps of the smaller kernel; each term is one matmul placed at an offset
    if math.prod(b) <= math.prod(a):
        for tap in itertools.product(*(range(j) for j in b)):
            term = jnp.einsum("mn,nc...->mc...", outer[(slice(None), slice(None), *tap)], inner)
            pads = [(0, 0), (0, 0)] + [(o, tj - o - ai) for o, tj, ai in zip(tap, t, a)]
            term = jnp.pad(term, pads)
            out = term if out is None else out + term
    else:
        for tap in itertools.product(*(range(i) for i in a)):
            term = jnp.einsum("mn...,nc->mc...", outer, inner[(slice(None), slice(None), *tap)])
            pads = [(0, 0), (0, 0)] + [(o, tj - o - bj) for o, tj, bj in zip(tap, t, b)]
            term = jnp.pad(term, pads)
            out = term if out is None else out + term
    return out


def init_orth_conv_params(
    key: PRNGKeyArray, plan: OrthConvPlan, method: Method = "bjorck", dtype=jnp.float32
) -> dict[str, Array]:
    """Random initial parameters: a random orthogonal convolution.

    ``bjorck``: matrices drawn with orthonormal rows/columns (Haar), so the Bjorck
    iterations start at their fixed point. ``cayley`` / ``expm``: square Gaussian
    parameters with standard deviation ``1 / sqrt(p)``.

    Parameters
    ----------
    key : PRNGKeyArray
    plan : OrthConvPlan
    method : {"bjorck", "cayley", "expm"}
    dtype : dtype
        Parameter dtype.

    Returns
    -------
    dict[str, Array]
        ``{"projectors": (L, ., .), "matrix": (., .)}`` (no ``"projectors"`` when
        ``L = 0``); shapes depend on ``method`` (see :func:`orthonormal_from_param`).

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth.orthconv import init_orth_conv_params, lorth, orth_conv_kernel, orth_conv_plan
    >>> plan = orth_conv_plan(8, 4, 3)
    >>> kernel = orth_conv_kernel(init_orth_conv_params(jax.random.key(0), plan), plan)
    >>> kernel.shape, bool(lorth(kernel) < 1e-8)
    ((8, 4, 3, 3), True)
    """
    _check_method(method)
    return _init_params(key, plan, method, jnp.dtype(dtype))


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _init_params(key: Array, plan: OrthConvPlan, method: str, dtype) -> dict[str, Array]:
    shapes = _param_shapes(plan, method)
    keys = jax.random.split(key, len(shapes))
    params = {}
    for (name, shape), k in zip(sorted(shapes.items()), keys):
        if method == "bjorck":
            params[name] = jax.nn.initializers.orthogonal()(k, shape, dtype)
        else:
            std = 1.0 / math.sqrt(shape[-1])
            params[name] = std * jax.random.normal(k, shape, dtype)
    return params


def orth_conv_kernel(
    params: dict[str, Array],
    plan: OrthConvPlan,
    method: Method = "bjorck",
    n_iter: int = 15,
    order: int = 2,
) -> Float[Array, "M C *k"]:
    """Kernel ``(M, C, k, ..., k)`` of an exact orthogonal circular convolution.

    Builds the composition of the module table (BCOP projectors, then the RKO/1x1 matrix)
    from unconstrained ``params``. Applied with :func:`~jaxorth.orthconv.conv` at stride
    ``plan.stride`` it is row-orthogonal (``M <= C S^d``) or column-orthogonal, for every
    input size, up to the convergence of Bjorck (to rounding error for well-conditioned
    parameters, see :func:`~jaxorth.linalg.bjorck`; Cayley and exp are exact by
    construction). The kernel has exactly ``k`` taps per axis.

    Parameters
    ----------
    params : dict[str, Array]
        As returned by :func:`init_orth_conv_params` for the same plan and method.
    plan : OrthConvPlan
    method : {"bjorck", "cayley", "expm"}
    n_iter, order : int
        Bjorck iterations and order.

    Returns
    -------
    Float[Array, "M C k_1 ... k_d"]

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth.orthconv import init_orth_conv_params, orth_conv_kernel, orth_conv_plan
    >>> from jaxorth.orthconv import singular_values
    >>> plan = orth_conv_plan(4, 4, 3, stride=1)
    >>> params = init_orth_conv_params(jax.random.key(0), plan, "cayley")
    >>> kernel = orth_conv_kernel(params, plan, "cayley")
    >>> bool(jnp.allclose(singular_values(kernel, 6), 1.0, atol=1e-5))
    True
    """
    _check_method(method)
    expected = _param_shapes(plan, method)
    got = {name: tuple(v.shape) for name, v in params.items()}
    if got != expected:
        raise ValueError(f"params must have shapes {expected} for this plan, got {got}")
    _check_values(params, "params")
    return _orth_conv_kernel(params, plan, method, n_iter, order)


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _orth_conv_kernel(
    params: dict[str, Array], plan: OrthConvPlan, method: str, n_iter: int, order: int
) -> Array:
    # one compiled program for eager callers; inlined when called under an outer jit.
    # Full float32 matmuls (no TF32/bf16 passes on accelerators): exactness over speed,
    # the kernel is tiny next to the convolution.
    with jax.default_matmul_precision("float32"):
        return _orth_conv_kernel_body(params, plan, method, n_iter, order)


def _orth_conv_kernel_body(
    params: dict[str, Array], plan: OrthConvPlan, method: str, n_iter: int, order: int
) -> Array:
    d = plan.ndim
    rows, cols = plan.matrix_shape
    mat = orthonormal_from_param(params["matrix"], (rows, cols), method, n_iter, order)
    if plan.n_projectors:  # all projectors in one batched call
        n, r = plan.bcop_channels, plan.rank
        q = orthonormal_from_param(params["projectors"], (n, r), method, n_iter, order)
        bcop = bcop_kernel(q, d)
    else:
        bcop = None
    rko = rko_kernel(mat, plan.in_channels, d)
    if bcop is None:
        return rko
    if plan.matrix_first:  # CO, stride 1: BCOP_M o W
        return jnp.einsum("mn...,nc->mc...", bcop, mat)
    if plan.matrix_size == 1:  # stride 1, RO: W o BCOP_C
        return jnp.einsum("mn,nc...->mc...", mat, bcop)
    return compose_kernels(rko, bcop)
