r"""The symmetries of a ReLU network: permutations and positive rescalings of hidden neurons.

For a hidden neuron ``j`` of layer ``l`` and ``s > 0``, multiplying its incoming row
``W_l[j, :]`` and bias ``b_l[j]`` by ``s`` and its outgoing column ``W_{l+1}[:, j]`` by
``1 / s`` leaves ``f_theta`` unchanged, because ``relu(s t) = s relu(t)`` for ``s > 0``;
so does any permutation of the neurons of a hidden layer (rows of ``W_l``, ``b_l`` and
columns of ``W_{l+1}`` permuted together). Parameters are identified at best modulo these
(Bona-Pellissier, Bachoc, Malgouyres, NeurIPS 2022, arXiv 2206.07424, Sec. 2; Machine
Learning 2023, arXiv 2112.12982). A *negative* ``s`` is not a symmetry:
``relu(-t) != -relu(t)``.

:func:`canonical_form` picks one representative of the class, :func:`match_neurons`
aligns two networks, :func:`parameter_distance` and :func:`equivalent` compare them.
All of these compute in numpy float64 and return numpy float64 arrays.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxorth._checks import finite, number_at_least
from jaxorth._random import numpy_rng

from ._networks import Params, check_params

__all__ = [
    "apply_symmetry",
    "canonical_form",
    "equivalent",
    "hyperplane_distance",
    "match_neurons",
    "parameter_distance",
    "random_symmetry",
]


def _linear_sum_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`scipy.optimize.linear_sum_assignment`, imported on first use (0.25 s)."""
    from scipy.optimize import linear_sum_assignment as assign

    return assign(cost)


def _as_float64(params: Params) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.array(w, dtype=np.float64), np.array(b, dtype=np.float64)) for w, b in params]


