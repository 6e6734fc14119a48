r"""A residual block whose Lipschitz bound is known: ``alpha x + (1 - alpha) f(x)``."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, Float

from jaxorth._checks import number_at_least

__all__ = ["ResidualBlock"]


class ResidualBlock(nnx.Module):
    r"""Residual connection by a weighted sum: ``y = alpha x + (1 - alpha) f(x)``.

    For any map ``f`` that is ``L_f``-Lipschitz in the l2 norm and keeps the shape of its
    input, the triangle inequality gives

    .. math::

        \|y(x) - y(x')\| \le |\alpha|\, \|x - x'\| + |1 - \alpha|\, \|f(x) - f(x')\|
        \le \bigl(|\alpha| + |1 - \alpha|\, L_f\bigr)\, \|x - x'\|,

    so the block is ``(|alpha| + |1 - alpha| L_f)``-Lipschitz
    (:meth:`lipschitz_factor`). For ``alpha`` in ``[0, 1]`` and ``L_f <= 1`` this is a
    convex combination of two 1-Lipschitz maps, itself 1-Lipschitz: a skip connection
    that a 1-Lipschitz network can use without losing its certificate, where the plain
    ``x + f(x)`` would double the bound at every block. The bound is tight when ``f`` is
    linear with an eigenvector of eigenvalue ``L_f`` (``f = c I``, ``c >= 0``; an
    orthogonal ``f`` in odd dimension, which has the eigenvalue 1 when ``det f = 1``).
    :func:`~jaxorth.lipschitz.lipschitz_report` computes ``L_f`` exactly from the layers
    of ``f`` (the input size followed through them) and reports the block's factor.

    The construction is orthogonium's ``AdditiveResidual`` (``alpha x + (1 - alpha)
    fn(x)`` with ``alpha = sigmoid(a)`` learned; orthogonium, ``layers/residual.py``),
    which it uses in its 1-Lipschitz networks [the paper introducing it: to confirm].
    ``learnable=True`` gives that parametrisation.

    Parameters
    ----------
    f : callable
        The residual branch: a module (an :class:`flax.nnx.Sequential` of layers, for a
        report layer by layer), or a function; ``f(x).shape == x.shape``.
    alpha : float
        Weight of the identity branch, finite. With ``learnable=True`` it is the initial
        value and must lie in ``(0, 1)``.
    learnable : bool
        Learn ``alpha = sigmoid(a)`` (a parameter ``a``, initialised at
        ``logit(alpha)``): always in ``(0, 1)``, so the block stays 1-Lipschitz when
        ``f`` is.

    Raises
    ------
    ValueError
        For a non-callable ``f`` or a bad ``alpha``, at construction; when ``f`` changes
        the shape of its input, at call.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jaxorth.lipschitz import OrthLinear, ResidualBlock, lipschitz_report, maxmin
    >>> rngs = nnx.Rngs(0)
    >>> block = ResidualBlock(nnx.Sequential(OrthLinear(4, 4, rngs=rngs), maxmin), alpha=0.25)
    >>> block(jnp.ones((2, 4))).shape
    (2, 4)
    >>> report = lipschitz_report([("block", block)])
    >>> round(report.bound, 4)  # 0.25 + 0.75 * 1
    1.0
    """

    def __init__(self, f: Any, *, alpha: float = 0.5, learnable: bool = False):
        if not callable(f):
            raise ValueError(f"f must be callable (a module or a function), got {f!r}")
        alpha = number_at_least(alpha, "alpha", -math.inf)
        self.f = f
        self.learnable = bool(learnable)
        if self.learnable:
            if not 0.0 < alpha < 1.0:
                raise ValueError(f"alpha must lie in (0, 1) with learnable=True, got {alpha}")
            self.logit = nnx.Param(jnp.asarray(math.log(alpha / (1.0 - alpha)), jnp.float32))
            self.fixed_alpha = None
        else:
            self.logit = nnx.data(None)
            self.fixed_alpha = alpha

    def alpha(self) -> Float[Array, ""]:
        """The weight ``alpha`` of the identity branch (``sigmoid(a)`` when learnable)."""
        if self.logit is None:
            return jnp.asarray(self.fixed_alpha, jnp.float32)
        return jax.nn.sigmoid(self.logit[...])

    def lipschitz_factor(self, inner: float) -> float:
        """``|alpha| + |1 - alpha| inner``: the block's bound given ``L_f = inner``."""
        inner = number_at_least(inner, "inner", 0.0)
        if self.logit is None:
            a = float(self.fixed_alpha)
        else:
            a = float(jax.nn.sigmoid(float(self.logit[...])))
        return abs(a) + abs(1.0 - a) * inner

    def __call__(self, x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        """``alpha x + (1 - alpha) f(x)``, in the dtype of ``x``."""
        y = self.f(x)
        if y.shape != x.shape:
            raise ValueError(
                f"ResidualBlock: f must keep the shape of its input, got {tuple(x.shape)} "
                f"-> {tuple(y.shape)}"
            )
        if self.logit is None:
            a = self.fixed_alpha  # a Python float: weakly typed, keeps x's dtype
            return a * x + (1.0 - a) * y
        a = self.alpha().astype(x.dtype)
        return a * x + (1 - a) * y
