r"""The two surrogate networks: monotone by construction, and unconstrained.

:class:`MonotoneMLP` is monotone by construction; :class:`MLP` is unconstrained and
certified through output bounds. Both are plain dense networks
``x -> W_L s(... s(W_1 x + b_1) ...) + b_L`` with a scalar output; both expose
:meth:`layers`, the list ``[(W_1, b_1), ..., (W_L, b_L)]`` (``W_l`` of shape
``(out, in)``) of what is applied, so that a float64 evaluation (:func:`apply_layers`)
and the certified bounds of :mod:`jaxorth.overestimate` read the same weights as
``__call__``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jaxtyping import Array, Float

from jaxorth._checks import one_of, positive_int
from jaxorth._random import numpy_rng

from ._bounds import ACTIVATIONS as BOUND_ACTIVATIONS

__all__ = ["ACTIVATIONS", "MLP", "MONOTONE_ACTIVATIONS", "MonotoneMLP", "apply_layers"]

#: Activations by name; all are non-decreasing.
ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "relu": jax.nn.relu,
    "softplus": jax.nn.softplus,
}
#: Activations accepted by :class:`MonotoneMLP` (every one of :data:`ACTIVATIONS`).
MONOTONE_ACTIVATIONS = tuple(ACTIVATIONS)

Layers = Sequence[tuple[Array, Array]]


def apply_layers(
    layers: Layers, x: Float[Array, "batch d"], activation: str = "tanh"
) -> Float[Array, " batch"]:
    """The network ``W_L s(... s(W_1 x + b_1) ...) + b_L`` of scalar output at ``x``.

    ``layers`` is ``[(W_1, b_1), ..., (W_L, b_L)]`` with ``W_l`` of shape ``(out, in)``
    and ``W_L`` of shape ``(1, in)``; the activation ``s`` follows every layer but the
    last. Computed in the dtype of the arrays (float64 arrays under
    :func:`jaxorth.float64` give a float64 evaluation).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.overestimate import apply_layers
    >>> layer_1 = (jnp.array([[1.0], [-1.0]]), jnp.zeros(2))
    >>> layers = [layer_1, (jnp.array([[1.0, 1.0]]), jnp.zeros(1))]
    >>> apply_layers(layers, jnp.array([[-2.0], [3.0]]), "relu").tolist()  # relu(x) + relu(-x)
    [2.0, 3.0]
    """
    act = ACTIVATIONS[one_of(activation, "activation", ACTIVATIONS)]
    h = x
    for i, (w, b) in enumerate(layers):
        h = h @ w.T + b[None, :]
        if i < len(layers) - 1:
            h = act(h)
    return h[:, 0]


def _check_widths(in_features: int, widths: Sequence[int]) -> tuple[int, ...]:
    positive_int(in_features, "in_features")
    widths = tuple(widths)
    if not widths:
        raise ValueError("widths must list at least one hidden layer width, got ()")
    return tuple(positive_int(w, f"widths[{i}]") for i, w in enumerate(widths))


def _softplus_inverse(y: np.ndarray) -> np.ndarray:
    return y + np.log(-np.expm1(-y))


class MonotoneMLP(nnx.Module):
    r"""A dense network non-decreasing in each input (non-increasing where asked).

    ::

        g(x) = a_L^T s( ... s(A_1 (D x) + b_1) ... ) + b_L,    A_l = softplus(V_l) >= 0

    with ``D = diag(directions)`` (``+1``: non-decreasing in that input, ``-1``:
    non-increasing) and ``s`` a non-decreasing activation. The free parameters ``V_l``
    are stored; the applied non-negative weights are built in :meth:`layers`, as in
    Gauffriau, Malgouyres & Ducoffe, "Overestimation learning with guarantees"
    (arXiv 2101.11717, Sec. 3: non-negative weights and monotone activations).

    Why it is monotone (proof sketch). Take ``x <= x'`` in the order given by
    ``directions`` (``d_j x_j <= d_j x'_j`` for every ``j``), so ``D x <= D x'``
    entrywise. If ``h <= h'`` entrywise, then ``A h + b <= A h' + b`` because every
    entry of ``A`` is ``>= 0`` (each output is a sum of terms ``A_ij h_j``, each
    non-decreasing in ``h_j``), and ``s(A h + b) <= s(A h' + b)`` because ``s`` is
    non-decreasing. By induction over the layers every hidden vector, and the output,
    is ordered the same way: ``g(x) <= g(x')``. Rounding keeps it: round-to-nearest is a
    non-decreasing function, so each floating-point sum, product by a non-negative
    weight and activation is non-decreasing too (up to the summation order, which XLA
    may change between batch shapes: :func:`~jaxorth.overestimate.certify` adds a
    margin for that).

    With a convex activation (``relu``, ``softplus``) non-negative weights only give
    convex functions; the bounded ``sigmoid`` / ``tanh`` (convex then concave) do not
    have that limit. The two span the same functions (``sigmoid(t) = (1 + tanh(t/2))
    / 2``) but train differently: ``sigmoid`` (the default) has non-negative hidden
    outputs, and fitted majoring points markedly better in our runs (mean
    overestimation 0.085 of the range of ``tanh(8(x1 + 2 x2 - 1.2)) + 0.3 x1`` against
    0.22 with ``tanh``, same steps and learning rate).

    Parameters
    ----------
    in_features : int
        ``d``, the input size.
    widths : sequence of int
        Hidden layer widths (at least one).
    directions : sequence of {+1, -1}, optional
        Monotonicity direction of each input (default: all ``+1``).
    activation : str
        One of :data:`MONOTONE_ACTIVATIONS` (default ``"sigmoid"``).
    rngs : nnx.Rngs
        Randomness of the initial parameters.
    param_dtype : dtype
        Dtype of the stored parameters (float32).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> g = MonotoneMLP(2, [8, 8], directions=[1, -1], rngs=nnx.Rngs(0))
    >>> x = jnp.array([[0.0, 0.5], [0.3, 0.5], [0.3, 0.1]])
    >>> y = g(x)
    >>> bool(y[0] <= y[1] <= y[2])
    True
    """

    def __init__(
        self,
        in_features: int,
        widths: Sequence[int],
        *,
        directions: Sequence[int] | None = None,
        activation: str = "sigmoid",
        rngs: nnx.Rngs,
        param_dtype: Any = jnp.float32,
    ) -> None:
        widths = _check_widths(in_features, widths)
        self.activation = one_of(activation, "activation", MONOTONE_ACTIVATIONS)
        if directions is None:
            directions = [1] * in_features
        dirs = np.asarray(directions)
        if dirs.shape != (in_features,) or not np.isin(dirs, (-1, 1)).all():
            raise ValueError(
                f"directions must hold in_features={in_features} entries, each +1 or -1, "
                f"got {list(np.asarray(directions).reshape(-1))}"
            )
        self.directions = tuple(int(v) for v in dirs)
        sizes = (in_features, *widths, 1)
        rng = numpy_rng(rngs.params())
        raw, biases = [], []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            # applied weights ~ U(0, 2 / sqrt(n_in)): pre-activations of order 1 for
            # inputs in [-1, 1]; stored through the inverse softplus
            w = (2.0 / np.sqrt(n_in)) * rng.uniform(0.02, 1.0, size=(n_out, n_in))
            raw.append(nnx.Param(jnp.asarray(_softplus_inverse(w), dtype=param_dtype)))
            spread = 1.0 if i == 0 else 0.1
            b = rng.uniform(-spread, spread, size=(n_out,))
            biases.append(nnx.Param(jnp.asarray(b, dtype=param_dtype)))
        self.raw_weights = nnx.List(raw)
        self.biases = nnx.List(biases)

    def layers(self) -> list[tuple[Array, Array]]:
        """The applied ``[(A_l, b_l)]``: ``A_l = softplus(V_l) >= 0``, ``(out, in)``.

        The first weight includes ``diag(directions)`` (its columns of a decreasing
        input are negated), so ``apply_layers(g.layers(), x, g.activation) == g(x)``.
        """
        out = []
        for i, (v, b) in enumerate(zip(self.raw_weights, self.biases)):
            w = jax.nn.softplus(v[...])
            if i == 0:
                w = w * jnp.asarray(self.directions, w.dtype)[None, :]
            out.append((w, b[...]))
        return out

    def __call__(self, x: Float[Array, "batch d"]) -> Float[Array, " batch"]:
        """``g(x)`` for a batch of inputs ``x`` of shape ``(B, d)``; returns ``(B,)``."""
        return apply_layers(self.layers(), x, self.activation)


class MLP(nnx.Module):
    """An unconstrained dense network of scalar output (the bound-certified route).

    ``x -> W_L s(... s(W_1 x + b_1) ...) + b_L`` with free weights (LeCun-normal
    initialisation, zero biases; drawn with numpy from the ``rngs.params()`` key). Used
    by :func:`~jaxorth.overestimate.overestimate` with ``route="ibp"`` or ``"crown"``:
    the guarantee then comes from a certified lower bound of the network over each cell
    (:func:`~jaxorth.overestimate.interval_bounds`,
    :func:`~jaxorth.overestimate.crown_bounds`), not from monotonicity.

    Parameters
    ----------
    in_features : int
        ``d``, the input size.
    widths : sequence of int
        Hidden layer widths (at least one).
    activation : str
        ``"relu"`` (default: the case where CROWN's linear relaxations are the
        tightest), ``"tanh"`` or ``"sigmoid"`` (the activations the bounds support).
    rngs : nnx.Rngs
        Randomness of the initial parameters.
    param_dtype : dtype
        Dtype of the stored parameters (float32).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jaxorth.overestimate import MLP
    >>> model = MLP(2, [4], rngs=nnx.Rngs(0))  # 2 -> 4 -> 1, ReLU
    >>> model(jnp.ones((3, 2))).shape, [W.shape for W, _ in model.layers()]
    ((3,), [(4, 2), (1, 4)])
    >>> float(model(jnp.zeros((1, 2)))[0])  # zero biases at initialisation
    0.0
    """

    def __init__(
        self,
        in_features: int,
        widths: Sequence[int],
        *,
        activation: str = "relu",
        rngs: nnx.Rngs,
        param_dtype: Any = jnp.float32,
    ) -> None:
        widths = _check_widths(in_features, widths)
        self.activation = one_of(activation, "activation", BOUND_ACTIVATIONS)
        sizes = (in_features, *widths, 1)
        rng = numpy_rng(rngs.params())
        # LeCun-normal weights (variance 1 / fan_in), zero biases
        self.weights = nnx.List(
            [
                nnx.Param(jnp.asarray(rng.normal(size=(n_out, n_in)) / np.sqrt(n_in), param_dtype))
                for n_in, n_out in zip(sizes[:-1], sizes[1:])
            ]
        )
        self.biases = nnx.List([nnx.Param(jnp.zeros((n,), param_dtype)) for n in sizes[1:]])

    def layers(self) -> list[tuple[Array, Array]]:
        """The applied ``[(W_l, b_l)]``, ``W_l`` of shape ``(out, in)``."""
        return [(w[...], b[...]) for w, b in zip(self.weights, self.biases)]

    def __call__(self, x: Float[Array, "batch d"]) -> Float[Array, " batch"]:
        """``g(x)`` for a batch of inputs ``x`` of shape ``(B, d)``; returns ``(B,)``."""
        return apply_layers(self.layers(), x, self.activation)
