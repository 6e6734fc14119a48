"""A Flax NNX dense layer with an exactly orthogonal (or orthonormal-rows/columns) weight."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, Float

from jaxorth._checks import int_at_least, one_of, positive_int
from jaxorth.orthconv import orthonormal_from_param

__all__ = ["OrthLinear"]

_METHODS = ("bjorck", "cayley", "expm")


class OrthLinear(nnx.Module):
    r"""Dense layer ``y = x W^T + b`` whose weight is orthogonal by construction.

    The weight ``W`` of shape ``(out_features, in_features)`` (returned by
    :meth:`weight`) is rebuilt from an unconstrained parameter at every call (equinox
    weight-norm style), so that after any optimiser step it is, to rounding error,

    - square (``out = in``): orthogonal, ``W W^T = W^T W = I``;
    - ``out < in``: orthonormal rows, ``W W^T = I_out`` (a co-isometry, the orthogonal
      projection onto a subspace followed by an isometry);
    - ``out > in``: orthonormal columns, ``W^T W = I_in`` (an isometry,
      ``||W x|| = ||x||``).

    In every case ``sigma_max(W) = 1``: the layer is 1-Lipschitz in the l2 norm (the
    bias does not change that), and gradient-norm preserving when it is square or an
    isometry (Anil, Lucas & Grosse, ICML 2019, section 3).

    ``method`` chooses how the parameter becomes ``W``
    (:func:`~jaxorth.orthconv.orthonormal_from_param`):

    - ``"bjorck"`` (default): the parameter has shape ``(out, in)`` and ``W`` is its
      orthogonal polar factor by ``n_iter`` Bjorck-Bowie iterations of order
      ``order`` (:func:`~jaxorth.linalg.bjorck`; Bjorck & Bowie 1971, as used by
      Anil et al. 2019). The parameter starts Haar-orthogonal, a fixed point of the
      iterations; the defaults converge to float64 rounding for parameters with
      condition number up to about ``1e3``. Before convergence (few iterations, or a
      badly conditioned parameter) ``W`` is not orthogonal, but still has
      ``sigma_max(W) <= 1`` (in exact arithmetic): the parameter is first scaled to
      ``sigma_max <= 1`` and each iteration maps a singular value ``s`` in ``(0, 1]`` to
      ``s P(1 - s^2) <= 1``, ``P`` a partial sum of the positive series of
      ``(1 - x)^{-1/2}``; so the layer stays 1-Lipschitz for every ``n_iter``.
    - ``"cayley"`` / ``"expm"``: the parameter is square of size ``p = max(in, out)``;
      its skew-symmetric part ``A`` is mapped to the orthogonal ``Q = (I + A)^{-1}
      (I - A)`` (:func:`~jaxorth.linalg.cayley`; Helfrich et al. 2018, Trockman &
      Kolter 2021) or ``Q = exp(A)`` (:func:`~jaxorth.linalg.skew_expm`;
      Lezcano-Casado & Martinez-Rubio, ICML 2019), and ``W`` is the top-left
      ``(out, in)`` block of ``Q``: its first ``out`` rows when ``out < in``, its
      first ``in`` columns when ``out > in``. Both are exact by construction (no
      iteration count). In the square case they reach only rotations (``det W = +1``;
      the Cayley map also misses those with an eigenvalue ``-1``); rectangular blocks
      reach every orthonormal frame.

    Parameters
    ----------
    in_features, out_features : int
        Input and output sizes.
    method : {"bjorck", "cayley", "expm"}
        Orthogonalisation of the parameter (see above).
    use_bias : bool
        Add a bias (initialised at zero); without one, ``bias`` is ``None``.
    n_iter : int
        Bjorck iterations (``>= 0``; ignored by the other methods).
    order : int
        Order of the Bjorck iteration (``>= 1``; ignored by the other methods).
    dtype : dtype or None
        Dtype of the computation ``x W^T + b`` (default: the promoted dtype of the input
        and the parameters). The weight itself is built in ``param_dtype``.
    param_dtype : dtype
        Dtype of the parameters (``float64`` needs ``jax_enable_x64``: the weight is
        then orthogonal to float64 rounding).
    precision : jax.lax.Precision or None
        Precision of the matrix product (as :class:`flax.nnx.Linear`).
    rngs : nnx.Rngs
        Randomness of the initial parameter.

    Raises
    ------
    ValueError
        For a non-positive size, an unknown ``method``, a bad Bjorck option or a
        non-floating ``param_dtype``, at construction; for an input whose last axis is
        not ``in_features``, at call.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jaxorth.lipschitz import OrthLinear
    >>> layer = OrthLinear(6, 4, method="cayley", rngs=nnx.Rngs(0))
    >>> w = layer.weight()
    >>> w.shape
    (4, 6)
    >>> bool(jnp.allclose(w @ w.T, jnp.eye(4), atol=1e-5))
    True
    >>> layer(jnp.ones((2, 3, 6))).shape
    (2, 3, 4)
    >>> OrthLinear(3, 6, use_bias=False, rngs=nnx.Rngs(0)).bias is None
    True
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        method: str = "bjorck",
        use_bias: bool = True,
        n_iter: int = 15,
        order: int = 2,
        dtype=None,
        param_dtype=jnp.float32,
        precision: jax.lax.PrecisionLike = None,
        rngs: nnx.Rngs,
    ):
        self.in_features = positive_int(in_features, "in_features")
        self.out_features = positive_int(out_features, "out_features")
        self.method = one_of(method, "method", _METHODS)
        self.n_iter = int_at_least(n_iter, "n_iter", 0)
        self.order = positive_int(order, "order")
        if not jnp.issubdtype(param_dtype, jnp.floating):
            raise ValueError(f"param_dtype must be a floating-point dtype, got {param_dtype!r}")
        if dtype is not None and not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(f"dtype must be None or a floating-point dtype, got {dtype!r}")
        self.use_bias = bool(use_bias)
        self.dtype = dtype
        self.param_dtype = param_dtype
        self.precision = precision
        m, n = self.out_features, self.in_features
        shape = (m, n) if self.method == "bjorck" else (max(m, n),) * 2
        init = _init_matrix(rngs.params(), shape, self.method == "bjorck", jnp.dtype(param_dtype))
        self.matrix = nnx.Param(init)
        if self.use_bias:
            self.bias = nnx.Param(jnp.zeros((m,), param_dtype))
        else:
            self.bias = nnx.data(None)

    def weight(self) -> Float[Array, "out_features in_features"]:
        """The applied weight ``W`` ``(out_features, in_features)``: orthonormal rows or columns."""
        shape = (self.out_features, self.in_features)
        # eager: the jitted orthogonalisation is compiled per parameter shape, so the
        # cayley / expm layers of one size max(in, out) share one compilation
        return orthonormal_from_param(self.matrix[...], shape, self.method, self.n_iter, self.order)

    def __call__(
        self,
        x: Float[Array, "*batch in_features"],
        weight: Float[Array, "out_features in_features"] | None = None,
    ) -> Float[Array, "*batch out_features"]:
        """Apply ``x W^T + b`` over the last axis; ``weight`` defaults to :meth:`weight`.

        Parameters
        ----------
        x : Float[Array, "*batch in_features"]
            Input, features on the last axis (as :class:`flax.nnx.Linear`).
        weight : Float[Array, "out_features in_features"] or None
            A weight computed once by :meth:`weight` (inference with a cached weight:
            the cost is then that of a plain dense layer).

        Returns
        -------
        Float[Array, "*batch out_features"]
        """
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"OrthLinear expects x of shape (..., in_features={self.in_features}), "
                f"got x.shape={tuple(x.shape)}"
            )
        w = self.weight() if weight is None else weight
        if w.shape != (self.out_features, self.in_features):
            raise ValueError(
                f"weight must have shape (out_features, in_features)="
                f"{(self.out_features, self.in_features)}, got {tuple(w.shape)}"
            )
        b = None if self.bias is None else self.bias[...]
        dtype = self.dtype
        if dtype is None:
            dtype = jnp.result_type(x, w, *([] if b is None else [b]))
        return _affine(x, w, b, jnp.dtype(dtype), self.precision)


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _init_matrix(key: Array, shape: tuple[int, int], haar: bool, dtype) -> Array:
    # bjorck: Haar orthonormal rows/columns, a fixed point of the iterations; cayley /
    # expm: a square (p, p) Gaussian parameter of standard deviation 1 / sqrt(p)
    if haar:
        return jax.nn.initializers.orthogonal()(key, shape, dtype)
    return jax.random.normal(key, shape, dtype) / math.sqrt(shape[-1])


@functools.partial(jax.jit, static_argnums=(3, 4))
def _affine(x: Array, w: Array, b: Array | None, dtype, precision) -> Array:
    y = jnp.matmul(x.astype(dtype), w.astype(dtype).T, precision=precision)
    if b is not None:
        y = y + b.astype(dtype).reshape((1,) * (y.ndim - 1) + (-1,))
    return y