def _check_symmetry(
    dims: tuple[int, ...], permutations: Any, scales: Any
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    hidden = dims[1:-1]
    perms, factors = [], []
    for name, given in (("permutations", permutations), ("scales", scales)):
        if given is not None and len(given) != len(hidden):
            raise ValueError(
                f"{name} must hold one entry per hidden layer ({len(hidden)}), got {len(given)}"
            )
    for i, d in enumerate(hidden):
        if permutations is None or permutations[i] is None:
            perm = np.arange(d)
        else:
            perm = np.asarray(permutations[i])
            if (
                perm.shape != (d,)
                or not np.issubdtype(perm.dtype, np.integer)
                or not np.array_equal(np.sort(perm), np.arange(d))
            ):
                raise ValueError(
                    f"permutations[{i}] must be a permutation of 0..{d - 1} (d_{i + 1} = {d}), "
                    f"got {perm.tolist()}"
                )
        if scales is None or scales[i] is None:
            scale = np.ones(d)
        else:
            scale = np.asarray(scales[i], dtype=np.float64)
            if scale.shape != (d,):
                raise ValueError(
                    f"scales[{i}] must have shape ({d},) (d_{i + 1} = {d}), got {scale.shape}"
                )
            finite(scale, f"scales[{i}]")
            if (scale <= 0).any():
                k = int(np.flatnonzero(scale <= 0)[0])
                raise ValueError(
                    f"scales[{i}] must be > 0, got {scale[k]:g} at index {k}: a negative or "
                    f"zero scaling is not a symmetry of ReLU (relu(-t) != -relu(t))"
                )
        perms.append(perm.astype(np.int64))
        factors.append(scale)
    return perms, factors


def apply_symmetry(
    params: Params,
    permutations: Sequence[Any] | None = None,
    scales: Sequence[Any] | None = None,
) -> list[tuple[jax.Array, jax.Array]]:
    """The network with permuted and positively rescaled hidden neurons: same function.

    ``permutations[l]`` and ``scales[l]`` act on hidden layer ``l + 1`` (one entry per
    hidden layer; ``None`` for the identity). New neuron ``j`` is old neuron
    ``perm[j]``, its incoming row and bias multiplied by ``scale[j] > 0`` and its
    outgoing column divided by it. Returns jax arrays in the parameters' dtype.
    ``ValueError`` (before compute) for an invalid permutation or a scale ``<= 0``.

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from jaxorth.identifiability import apply_symmetry, random_params, relu_mlp
    >>> params = random_params(jax.random.key(0), [2, 3, 1])
    >>> other = apply_symmetry(params, [np.array([2, 0, 1])], [np.array([0.5, 2.0, 3.0])])
    >>> x = jax.random.normal(jax.random.key(1), (4, 2))
    >>> bool(jnp.allclose(relu_mlp(params, x), relu_mlp(other, x), atol=1e-5))  # same function
    True
    """
    dims = check_params(params)
    perms, factors = _check_symmetry(dims, permutations, scales)
    # numpy in the parameters' dtype (no XLA compilation per shape), jax arrays out
    out = [[np.asarray(w), np.asarray(b)] for w, b in params]
    for i, (perm, s) in enumerate(zip(perms, factors)):
        w, b = out[i]
        s = s.astype(w.dtype)
        out[i] = [w[perm] * s[:, None], b[perm] * s.astype(b.dtype)]
        out[i + 1][0] = out[i + 1][0][:, perm] / s.astype(out[i + 1][0].dtype)[None, :]
    return [(jnp.asarray(w), jnp.asarray(b)) for w, b in out]


def random_symmetry(
    key: jax.Array, params: Params, *, log_scale: float = 1.0
) -> tuple[list[tuple[jax.Array, jax.Array]], tuple[list[np.ndarray], list[np.ndarray]]]:
    """A random equivalent copy: ``(params', (permutations, scales))``.

    Uniform permutations and scales ``exp(log_scale * N(0, 1))`` per hidden layer, drawn
    with numpy from ``key``; ``params' = apply_symmetry(params, permutations, scales)``.

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth.identifiability import random_params, random_symmetry, relu_mlp
    >>> params = random_params(jax.random.key(0), [2, 3, 1])
    >>> other, (perms, scales) = random_symmetry(jax.random.key(1), params)
    >>> x = jnp.ones((1, 2))
    >>> bool(jnp.allclose(relu_mlp(params, x), relu_mlp(other, x), atol=1e-5)), len(perms)
    (True, 1)
    """
    log_scale = number_at_least(log_scale, "log_scale", 0.0)
    dims = check_params(params)
    rng = numpy_rng(key)
    perms = [rng.permutation(d) for d in dims[1:-1]]
    scales = [np.exp(log_scale * rng.normal(size=d)) for d in dims[1:-1]]
    return apply_symmetry(params, perms, scales), (perms, scales)


def _canonical(params: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
    ps = [[w.copy(), b.copy()] for w, b in params]
    for i in range(len(ps) - 1):
        w, b = ps[i]
        w_next = ps[i + 1][0]
        norms = np.sqrt((w * w).sum(axis=1) + b * b)
        zero = norms == 0
        s = np.where(zero, 1.0, norms)
        w, b = w / s[:, None], b / s
        w_next = w_next * s[None, :]
        w_next[:, zero] = 0.0
        live = np.flatnonzero(~zero)
        # lexicographic on (b, w_1, ..., w_d): np.lexsort's primary key is the last one
        keys = np.concatenate([b[live, None], w[live]], axis=1)
        order = np.concatenate([live[np.lexsort(keys.T[::-1])], np.flatnonzero(zero)])
        ps[i] = [w[order], b[order]]
        ps[i + 1][0] = w_next[:, order]
    return [(w, b) for w, b in ps]


def canonical_form(params: Params) -> list[tuple[np.ndarray, np.ndarray]]:
    r"""The representative of ``params`` modulo permutations and positive rescalings.

    Layer by layer from the first hidden one: each hidden neuron's ``(W_l[j, :],
    b_l[j])`` is divided by its Euclidean norm (the norm multiplied into column ``j`` of
    ``W_{l+1}``, which leaves the function unchanged); then the neurons are sorted
    lexicographically on the normalised ``(b_l[j], W_l[j, 0], W_l[j, 1], ...)`` and the
    columns of ``W_{l+1}`` permuted with them; the next layer is treated with its
    columns already rescaled and permuted. The output layer is not changed otherwise.

    A neuron with zero incoming row and bias computes ``relu(0) = 0`` on every input: it
    cannot be normalised, and its outgoing column does not affect the function, so the
    canonical form sets that column to 0 and puts such neurons last (a network and the
    copy with that column changed have the same canonical form, as they compute the same
    function).

    Two equivalent networks have canonical forms equal up to rounding, except when two
    neurons of a layer have normalised ``b`` equal up to rounding (then their order can
    differ): :func:`match_neurons` does not rely on the order. Computed in numpy
    float64; returns numpy float64 arrays.

    Examples
    --------
    >>> import jax
    >>> import numpy as np
    >>> from jaxorth.identifiability import canonical_form, random_params, random_symmetry
    >>> params = random_params(jax.random.key(0), [2, 3, 1])
    >>> other, _ = random_symmetry(jax.random.key(1), params)
    >>> a, b = canonical_form(params), canonical_form(other)
    >>> all(np.allclose(wa, wb, atol=1e-5) for (wa, _), (wb, _) in zip(a, b))
    True
    """
    check_params(params)
    return _canonical(_as_float64(params))


def _check_same_widths(params_a: Params, params_b: Params) -> tuple[int, ...]:
    dims_a = check_params(params_a, "params_a")
    dims_b = check_params(params_b, "params_b")
    if dims_a != dims_b:
        raise ValueError(
            f"params_b has widths {dims_b} but params_a has widths {dims_a}: only networks "
            f"of the same widths can be matched"
        )
    return dims_a


def _aligned(
    params_a: Params, params_b: Params
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[tuple[np.ndarray, np.ndarray]], list]:
    _check_same_widths(params_a, params_b)
    ca = _canonical(_as_float64(params_a))
    cb = [[w, b] for w, b in _canonical(_as_float64(params_b))]
    perms = []
    for i in range(len(ca) - 1):
        row_a = np.concatenate([ca[i][0], ca[i][1][:, None]], axis=1)
        row_b = np.concatenate([cb[i][0], cb[i][1][:, None]], axis=1)
        cost = ((row_a[:, None, :] - row_b[None, :, :]) ** 2).sum(axis=2)
        rows, cols = _linear_sum_assignment(cost)
        perm = cols[np.argsort(rows)]
        cb[i] = [cb[i][0][perm], cb[i][1][perm]]
        cb[i + 1][0] = cb[i + 1][0][:, perm]
        perms.append(perm.astype(np.int64))
    return ca, [(w, b) for w, b in cb], perms


def match_neurons(params_a: Params, params_b: Params) -> list[np.ndarray]:
    """Per hidden layer, the permutation of ``canonical_form(params_b)`` onto ``params_a``'s.

    ``apply_symmetry(canonical_form(params_b), match_neurons(params_a, params_b))`` has
    its neurons in the order of ``canonical_form(params_a)``. Layer by layer from the
    first hidden one, the Hungarian algorithm (:func:`scipy.optimize.linear_sum_assignment`)
    minimises the sum of squared distances between the canonical incoming ``(W_l[j, :],
    b_l[j])`` of matched neurons, ``b``'s columns already permuted by the previous
    layer's match. Each layer's match is optimal given the previous ones; for deep
    networks this greedy sequence is not guaranteed to be a global optimum over all
    layers together. ``ValueError`` if the widths differ.

    Examples
    --------
    >>> import jax
    >>> import numpy as np
    >>> from jaxorth.identifiability import apply_symmetry, canonical_form, match_neurons
    >>> from jaxorth.identifiability import random_params, random_symmetry
    >>> params = random_params(jax.random.key(0), [2, 3, 1])
    >>> other, _ = random_symmetry(jax.random.key(1), params)  # permuted, rescaled
    >>> aligned = apply_symmetry(canonical_form(other), match_neurons(params, other))
    >>> all(np.allclose(a, b, atol=1e-5) for (a, _), (b, _) in zip(aligned, canonical_form(params)))
    True
    """
    return _aligned(params_a, params_b)[2]


def _norm(params: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    return math.sqrt(sum(float((w * w).sum() + (b * b).sum()) for w, b in params))


def parameter_distance(params_a: Params, params_b: Params, *, relative: bool = False) -> float:
    """Euclidean distance of all parameters after :func:`canonical_form` and matching.

    ``||canonical(a) - aligned canonical(b)||_2`` over every weight and bias, ``b``
    aligned by :func:`match_neurons`; 0 for equivalent networks (up to rounding).
    ``relative=True`` divides by the norm of ``canonical_form(params_a)`` (unless it is
    0). ``ValueError`` if the widths differ.

    Examples
    --------
    >>> import jax
    >>> from jaxorth.identifiability import parameter_distance, random_params, random_symmetry
    >>> params = random_params(jax.random.key(0), [2, 3, 1])
    >>> other, _ = random_symmetry(jax.random.key(1), params)
    >>> parameter_distance(params, other) < 1e-5  # zero modulo the symmetries
    True
    """
    ca, cb, _ = _aligned(params_a, params_b)
    diff = [(wa - wb, ba - bb) for (wa, ba), (wb, bb) in zip(ca, cb)]
    dist = _norm(diff)
    if relative:
        scale = _norm(ca)
        return dist / scale if scale > 0 else dist
    return dist


def equivalent(params_a: Params, params_b: Params, *, atol: float = 1e-6) -> bool:
    """Whether ``params_b`` is ``params_a`` up to permutations and positive rescalings.

    ``True`` when :func:`parameter_distance` is ``<= atol * max(1, ||canonical(a)||)``
    (a tolerance relative to the network's size for large ones); ``False`` for networks
    of different widths (no error).

    Examples
    --------
    >>> import jax
    >>> from jaxorth.identifiability import equivalent, random_params, random_symmetry
    >>> params = random_params(jax.random.key(0), [2, 3, 1])
    >>> other, _ = random_symmetry(jax.random.key(1), params)
    >>> equivalent(params, other), equivalent(params, random_params(jax.random.key(2), [2, 3, 1]))
    (True, False)
    """
    atol = number_at_least(atol, "atol", 0.0)
    dims_a = check_params(params_a, "params_a")
    dims_b = check_params(params_b, "params_b")
    if dims_a != dims_b:
        return False
    ca, cb, _ = _aligned(params_a, params_b)
    diff = [(wa - wb, ba - bb) for (wa, ba), (wb, bb) in zip(ca, cb)]
    return _norm(diff) <= atol * max(1.0, _norm(ca))


def hyperplane_distance(layer_a: Sequence[Any], layer_b: Sequence[Any]) -> float:
    """Worst distance between matched first-layer hyperplanes, up to orientation.

    ``layer_a = (W_a, b_a)`` and ``layer_b = (W_b, b_b)`` (``W`` of shape ``(m, d_0)``)
    describe the hyperplanes ``{x : w_j . x + b_j = 0}`` of a first hidden layer. Each
    row ``(w_j, b_j)`` is normalised to unit Euclidean norm and compared with ``+-`` the
    other's (a hyperplane does not know the side its neuron is active on, which is all
    that an extraction of the first layer alone can see); rows are matched by the
    Hungarian algorithm. Returns the largest matched distance (``inf`` when the layers
    have different shapes: a neuron is missing or extra).

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.identifiability import hyperplane_distance
    >>> W, b = np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([0.5, -1.0])
    >>> float(hyperplane_distance((W, b), (-3 * W[::-1], -3 * b[::-1])))  # same hyperplanes
    0.0
    >>> hyperplane_distance((W, b), (W[:1], b[:1]))  # a missing neuron
    inf
    """
    (wa, ba), (wb, bb) = [
        (np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in (layer_a, layer_b)
    ]
    if wa.shape != wb.shape or ba.shape != (wa.shape[0],) or bb.shape != (wb.shape[0],):
        return math.inf
    ra, rb = np.hstack([wa, ba[:, None]]), np.hstack([wb, bb[:, None]])
    for r, name in ((ra, "layer_a"), (rb, "layer_b")):
        if not np.all(np.isfinite(r)) or np.any(np.linalg.norm(r, axis=1) == 0):
            raise ValueError(f"{name} must have finite, nonzero rows (w_j, b_j)")
    ra /= np.linalg.norm(ra, axis=1, keepdims=True)
    rb /= np.linalg.norm(rb, axis=1, keepdims=True)
    cost = np.minimum(
        np.linalg.norm(ra[:, None] - rb[None], axis=2),
        np.linalg.norm(ra[:, None] + rb[None], axis=2),
    )
    rows, cols = _linear_sum_assignment(cost)
    return float(cost[rows, cols].max())
