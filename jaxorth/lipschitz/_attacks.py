r"""An l2 projected-gradient attack: an empirical check of certified radii.

Madry, Makelov, Schmidt, Tsipras & Vladu (ICLR 2018, "Towards deep learning models
resistant to adversarial attacks", section 2.1): projected gradient ascent of a loss
over the perturbation set, here the l2 ball ``||delta||_2 <= eps`` of each example. A
certificate (:func:`~jaxorth.lipschitz.certified_radius`) is an *upper* bound of the
distance to the decision boundary; an attack gives points beyond it, so it can only
find examples *outside* their certified radius: any success inside is a bug, either in
the network's Lipschitz bound or in the certificate.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from jaxorth._checks import ints_in_range, number_at_least, positive_int, positive_number

__all__ = ["l2_pgd"]


def _per_example(value, name: str, batch: int, dtype) -> Array:
    """A scalar or a ``(B,)`` array of finite numbers ``>= 0`` as a ``(B,)`` array."""
    if isinstance(value, int | float | np.integer | np.floating):
        value = number_at_least(value, name, 0.0)
    else:
        arr = jnp.asarray(value)
        if arr.shape not in ((), (batch,)):
            raise ValueError(f"{name} must be a number or have shape ({batch},), got {arr.shape}")
        if not isinstance(value, jax.core.Tracer):
            host = np.asarray(arr)
            if not (np.isfinite(host).all() and (host >= 0).all()):
                raise ValueError(f"{name} must hold finite numbers >= 0, got {host}")
        value = arr
    return jnp.broadcast_to(jnp.asarray(value, dtype), (batch,))


def l2_pgd(
    logit_fn: Callable[[Float[Array, "B C *n"]], Float[Array, "B K"]],
    x: Float[ArrayLike, "B C *n"],
    labels: Int[ArrayLike, " B"],
    *,
    eps: float | Float[ArrayLike, " B"],
    steps: int = 10,
    step_size: float | None = None,
    key: Array | None = None,
    clip: tuple[float, float] | None = None,
) -> Float[Array, "B C *n"]:
    r"""Untargeted l2 PGD on the logit margin; returns the adversarial inputs.

    Madry et al. (ICLR 2018), projected gradient ascent with l2-normalised steps: from
    ``delta_0 = 0`` (or a uniform random point of the ball when ``key`` is given),

    .. math::

        \delta_{t+1} = \Pi\Bigl(\delta_t + \alpha\, \frac{g_t}{\|g_t\|_2}\Bigr),
        \qquad g_t = \nabla_\delta\, \ell(x + \delta_t),
        \qquad \ell(z) = \max_{j \ne y} f_j(z) - f_y(z),

    per example, where ``Pi`` scales ``delta`` back onto the ball
    ``||delta||_2 <= eps`` and then, with ``clip = (lo, hi)``, clips ``x + delta`` to the
    box. The loss is the logit margin of the best wrong class (the margin objective of
    Carlini & Wagner, IEEE S&P 2017, with no confidence cap), not the cross-entropy: it
    is positive exactly when the prediction is wrong, and it is the quantity the
    certificate bounds (``margin / (sqrt(2) L)``). The iterate of largest loss is kept
    per example (the last one need not be the best).

    PGD is a heuristic: it finds a lower bound of the robust error, never a proof of
    robustness. On a linear classifier ``f(x) = W x`` it moves towards the boundary of the
    current runner-up class, which is the nearest boundary when all ``||w_i - w_j||``
    are equal (orthonormal rows) or for two classes; otherwise it can stop at a farther
    one.

    Parameters
    ----------
    logit_fn : callable
        ``(B, C, *n) -> (B, K)`` logits, each row depending on its own input only (no batch
        statistics), so that the gradient of the summed loss is the per-example gradient.
    x : Float[Array, "B C *n"]
        Clean inputs (inside the ``clip`` box, if one is given).
    labels : Int[Array, " B"]
        True classes in ``[0, K)`` (checked when concrete).
    eps : float or Float[Array, " B"]
        l2 radius ``>= 0``, one for all examples or one per example (for instance a
        fraction of each example's certified radius).
    steps : int
        Number of gradient steps.
    step_size : float, optional
        ``alpha > 0``; by default ``2.5 eps / steps`` per example (a common rule of
        thumb, the one of the Madry lab's ``robustness`` library [to confirm]: a total
        path of ``2.5 eps``, longer than the ball's diameter).
    key : jax.Array, optional
        PRNG key for a uniform random start in the ball; ``None`` starts at ``x``. From a
        random start the iterates have to turn along the sphere towards the ascent
        direction, which takes more steps than from ``x``.
    clip : (float, float), optional
        ``(lo, hi)`` box of valid inputs (``(0.0, 1.0)`` for images); ``None``: no box.
        If ``x`` lies in the box, the result lies in both the box and the ball.

    Returns
    -------
    Float[Array, "B C *n"]
        ``x + delta`` with ``||delta_b||_2 <= eps_b`` for every example ``b`` (up to
        rounding), in the dtype of ``x``.

    Notes
    -----
    Jit-able with ``logit_fn``, ``steps``, ``step_size`` and ``clip`` static (close over
    them); ``eps`` may be traced. One compiled loop (``lax.fori_loop``) of ``steps``
    gradient evaluations, plus one forward pass for the last iterate.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.lipschitz import l2_pgd
    >>> def logits(x):  # f(x) = x: class 0 wins where x_0 > x_1
    ...     return x.reshape(x.shape[0], -1)
    >>> x = jnp.array([[[0.3, 0.0]]])  # (B, C, n), at distance 0.3 / sqrt(2) of the boundary
    >>> adversarial = l2_pgd(logits, x, jnp.array([0]), eps=0.5)
    >>> int(logits(adversarial).argmax()), bool(jnp.linalg.norm(adversarial - x) <= 0.5 + 1e-6)
    (1, True)
    >>> int(logits(l2_pgd(logits, x, jnp.array([0]), eps=0.1)).argmax())  # a ball too small
    0
    """
    x, labels = jnp.asarray(x), jnp.asarray(labels)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(f"x must be a floating-point array, got dtype {x.dtype}")
    if x.ndim < 2:
        raise ValueError(
            f"x must have shape (B, ...) with at least one feature axis, got {x.shape}"
        )
    batch = x.shape[0]
    if labels.shape != (batch,):
        raise ValueError(f"labels must have shape ({batch},), got {labels.shape}")
    steps = positive_int(steps, "steps")
    radius = _per_example(eps, "eps", batch, x.dtype)
    if step_size is None:
        alpha = 2.5 * radius / steps
    else:
        alpha = jnp.full((batch,), positive_number(step_size, "step_size"), x.dtype)
    if clip is not None:
        if len(clip) != 2:
            raise ValueError(f"clip must be None or a pair (lo, hi), got {clip!r}")
        lo = number_at_least(clip[0], "clip[0]", -math.inf)
        hi = number_at_least(clip[1], "clip[1]", lo, strict=True)

    feat = (batch,) + (1,) * (x.ndim - 1)
    tiny = jnp.finfo(x.dtype).tiny

    def norms(v):
        return jnp.sqrt(jnp.sum(jnp.square(v.reshape(batch, -1)), axis=1))

    def project(delta):
        scale = jnp.minimum(1.0, radius / jnp.maximum(norms(delta), tiny))
        delta = delta * scale.reshape(feat)
        if clip is not None:
            delta = jnp.clip(x + delta, lo, hi) - x
        return delta

    def losses(delta):
        logits = logit_fn(x + delta)
        if logits.ndim != 2 or logits.shape[0] != batch or logits.shape[1] < 2:
            raise ValueError(
                f"logit_fn must return logits of shape ({batch}, K) with K >= 2, got {logits.shape}"
            )
        ints_in_range(labels, "labels", 0, logits.shape[1], "K")
        onehot = jax.nn.one_hot(labels, logits.shape[1], dtype=bool)
        true = jnp.sum(jnp.where(onehot, logits, 0), axis=1)
        other = jnp.max(jnp.where(onehot, -jnp.inf, logits), axis=1)
        return other - true

    def summed(delta):
        per = losses(delta)
        return jnp.sum(per), per

    grad_fn = jax.grad(summed, has_aux=True)

    if key is None:
        delta0 = jnp.zeros_like(x)
    else:
        k_dir, k_rad = jax.random.split(key)
        direction = jax.random.normal(k_dir, x.shape, x.dtype)
        direction = direction / jnp.maximum(norms(direction), tiny).reshape(feat)
        dim = math.prod(x.shape[1:])
        u = jax.random.uniform(k_rad, (batch,), x.dtype) ** (1.0 / dim)
        delta0 = project(direction * (radius * u).reshape(feat))

    def keep_best(delta, per, best, best_loss):
        better = per > best_loss
        return jnp.where(better.reshape(feat), delta, best), jnp.where(better, per, best_loss)

    def body(_, carry):
        delta, best, best_loss = carry
        grad, per = grad_fn(delta)
        best, best_loss = keep_best(delta, per, best, best_loss)
        step = grad / jnp.maximum(norms(grad), tiny).reshape(feat)
        return project(delta + alpha.reshape(feat) * step), best, best_loss

    init = (delta0, delta0, jnp.full((batch,), -jnp.inf, x.dtype))
    delta, best, best_loss = jax.lax.fori_loop(0, steps, body, init)
    best, _ = keep_best(delta, losses(delta), best, best_loss)
    return x + best
