"""Upper bounds of the Lipschitz constant of a network."""

from __future__ import annotations

import math
from collections.abc import Iterable

from jaxorth._checks import number_at_least

__all__ = ["lipschitz_bound"]


def lipschitz_bound(layer_norms: Iterable[float]) -> float:
    r"""``L = prod_l ||W_l||_2``: the composition bound of a feed-forward network.

    For ``f = g_n o phi o g_{n-1} o ... o phi o g_1`` with affine layers
    ``g_l(x) = W_l x + b_l`` and 1-Lipschitz activations ``phi`` (ReLU, MaxMin), the l2
    Lipschitz constant of ``f`` is at most the product of the layers' spectral norms
    ``sigma_max(W_l)`` (Szegedy et al., ICLR 2014, section 4.3). Pass *exact* spectral
    norms (for circular convolutions, :func:`jaxorth.orthconv.singular_values`) to get
    the tightest bound of this form.

    Parameters
    ----------
    layer_norms : iterable of float
        ``sigma_max`` of each layer (``>= 0``).

    Returns
    -------
    float
        The product (1 for no layers).
    """
    return float(math.prod(number_at_least(float(v), "layer_norms", 0.0) for v in layer_norms))
