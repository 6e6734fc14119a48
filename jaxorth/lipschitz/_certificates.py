r"""Certified robustness from a Lipschitz bound: margins, radii, certified accuracy.

Tsuzuku, Sato & Sugiyama (NeurIPS 2018, "Lipschitz-Margin Training", Proposition 1): if
the logit map ``f`` is ``L``-Lipschitz in the l2 norm, every difference
``f_i - f_j`` is ``sqrt(2) L``-Lipschitz, so the prediction at ``x`` cannot change
under any perturbation ``||delta||_2 < margin(x) / (sqrt(2) L)``, where ``margin`` is
the top logit minus the runner-up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Bool, Float, Int

from jaxorth._checks import number_at_least, positive_number

__all__ = ["certified", "certified_accuracy", "certified_radius", "logit_margin"]


def logit_margin(logits: Float[ArrayLike, "B K"]) -> Float[Array, " B"]:
    """Top logit minus the runner-up, per example (``K >= 2`` classes).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.lipschitz import logit_margin
    >>> logit_margin(jnp.array([[2.0, 0.5, 1.0]])).tolist()  # top minus runner-up
    [1.0]
    """
    logits = jnp.asarray(logits)
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError(f"logits must have shape (B, K) with K >= 2, got {logits.shape}")
    top2 = jnp.sort(logits, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def certified_radius(margin: Float[ArrayLike, "*b"], lipschitz: float) -> Float[Array, "*b"]:
    r"""The l2 radius ``margin / (sqrt(2) L)`` within which the prediction cannot change.

    Tsuzuku et al. (NeurIPS 2018), Proposition 1: for an ``L``-Lipschitz logit map,
    ``|(f_i - f_j)(x + delta) - (f_i - f_j)(x)| <= sqrt(2) L ||delta||``, so the top class
    ``i`` stays on top while ``||delta|| < margin / (sqrt(2) L)``.

    Parameters
    ----------
    margin : Float[Array, "..."]
        Top logit minus the runner-up (:func:`logit_margin`).
    lipschitz : float
        An upper bound ``L > 0`` of the network's l2 Lipschitz constant.

    Returns
    -------
    Float[Array, "..."]
        The certified radii (same shape as ``margin``).

    Examples
    --------
    >>> from jaxorth.lipschitz import certified_radius
    >>> round(float(certified_radius(1.0, 1.0)), 4)  # margin / (sqrt(2) L)
    0.7071
    """
    lipschitz = positive_number(lipschitz, "lipschitz")
    return jnp.asarray(margin) / (math.sqrt(2.0) * lipschitz)


def certified(
    logits: Float[ArrayLike, "B K"],
    labels: Int[ArrayLike, " B"],
    lipschitz: float,
    radii: Sequence[float],
) -> Bool[Array, "R B"]:
    """Whether each example is correct *and* certified at each radius.

    An example counts at radius ``r`` when its prediction (top logit) is its label and
    its certified radius (:func:`certified_radius` of its :func:`logit_margin`) is
    ``> r``.

    Parameters
    ----------
    logits : Float[Array, "B K"]
    labels : Int[Array, " B"]
    lipschitz : float
        Upper bound ``L > 0`` of the l2 Lipschitz constant of ``x -> logits``.
    radii : sequence of float
        l2 radii ``r >= 0``.

    Returns
    -------
    Bool[Array, "R B"]
        One row per radius.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.lipschitz import certified
    >>> logits = jnp.array([[2.0, 0.0], [0.0, 0.1]])
    >>> certified(logits, jnp.array([0, 1]), 1.0, [0.05, 1.0]).tolist()
    [[True, True], [True, False]]
    """
    logits, labels = jnp.asarray(logits), jnp.asarray(labels)
    radii = [number_at_least(r, "radii", 0.0) for r in radii]
    if labels.shape != logits.shape[:1]:
        raise ValueError(f"labels must have shape {logits.shape[:1]}, got {labels.shape}")
    correct = jnp.argmax(logits, axis=1) == labels
    radius = certified_radius(logit_margin(logits), lipschitz)
    r = jnp.asarray(radii, radius.dtype)
    return correct[None, :] & (radius[None, :] > r[:, None])


def certified_accuracy(
    logits: Float[ArrayLike, "B K"],
    labels: Int[ArrayLike, " B"],
    lipschitz: float,
    radii: Sequence[float],
) -> Float[Array, " R"]:
    """Certified robust accuracy: the fraction of :func:`certified` examples per radius.

    The parameters are those of :func:`certified`.

    Returns
    -------
    Float[Array, " R"]
        One accuracy per radius.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.lipschitz import certified_accuracy
    >>> logits = jnp.array([[2.0, 0.0], [0.0, 0.1]])
    >>> certified_accuracy(logits, jnp.array([0, 1]), 1.0, [0.05, 1.0]).tolist()
    [1.0, 0.5]
    """
    return jnp.mean(certified(logits, labels, lipschitz, radii), axis=1)
