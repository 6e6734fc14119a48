"""When does an orthogonal circular convolution exist? (Achour et al. 2022)."""

from __future__ import annotations

import warnings

import numpy as np

__all__ = [
    "SquareOrthogonalConvWarning",
    "check_orthogonal_conv",
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
    """


def _as_pos_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {name}={value}")
    return int(value)


def _violation(
    out_channels: int, in_channels: int, kernel_size: int, stride: int, ndim: int
) -> str | None:
    """The violated existence condition as a sentence, or ``None`` if one exists."""
    m = _as_pos_int(out_channels, "out_channels")
    c = _as_pos_int(in_channels, "in_channels")
    k = _as_pos_int(kernel_size, "kernel_size")
    s = _as_pos_int(stride, "stride")
    d = _as_pos_int(ndim, "ndim")
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
