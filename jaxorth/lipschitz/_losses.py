r"""Losses for certified training of Lipschitz classifiers.

With an ``L``-Lipschitz logit map the certified l2 radius of an example is its logit
margin over ``sqrt(2) L`` (:func:`~jaxorth.lipschitz.certified_radius`). The losses here
reward margins directly:

- :func:`margin_cross_entropy`: cross-entropy of offset, temperature-scaled logits (the
  "tau-CCE" of Béthune et al., NeurIPS 2022, "Pay attention to your loss: understanding
  misconceptions about 1-Lipschitz neural networks"; deel-lip's
  ``TauCategoricalCrossentropy``, orthogonium's ``LossXent``);
- :func:`multiclass_hinge`: the multiclass hinge in its *sum over classes* form (Weston &
  Watkins, ESANN 1999, "Support vector machines for multi-class pattern recognition").

Both take integer labels and return the mean over the batch. To aim at a certified
radius ``r`` with an ``L``-Lipschitz network, set ``margin = sqrt(2) L r``: an example
whose logit margin exceeds it is certified at ``r``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Int

from jaxorth._checks import ints_in_range, number_at_least, positive_number

__all__ = ["margin_cross_entropy", "multiclass_hinge"]


def _check(logits, labels) -> tuple[Array, Array]:
    logits, labels = jnp.asarray(logits), jnp.asarray(labels)
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError(f"logits must have shape (B, K) with K >= 2, got {logits.shape}")
    if labels.shape != logits.shape[:1]:
        raise ValueError(f"labels must have shape {logits.shape[:1]}, got {labels.shape}")
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype}")
    ints_in_range(labels, "labels", 0, logits.shape[1], "K")
    return logits, labels


def margin_cross_entropy(
    logits: Float[ArrayLike, "B K"],
    labels: Int[ArrayLike, " B"],
    *,
    margin: float = 0.0,
    temperature: float = 1.0,
) -> Float[Array, ""]:
    r"""Cross-entropy with a margin offset and a temperature ("tau-CCE").

    .. math::

        \ell(f, y) = T \cdot \mathrm{CE}\!\left(\frac{f - m\, e_y}{T},\ y\right)
        = T \log \sum_k \exp\frac{f_k - m [k = y]}{T} - (f_y - m),

    averaged over the batch, where ``m = margin``, ``T = temperature`` and ``e_y`` is the
    one-hot vector of the label. Béthune et al. (NeurIPS 2022, "Pay attention to your
    loss" [section and equation to confirm in the paper]) show that for 1-Lipschitz
    networks the temperature sets the accuracy-robustness trade-off. The two limits
    follow from ``T log sum_k exp(z_k / T) -> max_k z_k`` as ``T -> 0``: a small ``T``
    approaches the hinge ``max(0, m + max_{j != y} f_j - f_y)`` (hard margin), while a
    large ``T`` gives ``mean_k f_k - f_y`` up to constants and ``O(1/T)``, linear in the
    logits (Kantorovich-Rubinstein-like), which keeps pushing every margin up. The factor
    ``T`` keeps the loss and its gradient on the scale of the logits.

    Scaling: deel-lip's ``TauCategoricalCrossentropy(tau)`` computes
    ``CE(tau f) / tau``, i.e. this loss with ``temperature = 1 / tau`` and
    ``margin = 0``; orthogonium's ``LossXent(offset, temperature)`` is this loss with
    ``margin = offset``.

    Parameters
    ----------
    logits : Float[Array, "B K"]
    labels : Int[Array, " B"]
        Class indices in ``[0, K)`` (checked when concrete).
    margin : float
        ``m >= 0``, subtracted from the true-class logit before the softmax.
    temperature : float
        ``T > 0``.

    Returns
    -------
    Float[Array, ""]
        The batch mean. ``margin = 0, temperature = 1`` is the plain softmax
        cross-entropy (``optax.softmax_cross_entropy_with_integer_labels``, averaged).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.lipschitz import margin_cross_entropy
    >>> logits = jnp.array([[0.0, 0.0]])
    >>> round(float(margin_cross_entropy(logits, jnp.array([0]))), 4)  # ln 2
    0.6931
    """
    margin = number_at_least(margin, "margin", 0.0)
    temperature = positive_number(temperature, "temperature")
    logits, labels = _check(logits, labels)
    onehot = jax.nn.one_hot(labels, logits.shape[1], dtype=logits.dtype)
    z = (logits - margin * onehot) / temperature
    log_p = jax.nn.log_softmax(z, axis=1)
    return -temperature * jnp.mean(jnp.sum(onehot * log_p, axis=1))


def multiclass_hinge(
    logits: Float[ArrayLike, "B K"],
    labels: Int[ArrayLike, " B"],
    *,
    margin: float = 1.0,
) -> Float[Array, ""]:
    r"""Multiclass hinge, summed over the wrong classes (Weston & Watkins 1999).

    .. math::

        \ell(f, y) = \sum_{j \ne y} \max\bigl(0,\ m - (f_y - f_j)\bigr),

    averaged over the batch (Weston & Watkins, ESANN 1999, the multi-class SVM
    objective). It vanishes exactly when every margin ``f_y - f_j`` is at least ``m``,
    i.e. when the example is correct with logit margin ``>= m`` (certified at radius
    ``m / (sqrt(2) L)`` for an ``L``-Lipschitz network, strictly inside it).

    Conventions elsewhere: PyTorch's ``multi_margin_loss`` and deel-lip's ``MultiMargin``
    are this sum divided by ``K`` (a mean over all ``K`` outputs, the true class counting
    0); deel-lip's ``CategoricalHinge`` is the max-over-``j`` form (Crammer & Singer,
    JMLR 2001); deel-lip's ``MulticlassHinge`` is a different, one-vs-all loss
    (``max(0, m/2 - f_y) + max(0, m/2 + f_j)`` per wrong class, divided by ``K``).

    Parameters
    ----------
    logits : Float[Array, "B K"]
    labels : Int[Array, " B"]
        Class indices in ``[0, K)`` (checked when concrete).
    margin : float
        ``m >= 0``, the logit margin asked of every wrong class.

    Returns
    -------
    Float[Array, ""]
        The batch mean.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.lipschitz import multiclass_hinge
    >>> float(multiclass_hinge(jnp.array([[3.0, 0.0, 2.5]]), jnp.array([0])))  # 1 - (3 - 2.5)
    0.5
    """
    margin = number_at_least(margin, "margin", 0.0)
    logits, labels = _check(logits, labels)
    onehot = jax.nn.one_hot(labels, logits.shape[1], dtype=logits.dtype)
    true = jnp.sum(onehot * logits, axis=1)
    hinge = jax.nn.relu(margin - (true[:, None] - logits))
    return jnp.mean(jnp.sum((1 - onehot) * hinge, axis=1))
