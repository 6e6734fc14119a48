"""Deep linear network loss, gradient, dense Hessian and criticality residual.

``L(W) = ||W_H ... W_1 X - Y||_F^2`` with ``W_h`` of shape ``(d_h, d_{h-1})``,
``X`` of shape ``(d_0, m)`` and ``Y`` of shape ``(d_H, m)`` (samples as columns), as in
Achour, Malgouyres & Gerchinovitz (JMLR 2024, Section 2).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike, Float

from jaxorth import hessian as _hessian
from jaxorth._checks import finite

Weights = Sequence[Float[ArrayLike, "_ _"]]  # noqa: F722


def _xp(*arrays):
    """``numpy`` when every array is a host ``np.ndarray``, else ``jax.numpy``."""
    return np if all(isinstance(a, np.ndarray) for a in arrays) else jnp


def check_shapes(weights: Weights, X: ArrayLike, Y: ArrayLike) -> tuple[int, ...]:
    """Validate a DLN's shapes and return its widths ``(d_0, ..., d_H)``.

    Raises
    ------
    ValueError
        If a weight is not 2-D, consecutive widths do not chain, or ``X``/``Y`` do not
        match the first/last layer or each other's number of samples; if a weight,
        ``X`` or ``Y`` holds a NaN or inf (checked when the values are concrete, not
        under ``jit``).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth import dln
    >>> dln.check_shapes([jnp.ones((4, 3)), jnp.ones((2, 4))], jnp.ones((3, 10)), jnp.ones((2, 10)))
    (3, 4, 2)
    """
    if len(weights) < 1:
        raise ValueError("weights must contain at least one layer, got 0")
    if X.ndim != 2 or Y.ndim != 2:
        raise ValueError(f"X and Y must be 2-D (features, samples), got {X.shape}, {Y.shape}")
    if X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"X and Y must have the same number of samples, got {X.shape[1]} and {Y.shape[1]}"
        )
    widths = [X.shape[0]]
    for h, W in enumerate(weights, start=1):
        if W.ndim != 2:
            raise ValueError(f"weights[{h - 1}] (W_{h}) must be 2-D, got shape {W.shape}")
        if W.shape[1] != widths[-1]:
            raise ValueError(
                f"weights[{h - 1}] (W_{h}) has {W.shape[1]} columns, expected d_{h - 1}="
                f"{widths[-1]}"
            )
        widths.append(W.shape[0])
    if widths[-1] != Y.shape[0]:
        raise ValueError(f"last layer outputs d_H={widths[-1]} rows but Y has {Y.shape[0]}")
    finite(list(weights), "weights")
    finite(X, "X")
    finite(Y, "Y")
    return tuple(int(d) for d in widths)


def product(weights: Weights, start: int = 1, stop: int | None = None) -> ArrayLike:
    """Partial product ``W_{stop:start} = W_stop ... W_start`` (1-based, inclusive).

    The empty product (``stop = start - 1``) is the identity of size ``d_{start-1}``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth import dln
    >>> dln.product([jnp.eye(2), 3 * jnp.eye(2)]).tolist()  # W_2 W_1
    [[3.0, 0.0], [0.0, 3.0]]
    """
    H = len(weights)
    stop = H if stop is None else stop
    if not (1 <= start <= H + 1 and start - 1 <= stop <= H):
        raise ValueError(f"need 1 <= start <= stop + 1 <= H + 1, got {start=}, {stop=}, {H=}")
    if stop == start - 1:
        d = weights[start - 1].shape[1] if start <= H else weights[-1].shape[0]
        return _xp(*weights).eye(d, dtype=weights[0].dtype)
    out = weights[start - 1]
    for W in weights[start:stop]:
        out = W @ out
    return out


def loss(weights: Weights, X: ArrayLike, Y: ArrayLike) -> Float[ArrayLike, ""]:  # noqa: F722
    """Squared loss ``||W_H ... W_1 X - Y||_F^2`` (Achour et al. 2024, eq. (1)).

    Parameters
    ----------
    weights : sequence of Float[ArrayLike, "d_h d_{h-1}"]
        ``[W_1, ..., W_H]``.
    X : Float[ArrayLike, "d_0 m"]
    Y : Float[ArrayLike, "d_H m"]

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth import dln
    >>> X, Y = jnp.eye(2), 2 * jnp.eye(2)
    >>> float(dln.loss([jnp.eye(2), jnp.eye(2)], X, Y))  # ||I I X - Y||_F^2
    2.0
    """
    check_shapes(weights, X, Y)
    R = product(weights) @ X - Y
    return _xp(*weights, X, Y).sum(R * R)


def gradient(weights: Weights, X: ArrayLike, Y: ArrayLike) -> list[ArrayLike]:
    """Analytic gradient ``dL/dW_h = 2 W_{H:h+1}^T (P S_xx - S_yx) W_{h-1:1}^T``.

    With ``P = W_H ... W_1``, ``S_xx = X X^T``, ``S_yx = Y X^T``. Computed with prefix and
    suffix products (``O(H)`` matrix products).

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth import dln
    >>> X, Y = jnp.eye(2), 2 * jnp.eye(2)
    >>> W = [jnp.eye(2), jnp.eye(2)]
    >>> autodiff = jax.grad(dln.loss)(W, X, Y)
    >>> all(bool(jnp.allclose(g, a)) for g, a in zip(dln.gradient(W, X, Y), autodiff))
    True
    >>> dln.gradient(W, X, Y)[0].tolist()  # 2 (P S_xx - S_yx) = 2 (I - 2 I)
    [[-2.0, 0.0], [0.0, -2.0]]
    """
    check_shapes(weights, X, Y)
    xp = _xp(*weights, X, Y)
    H = len(weights)
    prefix = [xp.eye(X.shape[0], dtype=X.dtype)]  # prefix[h] = W_{h:1}
    for W in weights:
        prefix.append(W @ prefix[-1])
    suffix = [xp.eye(Y.shape[0], dtype=Y.dtype)]  # suffix[j] = W_{H:H-j+1}
    for W in reversed(weights):
        suffix.append(suffix[-1] @ W)
    G = 2.0 * (prefix[-1] @ X - Y) @ X.T
    return [suffix[H - h].T @ G @ prefix[h - 1].T for h in range(1, H + 1)]


def loss_hessian(weights: Weights, X: ArrayLike, Y: ArrayLike) -> Float[ArrayLike, "n n"]:  # noqa: F722
    """Dense Hessian of :func:`loss` in the flattened coordinates of ``weights``.

    :func:`jaxorth.hessian.dense` of ``W -> L(W)`` (forward-over-reverse autodiff), in
    :func:`jax.flatten_util.ravel_pytree` order (``W_1`` row-major first). ``n`` is the
    number of weights, so this is for small networks (the oracle of the ``dln_landscape``
    study, Achour et al. 2024, Section 4); ``jax.vmap`` over a stack of points::

        jax.vmap(dln.loss_hessian, in_axes=(0, None, None))(stacked_weights, X, Y)

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth import dln
    >>> X, Y = jnp.eye(1), jnp.eye(1)
    >>> dln.loss_hessian([jnp.zeros((1, 1)), jnp.zeros((1, 1))], X, Y).tolist()  # W = 0, H = 2
    [[0.0, -2.0], [-2.0, 0.0]]
    """
    check_shapes(weights, X, Y)
    return _hessian.dense(lambda w: loss(w, X, Y), list(weights))


def criticality_residual(weights: Weights, X: ArrayLike, Y: ArrayLike) -> Float[ArrayLike, ""]:  # noqa: F722
    """Relative gradient norm, ``0`` exactly at critical points.

    ``max_h ||dL/dW_h||_F / (2 prod_{j != h} ||W_j||_2 (||S_yx||_F + ||P S_xx||_F))``: the
    denominator bounds the numerator (and its rounding error), so the residual lies in
    ``[0, 1]`` and is scale-free (0/0 counts as 0).

    Examples
    --------
    >>> import jax
    >>> from jaxorth import dln
    >>> X, Y = dln.make_data(jax.random.key(0), 3, 2, 20, eigenvalues=[4.0, 1.0])
    >>> W = dln.critical_point(jax.random.key(1), X, Y, [3, 2, 2], [0])
    >>> bool(dln.criticality_residual(W, X, Y) < 1e-4)
    True
    """
    check_shapes(weights, X, Y)
    xp = _xp(*weights, X, Y)
    H = len(weights)
    grads = gradient(weights, X, Y)
    Sxx, Syx = X @ X.T, Y @ X.T
    P = product(weights)
    e = xp.linalg.norm(Syx) + xp.linalg.norm(P @ Sxx)
    norms = [xp.linalg.norm(W, 2) for W in weights]
    out = xp.zeros((), X.dtype)
    tiny = xp.finfo(X.dtype).tiny
    for h in range(1, H + 1):
        others = xp.ones((), X.dtype)
        for j in range(H):
            if j != h - 1:
                others = others * norms[j]
        den = 2.0 * others * e
        out = xp.maximum(out, xp.linalg.norm(grads[h - 1]) / xp.maximum(den, tiny))
    return out
