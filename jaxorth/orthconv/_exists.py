"""When does an orthogonal circular convolution exist? (Achour et al. 2022)."""

from __future__ import annotations

import warnings

from jaxorth._checks import positive_int

__all__ = [
    "SquareOrthogonalConvWarning",
    "check_orthogonal_conv",
    "lorth_lower_bound",
    "orthogonal_conv_exists",
]


class SquareOrthogonalConvWarning(UserWarning):
    """Emitted by :func:`check_orthogonal_conv` in the square case ``M = C S^d``.

    In that case row- and column-orthogonality coincide: an orthogonal layer is a square
    orthogonal matrix (invertible, its inverse is :func:`~jaxorth.orthconv.conv_transpose`),
    which exists iff ``S <= k``. It is also the case where minimising
    :func:`~jaxorth.orthconv.lorth` alone from random kernels was seen to stall at
    non-orthogonal points (``L_orth`` about 0.04-0.2 for half the inits with ``k > S``,
    ``experiment=orthconv_landscape``), so prefer an exact parametrisation
    (:class:`~jaxorth.orthconv.OrthConv`) or check the result. Silence it with
    ``check_orthogonal_conv(..., warn_square=False)`` or
    ``warnings.filterwarnings("ignore", category=SquareOrthogonalConvWarning)``.

    Examples
    --------
    >>> import warnings
    >>> from jaxorth.orthconv import SquareOrthogonalConvWarning, check_orthogonal_conv
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     mode = check_orthogonal_conv(8, 2, 3, stride=2)  # M = C S^2 = 8: square
    >>> mode, [w.category is SquareOrthogonalConvWarning for w in caught]
    ('RO', [True])
    """


def _violation(
    out_channels: int, in_channels: int, kernel_size: int, stride: int, ndim: int
) -> str | None:
    """The violated existence condition as a sentence, or ``None`` if one exists."""
    m = positive_int(out_channels, "out_channels")
    c = positive_int(in_channels, "in_channels")
    k = positive_int(kernel_size, "kernel_size")
    s = positive_int(stride, "stride")
    d = positive_int(ndim, "ndim")
    head = f"no orthogonal convolution exists for M={m}, C={c}, k={k}, stride={s}, ndim={d}: "
    if m <= c * s**d:  # row-orthogonal (includes the square case)
        if m > c * k**d:
            return head + (
                f"row-orthogonal (M <= C*S^d = {c * s**d}) needs M <= C*k^{d} = {c * k**d}"
            )
    elif s > k:  # column-orthogonal
        return head + f"column-orthogonal (M > C*S^d = {c * s**d}) needs stride <= k = {k}"
    return None


def orthogonal_conv_exists(
    out_channels: int,
    in_channels: int,
    kernel_size: int,
    stride: int = 1,
    ndim: int = 2,
) -> bool:
    """Whether an orthogonal circular convolution of this shape exists.

    Achour, Malgouyres, Mamalet (JMLR 2022), existence theorem for circular padding: with
    ``M = out_channels``, ``C = in_channels``, ``k = kernel_size``, ``S = stride`` and
    ``d = ndim``,

    - row-orthogonal case ``M <= C S^d``: exists iff ``M <= C k^d``;
    - column-orthogonal case ``M >= C S^d``: exists iff ``S <= k``.

    (In the square case ``M = C S^d`` both read ``S <= k``.)

    Parameters
    ----------
    out_channels, in_channels, kernel_size, stride, ndim : int
        ``M, C, k, S, d``, all positive.

    Returns
    -------
    bool

    Examples
    --------
    >>> from jaxorth.orthconv import orthogonal_conv_exists
    >>> orthogonal_conv_exists(4, 16, 3)  # row-orthogonal (M <= C S^d), M <= C k^d
    True
    >>> orthogonal_conv_exists(8, 1, 1, stride=2)  # column-orthogonal with S > k
    False
    """
    return _violation(out_channels, in_channels, kernel_size, stride, ndim) is None


