"""Small Lipschitz networks built from orthogonal (or softly orthogonal) convolutions."""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np
from flax import nnx
from jaxtyping import Array, Float

from jaxorth._checks import int_at_least, one_of, positive_int
from jaxorth.orthconv import OrthConv, SoftOrthConv, lorth, singular_values

from ._activations import maxmin
from ._bounds import LipschitzReport, lipschitz_report
from ._linear import OrthLinear

__all__ = ["OrthCNN"]


class OrthCNN(nnx.Module):
    r"""A circular-padded CNN whose l2 Lipschitz constant is bounded layer by layer.

    ::

        conv(C -> c1, k, S=1) -> MaxMin -> conv(c1 -> c2, k, S=2) -> MaxMin
        -> conv(c2 -> c2, k, S=2) -> MaxMin -> flatten -> dense(c2 (n/4)^2 -> K)

    The three convolutions are either ``"exact"`` orthogonal layers
    (:class:`~jaxorth.orthconv.OrthConv`, BCOP o RKO explicit kernels; Achour, Malgouyres
    & Mamalet, JMLR 2022), or ``"soft"`` free kernels
    (:class:`~jaxorth.orthconv.SoftOrthConv`) meant to be trained with
    ``loss + lam * lorth_penalty()``. The dense head has orthonormal rows
    (:func:`~jaxorth.linalg.bjorck` of a free matrix), MaxMin
    (:func:`~jaxorth.lipschitz.maxmin`) is 1-Lipschitz, so the network is
    :meth:`lipschitz_bound`-Lipschitz with the product of the layers' exact spectral
    norms (1 up to rounding for the exact variant; :meth:`lipschitz_report` gives the
    factor of each layer).

    Parameters
    ----------
    variant : {"exact", "soft"}
        Orthogonal-by-construction or penalised convolutions.
    channels : (int, int)
        ``(c1, c2)``.
    kernel_size : int
        ``k`` of every convolution.
    input_size : int
        Spatial side ``n`` of the (square) inputs, a multiple of 4 (``8`` for the 8x8
        digits).
    in_channels : int
        ``C`` of the inputs.
    n_classes : int
        ``K``, the number of logits.
    method : str
        Orthogonalisation of the exact layers (``"bjorck"``, ``"cayley"``, ``"expm"``).
    rngs : nnx.Rngs
        Randomness of the initial parameters (float32, whatever ``jax_enable_x64``).

    Raises
    ------
    ValueError
        For a bad option, or (exact variant) a layer shape with no orthogonal
        convolution (message of :func:`~jaxorth.orthconv.check_orthogonal_conv`).

    Examples
    --------
    >>> from flax import nnx
    >>> from jaxorth.lipschitz import OrthCNN
    >>> model = OrthCNN("soft", (4, 8), 3, input_size=8, rngs=nnx.Rngs(0))
    >>> [conv.kernel().shape for conv in model.convs], model.strides  # C = 1 -> 4 -> 8 -> 8
    ([(4, 1, 3, 3), (8, 4, 3, 3), (8, 8, 3, 3)], (1, 2, 2))
    >>> try:
    ...     OrthCNN("exact", (4, 8), 3, input_size=10, rngs=nnx.Rngs(0))
    ... except ValueError as error:
    ...     print(error)
    input_size must be a multiple of 4...
    """

    strides = (1, 2, 2)

    def __init__(
        self,
        variant: str,
        channels: Sequence[int],
        kernel_size: int,
        *,
        input_size: int = 8,
        in_channels: int = 1,
        n_classes: int = 10,
        method: str = "bjorck",
        rngs: nnx.Rngs,
    ):
        one_of(variant, "variant", ("exact", "soft"))
        if len(channels) != 2:
            raise ValueError(f"channels must be (c1, c2), got {tuple(channels)}")
        c1, c2 = (positive_int(c, "channels") for c in channels)
        side = positive_int(input_size, "input_size")
        if side % 4:
            raise ValueError(f"input_size must be a multiple of 4 (two stride-2 convs), got {side}")
        n_classes = int_at_least(n_classes, "n_classes", 2)
        specs = [(positive_int(in_channels, "in_channels"), c1, 1), (c1, c2, 2), (c2, c2, 2)]
        if variant == "exact":
            convs = [
                OrthConv(ci, co, kernel_size, stride=s, method=method, use_bias=True, rngs=rngs)
                for ci, co, s in specs
            ]
        else:
            convs = [
                SoftOrthConv(ci, co, kernel_size, stride=s, use_bias=True, rngs=rngs)
                for ci, co, s in specs
            ]
        self.variant = variant
        self.input_size = side
        self.convs = nnx.List(convs)
        n_feat = c2 * (side // 4) ** 2
        self.head = OrthLinear(n_feat, n_classes, n_iter=15, order=2, rngs=rngs)

    def head_matrix(self) -> Float[Array, "K F"]:
        """Dense head with orthonormal rows (``K x F``, Bjorck): 1-Lipschitz."""
        return self.head.weight()

    def __call__(self, x: Float[Array, "B C n n"]) -> Float[Array, "B K"]:
        """Logits of a batch of channels-first images."""
        for conv in self.convs:
            x = maxmin(conv(x))
        return self.head(x.reshape(x.shape[0], -1))

    def lorth_values(self) -> list[Float[Array, ""]]:
        """``L_orth(K_l)`` of each convolution at its stride (Achour et al. 2022)."""
        return [lorth(conv.kernel(), s) for conv, s in zip(self.convs, self.strides)]

    def lorth_penalty(self) -> Float[Array, ""]:
        """``sum_l L_orth(K_l)`` of the soft convolutions, the training penalty (0 if exact).

        The exact variant is orthogonal by construction, so it has no penalty to train
        (its :meth:`lorth_values` vanish up to rounding).
        """
        if self.variant == "soft":
            return sum(conv.lorth_penalty() for conv in self.convs)
        return jnp.zeros(())

    def layer_singular_values(self) -> list[np.ndarray]:
        """Exact singular values of each linear layer on this model's input grid.

        The three convolutions by polyphase FFT (:func:`~jaxorth.orthconv.singular_values`
        on their input sizes ``n, n, n/2``), then the dense head (SVD in float64); float64
        numpy arrays, in decreasing order.
        """
        out, size = [], self.input_size
        for conv, s in zip(self.convs, self.strides):
            out.append(np.asarray(singular_values(conv.kernel(), size, s), np.float64))
            size //= s
        head = np.asarray(self.head_matrix(), np.float64)
        out.append(np.linalg.svd(head, compute_uv=False))
        return out

    def layers(self) -> list:
        """The layers in the order applied, as :func:`lipschitz_report` takes them."""
        out: list = []
        for j, conv in enumerate(self.convs):
            out += [(f"conv{j + 1}", conv), maxmin]
        return [*out, ("flatten", 1.0), ("head", self.head)]

    def lipschitz_report(self) -> LipschitzReport:
        """:func:`lipschitz_report` of :meth:`layers` on this model's input grid (float64)."""
        return lipschitz_report(self.layers(), self.input_size)

    def lipschitz_bound(self) -> float:
        """``prod_l sigma_max(W_l)`` over the layers (:meth:`lipschitz_report`'s bound)."""
        return self.lipschitz_report().bound
