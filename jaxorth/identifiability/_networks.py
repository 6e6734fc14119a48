r"""Fully connected ReLU networks as lists of ``(W_l, b_l)``: checks, evaluation, conversion.

The parameters ``theta`` of a network of widths ``(d_0, d_1, ..., d_L)`` are the list
``[(W_1, b_1), ..., (W_L, b_L)]``, ``W_l`` of shape ``(d_l, d_{l-1})`` and ``b_l`` of
shape ``(d_l,)``; the network is

.. math::

    f_\theta(x) = W_L\, \sigma(W_{L-1} \cdots \sigma(W_1 x + b_1) \cdots + b_{L-1}) + b_L,
    \qquad \sigma(t) = \max(t, 0),

ReLU on every hidden layer, a linear output layer (Bona-Pellissier, Bachoc, Malgouyres,
"Local identifiability of deep ReLU neural networks: the theory", NeurIPS 2022, arXiv
2206.07424, Sec. 2). It has ``E = sum_l d_l (d_{l-1} + 1)`` parameters and ``N_h = d_1 +
... + d_{L-1}`` hidden neurons. Hidden layer ``l`` (``1 <= l <= L-1``) is the one whose
incoming weights are ``params[l-1]``; neurons are numbered from 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.flatten_util import ravel_pytree
from jax.typing import ArrayLike
from jaxtyping import Array, Float, Real

from jaxorth._checks import finite, positive_int
from jaxorth._random import numpy_rng

__all__ = [
    "Params",
    "check_params",
    "check_inputs",
    "flatten",
    "from_nnx",
    "n_hidden",
    "n_parameters",
    "perturb_params",
    "pre_activations",
    "random_params",
    "relu_mlp",
    "to_nnx",
    "widths",
]

#: Parameters of a ReLU network: a sequence of ``(W_l, b_l)`` pairs (tuples or lists of
#: numpy or jax arrays), ``W_l`` of shape ``(d_l, d_{l-1})``, ``b_l`` of shape ``(d_l,)``.
Params = Sequence[Sequence[ArrayLike]]

_Inputs = Real[Array | np.ndarray, "batch d_in"]


def _dtype(value: Any) -> np.dtype:
    dtype = getattr(value, "dtype", None)
    return np.dtype(dtype) if dtype is not None else np.asarray(value).dtype


def check_params(params: Params, name: str = "params", *, min_layers: int = 1) -> tuple[int, ...]:
    """The widths ``(d_0, ..., d_L)`` of ``params``; ``ValueError`` before compute if malformed.

    Checked, with messages that name the entry (``params[1] (W) ...``): a sequence of at
    least ``min_layers`` pairs ``(W, b)``; ``W`` 2-D, ``b`` 1-D with one entry per row of
    ``W``; ``params[l][0].shape[1]`` equal to the outputs of layer ``l - 1``; a real
    floating dtype; every entry finite (skipped for tracers, see :mod:`jaxorth._checks`).
    Shape and dtype checks also run under ``jit``.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.identifiability import check_params
    >>> check_params([(np.ones((3, 2)), np.zeros(3)), (np.ones((1, 3)), np.zeros(1))])
    (2, 3, 1)
    """
    if isinstance(params, str | bytes) or not isinstance(params, Sequence):
        raise ValueError(f"{name} must be a list of (W, b) pairs, got {type(params).__name__}")
    if len(params) < min_layers:
        raise ValueError(
            f"{name} must hold at least {min_layers} layer(s) (W, b), got {len(params)}"
        )
    dims: list[int] = []
    for i, layer in enumerate(params):
        if isinstance(layer, str | bytes) or not isinstance(layer, Sequence) or len(layer) != 2:
            raise ValueError(f"{name}[{i}] must be a pair (W, b), got {type(layer).__name__}")
        w, b = layer
        for part, arr in (("W", w), ("b", b)):
            dtype = _dtype(arr)
            if not np.issubdtype(dtype, np.floating):
                raise ValueError(
                    f"{name}[{i}] ({part}) must have a real floating dtype, got {dtype}"
                )
        w_shape, b_shape = tuple(np.shape(w)), tuple(np.shape(b))
        if len(w_shape) != 2:
            raise ValueError(
                f"{name}[{i}] (W) must be 2-D of shape (d_{i + 1}, d_{i}), got shape {w_shape}"
            )
        if w_shape[0] < 1 or w_shape[1] < 1:
            raise ValueError(f"{name}[{i}] (W) must have positive dimensions, got {w_shape}")
        if b_shape != (w_shape[0],):
            raise ValueError(
                f"{name}[{i}] (b) must have shape ({w_shape[0]},) (one bias per row of "
                f"{name}[{i}] (W)), got shape {b_shape}"
            )
        if i == 0:
            dims.append(w_shape[1])
        elif w_shape[1] != dims[-1]:
            raise ValueError(
                f"{name}[{i}] (W) has {w_shape[1]} columns but {name}[{i - 1}] has "
                f"{dims[-1]} outputs (d_{i} = {dims[-1]})"
            )
        dims.append(w_shape[0])
        for part, arr in (("W", w), ("b", b)):
            try:
                finite(arr, f"{name}[{i}] ({part})")
            except ValueError as err:
                detail = str(err).split("must be finite, got ", 1)[-1]
                raise ValueError(
                    f"{name}[{i}] ({part}) has non-finite entries ({detail})"
                ) from None
    return tuple(dims)


def widths(params: Params) -> tuple[int, ...]:
    """The widths ``(d_0, d_1, ..., d_L)`` of ``params`` (checked by :func:`check_params`).

    Examples
    --------
    >>> import jax
    >>> from jaxorth.identifiability import random_params, widths
    >>> widths(random_params(jax.random.key(0), [3, 6, 4, 2]))
    (3, 6, 4, 2)
    """
    return check_params(params)


def _check_widths(widths: Sequence[int], name: str = "widths") -> tuple[int, ...]:
    widths = tuple(widths)
    if len(widths) < 2:
        raise ValueError(f"{name} must list d_0, ..., d_L (at least 2 entries), got {widths}")
    return tuple(positive_int(d, f"{name}[{i}]") for i, d in enumerate(widths))


def n_parameters(widths: Sequence[int]) -> int:
    """``E = sum_l d_l (d_{l-1} + 1)``, the number of weights and biases.

    Examples
    --------
    >>> from jaxorth.identifiability import n_hidden, n_parameters
    >>> n_parameters([2, 5, 1]), n_hidden([2, 5, 1])  # E = 21, E - N_h = 16
    (21, 5)
    """
    w = _check_widths(widths)
    return sum(d_out * (d_in + 1) for d_in, d_out in zip(w[:-1], w[1:]))


def n_hidden(widths: Sequence[int]) -> int:
    """``N_h = d_1 + ... + d_{L-1}``, the number of hidden (ReLU) neurons.

    Examples
    --------
    >>> from jaxorth.identifiability import n_hidden
    >>> n_hidden([3, 6, 4, 2])
    10
    """
    w = _check_widths(widths)
    return sum(w[1:-1])


def check_inputs(x: Any, d_in: int, name: str = "x") -> None:
    """``ValueError`` unless ``x`` is a 2-D real array ``(B, d_in)`` with finite entries.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.identifiability import check_inputs
    >>> check_inputs(np.ones((4, 2)), 2)  # fine: returns None
    >>> try:
    ...     check_inputs(np.ones((4, 3)), 2)
    ... except ValueError as error:
    ...     print(error)
    x has 3 columns but the network has d_0 = 2 inputs...
    """
    shape = tuple(np.shape(x))
    if len(shape) != 2:
        raise ValueError(f"{name} must be 2-D of shape (B, d_0={d_in}), got shape {shape}")
    if shape[1] != d_in:
        raise ValueError(
            f"{name} has {shape[1]} columns but the network has d_0 = {d_in} inputs "
            f"(params[0] (W) has {d_in} columns)"
        )
    dtype = _dtype(x)
    if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
        raise ValueError(f"{name} must be a real array, got dtype {dtype}")
    finite(x, name)


def _forward(params: Params, x: Array) -> tuple[Array, list[Array]]:
    h = x
    pre = []
    for i, (w, b) in enumerate(params):
        z = h @ jnp.asarray(w).T + jnp.asarray(b)[None, :]
        if i < len(params) - 1:
            pre.append(z)
            h = jax.nn.relu(z)
        else:
            h = z
    return h, pre


#: one compilation per architecture and batch shape (eager ops would compile one small
#: program per operation)
_forward_jit = jax.jit(_forward)


def relu_mlp(params: Params, x: _Inputs) -> Float[Array, "batch d_out"]:
    """``f_theta(x)`` for a batch ``x`` of shape ``(B, d_0)``; returns ``(B, d_L)``.

    Computed in the dtype JAX promotes the parameters and ``x`` to (float64 parameters
    under ``jaxorth._precision.float64`` give a float64 evaluation). Parameters and ``x`` are
    checked first (:func:`check_params`, :func:`check_inputs`).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.identifiability import relu_mlp
    >>> layer_1 = (jnp.array([[1.0], [-1.0]]), jnp.zeros(2))
    >>> params = [layer_1, (jnp.array([[1.0, 1.0]]), jnp.zeros(1))]
    >>> relu_mlp(params, jnp.array([[-2.0], [3.0]])).tolist()  # relu(x) + relu(-x) = |x|
    [[2.0], [3.0]]
    """
    dims = check_params(params)
    check_inputs(x, dims[0])
    return _forward_jit([tuple(p) for p in params], jnp.asarray(x))[0]


def pre_activations(params: Params, x: _Inputs) -> list[Array]:
    """The hidden pre-activations ``W_l h_{l-1} + b_l``, ``(B, d_l)`` for ``l = 1..L-1``.

    Empty for a network without hidden layer (``L = 1``). The ReLU is applied to these;
    a zero entry is a sample on a kink of that neuron.

    Examples
    --------
    >>> import jax
    >>> from jaxorth.identifiability import pre_activations, random_params
    >>> params = random_params(jax.random.key(0), [2, 5, 4, 1])
    >>> [z.shape for z in pre_activations(params, jax.numpy.ones((3, 2)))]
    [(3, 5), (3, 4)]
    """
    dims = check_params(params)
    check_inputs(x, dims[0])
    return list(_forward_jit([tuple(p) for p in params], jnp.asarray(x))[1])


def random_params(
    key: jax.Array,
    widths: Sequence[int],
    *,
    bias_std: float = 0.1,
    dtype: Any = None,
) -> list[tuple[Array, Array]]:
    """A generic random ReLU network of the given ``widths = (d_0, ..., d_L)``.

    He-normal weights (``N(0, 2 / d_{l-1})``, He et al. 2015: the pre-activations keep
    their scale through the ReLU layers) and biases ``N(0, bias_std^2)`` (``0.1`` by
    default; nonzero, so that the network is generic: no two neurons share a
    hyperplane through the origin). Drawn with numpy from ``key`` (the same key gives the
    same network); ``dtype`` defaults to JAX's default float (float64 under
    ``jaxorth._precision.float64``, else float32).

    Examples
    --------
    >>> import jax
    >>> import numpy as np
    >>> from jaxorth.identifiability import random_params
    >>> params = random_params(jax.random.key(0), [2, 3, 1])
    >>> [(W.shape, b.shape) for W, b in params]
    [((3, 2), (3,)), ((1, 3), (1,))]
    >>> again = random_params(jax.random.key(0), [2, 3, 1])  # the same key, the same network
    >>> all(np.array_equal(W, V) for (W, _), (V, _) in zip(params, again))
    True
    """
    w = _check_widths(widths)
    if not isinstance(bias_std, int | float) or not np.isfinite(bias_std) or bias_std < 0:
        raise ValueError(f"bias_std must be a finite number >= 0, got {bias_std!r}")
    dtype = jnp.result_type(float) if dtype is None else dtype
    rng = numpy_rng(key)
    out = []
    for d_in, d_out in zip(w[:-1], w[1:]):
        weight = rng.normal(size=(d_out, d_in)) * np.sqrt(2.0 / d_in)
        bias = rng.normal(size=(d_out,)) * bias_std
        out.append((jnp.asarray(weight.astype(dtype)), jnp.asarray(bias.astype(dtype))))
    return out


def perturb_params(key: jax.Array, params: Params, scale: float) -> list[tuple[Array, Array]]:
    """``params`` plus Gaussian noise of relative size ``scale``, layer by layer.

    Every entry of ``W_l`` and ``b_l`` moves by ``scale * rms(W_l) * N(0, 1)`` (``rms``:
    the root mean square of the layer's weights), so that ``scale`` is the noise relative
    to the layer's own weights whatever its width: the starting points of a local
    recovery experiment (local identifiability is a statement about a neighbourhood of
    the parameters). Drawn with numpy from ``key``; the dtype of each array is kept.

    Examples
    --------
    >>> import jax
    >>> from jaxorth.identifiability import parameter_distance, perturb_params, random_params
    >>> params = random_params(jax.random.key(0), [2, 5, 1])
    >>> noisy = perturb_params(jax.random.key(1), params, 0.05)
    >>> 0 < parameter_distance(params, noisy, relative=True) < 0.1
    True
    """
    check_params(params)
    if not isinstance(scale, int | float) or not np.isfinite(scale) or scale < 0:
        raise ValueError(f"scale must be a finite number >= 0, got {scale!r}")
    rng = numpy_rng(key)
    out = []
    for w, b in params:
        w64, b64 = np.asarray(w, np.float64), np.asarray(b, np.float64)
        rms = float(np.sqrt(np.mean(w64**2))) if w64.size else 0.0
        dw = rng.normal(size=w64.shape) * scale * rms
        db = rng.normal(size=b64.shape) * scale * rms
        out.append(
            (
                jnp.asarray((w64 + dw).astype(np.asarray(w).dtype)),
                jnp.asarray((b64 + db).astype(np.asarray(b).dtype)),
            )
        )
    return out


def flatten(params: Params) -> tuple[Array, Callable[[Array], list[tuple[Array, Array]]]]:
    """``(theta, unflatten)``: all parameters as one vector (``W_1, b_1, W_2, ...``).

    The order is that of :func:`jax.flatten_util.ravel_pytree` on the list of pairs
    (each ``W_l`` row-major, then ``b_l``); ``unflatten(theta)`` rebuilds the list.

    Examples
    --------
    >>> import jax
    >>> from jaxorth.identifiability import flatten, random_params
    >>> theta, unflatten = flatten(random_params(jax.random.key(0), [2, 5, 1]))
    >>> theta.shape, [w.shape for w, b in unflatten(theta)]  # E = 21 parameters
    ((21,), [(5, 2), (1, 5)])
    """
    check_params(params)
    tree = [(jnp.asarray(w), jnp.asarray(b)) for w, b in params]
    theta, unravel = ravel_pytree(tree)

    def unflatten(vector: Array) -> list[tuple[Array, Array]]:
        return [tuple(p) for p in unravel(vector)]

    return theta, unflatten


def _linear_params(linear: nnx.Linear) -> tuple[Array, Array]:
    kernel = np.asarray(linear.kernel[...])  # stored as (in, out)
    if linear.bias is None:
        bias = np.zeros((kernel.shape[1],), kernel.dtype)
    else:
        bias = np.asarray(linear.bias[...]).astype(kernel.dtype)
    return jnp.asarray(kernel.T), jnp.asarray(bias)


def from_nnx(module: Any) -> list[tuple[Array, Array]]:
    """The parameters ``[(W_l, b_l)]`` of a Flax NNX ReLU network.

    Accepted:

    - an :class:`flax.nnx.Sequential` alternating :class:`flax.nnx.Linear` and
      ``nnx.relu`` / ``jax.nn.relu`` (``Linear, relu, Linear, ..., Linear``: a linear
      output layer);
    - a network with a ``layers()`` method returning ``[(W_l, b_l)]`` (``(out, in)``)
      and ``activation == "relu"``, such as :class:`jaxorth.overestimate.MLP`
      (its output ``(B,)`` is ``relu_mlp(...)[:, 0]``);
    - a list (or ``nnx.List``) of :class:`flax.nnx.Linear`, ReLU between them being the
      caller's statement (the list holds no activation to check).

    ``nnx.Linear`` stores its kernel as ``(in, out)``: it is transposed. A missing bias
    (``use_bias=False``) becomes zeros. Anything else, or another activation, is a
    ``ValueError``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jaxorth.identifiability import from_nnx, relu_mlp
    >>> rngs = nnx.Rngs(0)
    >>> model = nnx.Sequential(nnx.Linear(2, 3, rngs=rngs), nnx.relu, nnx.Linear(3, 1, rngs=rngs))
    >>> params = from_nnx(model)
    >>> [W.shape for W, _ in params]  # (out, in): nnx's (in, out) kernels transposed
    [(3, 2), (1, 3)]
    >>> x = jnp.ones((4, 2))
    >>> bool(jnp.allclose(relu_mlp(params, x), model(x)))
    True
    """
    if isinstance(module, nnx.Sequential):
        layers = list(module.layers)
        params = []
        for i, layer in enumerate(layers):
            expect_linear = i % 2 == 0
            if expect_linear and not isinstance(layer, nnx.Linear):
                raise ValueError(
                    f"module.layers[{i}] must be an nnx.Linear (Linear, relu, ..., Linear), "
                    f"got {type(layer).__name__}"
                )
            if not expect_linear and layer is not jax.nn.relu:
                what = getattr(layer, "__name__", type(layer).__name__)
                raise ValueError(
                    f"module.layers[{i}] must be the ReLU (nnx.relu) between two Linear "
                    f"layers, got {what}: only ReLU networks are supported"
                )
            if expect_linear:
                params.append(_linear_params(layer))
        if not layers or len(layers) % 2 == 0:
            raise ValueError(
                "module must end with an nnx.Linear (a linear output layer), got "
                f"{len(layers)} layers"
            )
        return params
    if callable(getattr(module, "layers", None)) and hasattr(module, "activation"):
        if module.activation != "relu":
            raise ValueError(
                f"module.activation must be 'relu' (only ReLU networks are supported), "
                f"got {module.activation!r}"
            )
        params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in module.layers()]
        check_params(params, "module.layers()")
        return params
    if isinstance(module, Sequence | nnx.List) and not isinstance(module, str):
        items = list(module)
        if items and all(isinstance(layer, nnx.Linear) for layer in items):
            params = [_linear_params(layer) for layer in items]
            check_params(params, "module")
            return params
    raise ValueError(
        f"module must be an nnx.Sequential of Linear/relu layers, a network with layers() "
        f"and activation='relu' (jaxorth.overestimate.MLP), or a list of nnx.Linear; got "
        f"{type(module).__name__}"
    )


def _numpy_zeros(key: Any, shape: Sequence[int], dtype: Any = np.float32) -> np.ndarray:
    """Placeholder initial values, overwritten at once (no XLA compilation)."""
    return np.zeros(shape, dtype)


def to_nnx(params: Params, *, rngs: nnx.Rngs) -> nnx.Sequential:
    """An :class:`flax.nnx.Sequential` ``Linear, relu, ..., Linear`` computing ``params``.

    ``rngs`` is only used to build the layers before their weights are overwritten; the
    parameters keep their dtype and are copied (training the module, which may donate
    its buffers, never touches ``params``). ``from_nnx(to_nnx(p, rngs=...))`` returns
    ``p``.

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jaxorth.identifiability import from_nnx, random_params, relu_mlp, to_nnx
    >>> params = random_params(jax.random.key(0), [2, 3, 1])
    >>> model = to_nnx(params, rngs=nnx.Rngs(0))
    >>> x = jnp.ones((4, 2))
    >>> bool(jnp.allclose(model(x), relu_mlp(params, x))), len(from_nnx(model))
    (True, 2)
    """
    check_params(params)
    layers: list[Any] = []
    for i, (w, b) in enumerate(params):
        w = jnp.asarray(w)
        lin = nnx.Linear(
            w.shape[1],
            w.shape[0],
            rngs=rngs,
            param_dtype=w.dtype,
            kernel_init=_numpy_zeros,
            bias_init=_numpy_zeros,
        )
        lin.kernel = nnx.Param(jnp.array(w.T, copy=True))
        lin.bias = nnx.Param(jnp.array(b, w.dtype, copy=True))
        layers.append(lin)
        if i < len(params) - 1:
            layers.append(nnx.relu)
    return nnx.Sequential(*layers)
