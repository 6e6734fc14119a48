"""Flax NNX layers: exact orthogonal circular convolutions and a soft (L_orth) one.

Input layout is channels-first by default, ``x: (B, C, n_1, ..., n_d)``, the same as
:func:`~jaxorth.orthconv.conv`; the output is ``(B, M, n_1 / S, ..., n_d / S)``. With
``channels_last=True`` (Flax's NHWC convention) ``x`` is ``(B, n_1, ..., n_d, C)`` and the
output ``(B, n_1 / S, ..., n_d / S, M)``, with the same numbers (the same layer matrix up
to the order of its rows and columns). The kernel layout is ``(M, C, k, ..., k)`` in both.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import lax
from jaxtyping import Array, Float

from jaxorth._checks import int_at_least, positive_int

from ._conv import _conv_layout
from ._lorth import lorth
from ._param import (
    _METHODS,
    Method,
    OrthConvPlan,
    init_orth_conv_params,
    orth_conv_kernel,
    orth_conv_plan,
)

__all__ = ["OrthConv", "SoftOrthConv"]


def _bool(value, name: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def _check_input(
    x: Array, in_channels: int, ndim: int, stride: int, name: str, channels_last: bool = False
) -> None:
    if channels_last:
        if x.ndim != ndim + 2 or x.shape[-1] != in_channels:
            raise ValueError(
                f"{name} with channels_last=True expects x of shape "
                f"(B, n_1, ..., n_{ndim}, C={in_channels}) (channels last, C on the last "
                f"axis), got x.shape={tuple(x.shape)}"
            )
        first = 1
    else:
        if x.ndim != ndim + 2 or x.shape[1] != in_channels:
            raise ValueError(
                f"{name} expects x of shape (B, C={in_channels}, n_1, ..., n_{ndim}) "
                f"(channels first, C on axis 1; pass channels_last=True for "
                f"(B, n_1, ..., n_{ndim}, C)), got x.shape={tuple(x.shape)}"
            )
        first = 2
    for j, n in enumerate(x.shape[first : first + ndim]):
        if n % stride:
            raise ValueError(
                f"{name}: spatial size {n} (axis {first + j}) is not a multiple of stride={stride}"
            )


def _add_bias(y: Array, bias: nnx.Param | None, channels_last: bool = False) -> Array:
    """Add ``bias`` (shape ``(M,)``) on the channel axis: 1, or the last one."""
    if bias is None:
        return y
    b = bias[...].astype(y.dtype)
    if channels_last:
        return y + b.reshape((1,) * (y.ndim - 1) + (b.shape[0],))
    return y + b.reshape((1, b.shape[0]) + (1,) * (y.ndim - 2))


class OrthConv(nnx.Module):
    r"""Exact orthogonal circular convolution with an explicit kernel (BCOP o RKO).

    For every shape where an orthogonal circular convolution exists (Achour, Malgouyres,
    Mamalet, JMLR 2022, Theorem 1: row-orthogonal ``M <= C k^d``, column-orthogonal
    ``S <= k``), the layer applies ONE circular convolution of stride ``S`` with the kernel
    returned by :meth:`kernel`, of shape ``(M, C, k, ..., k)`` (exactly ``k`` taps per
    axis). That kernel is rebuilt from unconstrained parameters at every call (equinox
    weight-norm style): a product of two-tap BCOP factors ``[P, I - P]`` (Li et al.,
    NeurIPS 2019) composed with an orthonormal ``(M, C S^d)`` matrix reshaped into a
    stride-``S`` kernel (RKO; a 1x1 matrix when ``S = 1``); see :mod:`jaxorth.orthconv._param`
    for the four cases. The layer matrix ``A`` satisfies ``A A^T = I`` if ``M <= C S^d``
    (RO) and ``A^T A = I`` otherwise (CO), for every input size, to rounding error
    (Bjorck converged; Cayley/exp exact by construction). So its Lipschitz constant is 1.

    For inference, build the kernel once, ``k = layer.kernel()``, and call
    ``layer(x, kernel=k)``: the cost is then that of a plain convolution.

    Parameters
    ----------
    in_features, out_features : int
        ``C`` and ``M``.
    kernel_size : int
        ``k`` (the same on every axis; even ``k`` allowed).
    stride : int
        ``S >= 1`` (any ``S``; ``S > k`` only in the RO case ``M <= C k^d``).
    ndim : int
        Number of spatial axes ``d`` (1 for sequences, 2 for images).
    method : {"bjorck", "cayley", "expm"}
        Matrix orthogonalisation: :func:`~jaxorth.linalg.bjorck` (default; ``n_iter``
        iterations of order ``order``), :func:`~jaxorth.linalg.cayley` or
        :func:`~jaxorth.linalg.skew_expm` of a square parameter.
    n_iter, order : int
        Bjorck iterations and order (defaults converge to float64 rounding for
        condition numbers up to ~1e3).
    rank : int or None
        Rank of the BCOP projectors (default half the channels).
    use_bias : bool
        Add a bias (it does not change the Lipschitz constant).
    channels_last : bool
        Keyword-only, default ``False``. ``True``: :meth:`__call__` takes ``x`` of shape
        ``(B, n_1, ..., n_d, C)`` (Flax's NHWC convention) and returns
        ``(B, N_1, ..., N_d, M)``, the same numbers as the channels-first layer on the
        transposed input (run with matching XLA dimension numbers, no transposes). The
        kernel layout (:meth:`kernel`, and a cached ``kernel=`` argument) stays
        ``(M, C, k, ..., k)``.
    param_dtype : dtype
        Parameter dtype (``float64`` needs ``jax_enable_x64``).
    rngs : nnx.Rngs
        Randomness for the initial parameters (a random orthogonal convolution).

    Raises
    ------
    ValueError
        At construction, if no orthogonal convolution of this shape exists (message from
        :func:`~jaxorth.orthconv.check_orthogonal_conv`) or for a bad option.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jaxorth.orthconv import OrthConv, singular_values
    >>> layer = OrthConv(4, 8, 3, rngs=nnx.Rngs(0))  # column-orthogonal: 8 > 4
    >>> layer(jnp.ones((2, 4, 8, 8))).shape
    (2, 8, 8, 8)
    >>> s = singular_values(layer.kernel(), 8)
    >>> bool(jnp.allclose(s, 1.0, atol=1e-5))
    True
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        kernel_size: int,
        *,
        stride: int = 1,
        ndim: int = 2,
        method: Method = "bjorck",
        n_iter: int = 15,
        order: int = 2,
        rank: int | None = None,
        use_bias: bool = False,
        channels_last: bool = False,
        param_dtype=jnp.float32,
        rngs: nnx.Rngs,
    ):
        if method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
        self.n_iter = int_at_least(n_iter, "n_iter", 0)
        self.order = positive_int(order, "order")
        self.plan: OrthConvPlan = orth_conv_plan(
            out_features, in_features, kernel_size, stride, ndim, rank
        )
        self.method = method
        self.channels_last = _bool(channels_last, "channels_last")
        params = init_orth_conv_params(rngs.params(), self.plan, method, param_dtype)
        self.matrix = nnx.Param(params["matrix"])
        self.projectors = nnx.Param(params["projectors"]) if "projectors" in params else None
        self.bias = nnx.Param(jnp.zeros((out_features,), param_dtype)) if use_bias else None

    @property
    def stride(self) -> int:
        """The stride ``S``."""
        return self.plan.stride

    def kernel(self) -> Float[Array, "M C *k"]:
        """The kernel ``(M, C, k, ..., k)`` of the circular strided convolution applied."""
        params = {"matrix": self.matrix[...]}
        if self.projectors is not None:
            params["projectors"] = self.projectors[...]
        return orth_conv_kernel(params, self.plan, self.method, self.n_iter, self.order)

    def __call__(
        self, x: Float[Array, "B ..."], kernel: Float[Array, "M C *k"] | None = None
    ) -> Float[Array, "B ..."]:
        """Apply ``conv(x, kernel, stride)`` (+ bias); ``kernel`` defaults to :meth:`kernel`.

        Parameters
        ----------
        x : Float[Array, "B C n_1 ... n_d"] or Float[Array, "B n_1 ... n_d C"]
            Channels-first input, or channels-last if the layer was built with
            ``channels_last=True``; ``n_j`` multiples of the stride.
        kernel : Float[Array, "M C k_1 ... k_d"] or None
            A kernel computed once by :meth:`kernel` (inference with a cached kernel;
            this layout in both input layouts).

        Returns
        -------
        Float[Array, "B M N_1 ... N_d"] or Float[Array, "B N_1 ... N_d M"]
            In the layout of ``x``.

        Raises
        ------
        ValueError
            If ``x`` has the wrong rank or channel count on its channel axis (axis 1, or
            the last one with ``channels_last=True``), or a spatial size is not a
            multiple of the stride.
        """
        plan, last = self.plan, self.channels_last
        _check_input(x, plan.in_channels, plan.ndim, plan.stride, "OrthConv", last)
        if kernel is None:
            kernel = self.kernel()
        y = _conv_layout(x, kernel, plan.stride, last, "OrthConv")
        return _add_bias(y, self.bias, last)