def check_orthogonal_conv(
    out_channels: int,
    in_channels: int,
    kernel_size: int,
    stride: int = 1,
    ndim: int = 2,
    *,
    warn_square: bool = True,
) -> str:
    """Raise if no orthogonal convolution of this shape exists; return ``"RO"`` or ``"CO"``.

    See :func:`orthogonal_conv_exists` for the conditions (Achour et al. 2022, existence
    theorem for circular padding).

    Parameters
    ----------
    out_channels, in_channels, kernel_size, stride, ndim : int
        ``M, C, k, S, d``.
    warn_square : bool
        Emit :class:`SquareOrthogonalConvWarning` when ``M = C S^d``.

    Returns
    -------
    str
        ``"RO"`` (row-orthogonal, ``M <= C S^d``, goal ``A A^T = I``) or ``"CO"``
        (column-orthogonal, ``M > C S^d``, goal ``A^T A = I``).

    Raises
    ------
    ValueError
        Naming the violated condition and the numbers, e.g. ``"no orthogonal convolution
        exists for M=300, C=32, k=3, stride=4, ndim=2: row-orthogonal (M <= C*S^d = 512)
        needs M <= C*k^2 = 288"``.

    Examples
    --------
    >>> from jaxorth.orthconv import check_orthogonal_conv
    >>> check_orthogonal_conv(4, 16, 3)  # M <= C S^d: row-orthogonal
    'RO'
    >>> check_orthogonal_conv(16, 4, 3)  # M >= C S^d: column-orthogonal
    'CO'
    """
    message = _violation(out_channels, in_channels, kernel_size, stride, ndim)
    if message is not None:
        raise ValueError(message)
    full = in_channels * stride**ndim
    if out_channels == full and warn_square:
        warnings.warn(
            f"square case M = C*S^d = {full} (C={in_channels}, stride={stride}, ndim={ndim}): "
            "row- and column-orthogonality coincide (an orthogonal layer is an invertible "
            "isometry), and minimising lorth alone from random kernels can stall at "
            "non-orthogonal points here (see experiment=orthconv_landscape): prefer an exact "
            "parametrisation; pass warn_square=False to silence",
            SquareOrthogonalConvWarning,
            stacklevel=2,
        )
    return "RO" if out_channels <= full else "CO"


def lorth_lower_bound(
    out_channels: int,
    in_channels: int,
    kernel_size: int,
    stride: int = 1,
    ndim: int = 2,
) -> int:
    r"""``inf_K L_orth(K)`` over all kernels of this shape: 0, or the zero-column bound.

    Achour, Malgouyres & Mamalet (JMLR 2022), existence theorem and its proof for
    circular padding: with ``M = out_channels``, ``C = in_channels``, ``k = kernel_size``,
    ``S = stride`` and ``d = ndim``, when an orthogonal convolution exists
    (:func:`orthogonal_conv_exists`) the infimum of :func:`~jaxorth.orthconv.lorth` is
    0. Otherwise ``S > k``: a stride-``S`` window sees only ``k^d`` of its ``S^d``
    input phases, so ``C (S^d - k^d)`` columns of the ``M x C S^d`` polyphase kernel
    vanish and the layer matrix has rank at most ``C k^d N^d``. With
    ``L_orth = err_F^2 / N^d`` (the paper's identity) this gives

    - impossible row-orthogonal case (``C k^d < M <= C S^d``):
      ``L_orth(K) >= M - C k^d`` (``A A^T`` has at least ``(M - C k^d) N^d`` zero
      eigenvalues);
    - impossible column-orthogonal case (``M > C S^d``, ``S > k``):
      ``L_orth(K) >= C (S^d - k^d)`` (the zero columns of ``A``);

    and both bounds are attained (so they are the infimum) by a kernel whose nonzero
    ``M x C k^d`` polyphase block has orthonormal columns (possible since
    ``M > C k^d`` in both cases).

    Parameters
    ----------
    out_channels, in_channels, kernel_size, stride, ndim : int
        ``M, C, k, S, d``, all positive.

    Returns
    -------
    int
        ``0``, ``M - C k^d`` or ``C (S^d - k^d)``.

    Examples
    --------
    >>> from jaxorth.orthconv import lorth_lower_bound
    >>> lorth_lower_bound(16, 4, 3)  # possible: no positive bound
    0
    >>> lorth_lower_bound(8, 1, 1, stride=2)  # impossible CO: C (S^d - k^d) = 4 - 1
    3
    >>> lorth_lower_bound(3, 1, 1, stride=2)  # impossible RO: M - C k^d = 3 - 1
    2
    """
    if orthogonal_conv_exists(out_channels, in_channels, kernel_size, stride, ndim):
        return 0
    m, c, k, s, d = out_channels, in_channels, kernel_size, stride, ndim
    if m <= c * s**d:
        return m - c * k**d
    return c * (s**d - k**d)