class SoftOrthConv(nnx.Module):
    r"""Circular convolution with a free kernel and the exact orthogonality penalty.

    The kernel is an unconstrained parameter; :meth:`lorth_penalty` returns
    ``L_orth(K)`` (Achour, Malgouyres, Mamalet, JMLR 2022, section 3; computed by
    :func:`~jaxorth.orthconv.lorth`), which is zero iff the layer is orthogonal (RO or CO)
    and satisfies ``||A A^T - I||_F^2 = N^d L_orth`` (RO) for every input size ``N``. Train
    with ``loss + lam * sum(layer.lorth_penalty())``. Any shape is accepted (where no
    orthogonal convolution exists the penalty stays positive).

    Parameters
    ----------
    in_features, out_features, kernel_size : int
        ``C``, ``M``, ``k``.
    stride : int
        ``S``.
    ndim : int
        ``d``.
    use_bias : bool
        Add a bias.
    channels_last : bool
        Keyword-only, default ``False``. ``True``: :meth:`__call__` takes ``x`` of shape
        ``(B, n_1, ..., n_d, C)`` (Flax's NHWC convention) and returns
        ``(B, N_1, ..., N_d, M)``, the same numbers as the channels-first layer on the
        transposed input (run with matching XLA dimension numbers, no transposes). The
        kernel layout (:meth:`kernel`, and a cached ``kernel=`` argument) stays
        ``(M, C, k, ..., k)``.
    kernel_init : callable or None
        ``init(key, shape, dtype)``; default variance scaling with fan-in ``C k^d``
        (LeCun normal for channels-first kernels).
    param_dtype : dtype
    rngs : nnx.Rngs

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jaxorth.orthconv import SoftOrthConv
    >>> layer = SoftOrthConv(4, 4, 3, rngs=nnx.Rngs(0))
    >>> layer(jnp.ones((1, 4, 8, 8))).shape
    (1, 4, 8, 8)
    >>> bool(layer.lorth_penalty() > 0)  # a random kernel is not orthogonal
    True
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        kernel_size: int,
        *,
        stride: int = 1,
        ndim: int = 2,
        use_bias: bool = False,
        kernel_init=None,
        channels_last: bool = False,
        param_dtype=jnp.float32,
        rngs: nnx.Rngs,
    ):
        for value, name in [
            (in_features, "in_features"),
            (out_features, "out_features"),
            (kernel_size, "kernel_size"),
            (stride, "stride"),
            (ndim, "ndim"),
        ]:
            positive_int(value, name)
        shape = (out_features, in_features) + (kernel_size,) * ndim
        if kernel_init is None:
            kernel_init = jax.nn.initializers.variance_scaling(
                1.0, "fan_in", "truncated_normal", in_axis=tuple(range(1, ndim + 2)), out_axis=0
            )
        self.stride = stride
        self.ndim = ndim
        self.channels_last = _bool(channels_last, "channels_last")
        self.weight = nnx.Param(kernel_init(rngs.params(), shape, param_dtype))
        self.bias = nnx.Param(jnp.zeros((out_features,), param_dtype)) if use_bias else None

    def kernel(self) -> Float[Array, "M C *k"]:
        """The kernel ``(M, C, k, ..., k)`` (the free parameter)."""
        return self.weight[...]

    def lorth_penalty(self) -> Float[Array, ""]:
        """``L_orth(kernel)`` at this layer's stride (Achour et al. 2022, section 3)."""
        return lorth(self.kernel(), self.stride, precision=lax.Precision.HIGHEST)

    def __call__(
        self, x: Float[Array, "B ..."], kernel: Float[Array, "M C *k"] | None = None
    ) -> Float[Array, "B ..."]:
        """Apply ``conv(x, kernel, stride)`` (+ bias); ``kernel`` defaults to :meth:`kernel`.

        ``x`` is ``(B, C, n_1, ..., n_d)``, or ``(B, n_1, ..., n_d, C)`` with
        ``channels_last=True``; the output is in the same layout, and ``kernel`` is
        ``(M, C, k, ..., k)`` in both.
        """
        m, c = self.weight.shape[:2]
        last = self.channels_last
        _check_input(x, c, self.ndim, self.stride, "SoftOrthConv", last)
        if kernel is None:
            kernel = self.kernel()
        y = _conv_layout(x, kernel, self.stride, last, "SoftOrthConv")
        return _add_bias(y, self.bias, last)
