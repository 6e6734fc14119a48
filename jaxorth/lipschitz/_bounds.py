"""Upper bounds of the Lipschitz constant of a network, with a per-layer breakdown."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxorth._checks import number_at_least, positive_int
from jaxorth._precision import float64
from jaxorth.orthconv import OrthConv, SoftOrthConv, singular_values

from ._activations import groupsort, maxmin
from ._layers import depth_to_space, l2_norm_pool, space_to_depth
from ._linear import OrthLinear
from ._residual import ResidualBlock

__all__ = ["LipschitzReport", "lipschitz_bound", "lipschitz_report"]


def lipschitz_bound(layer_norms: Iterable[float]) -> float:
    r"""``L = prod_l ||W_l||_2``: the composition bound of a feed-forward network.

    For ``f = g_n o phi o g_{n-1} o ... o phi o g_1`` with affine layers
    ``g_l(x) = W_l x + b_l`` and 1-Lipschitz activations ``phi`` (ReLU, MaxMin), the l2
    Lipschitz constant of ``f`` is at most the product of the layers' spectral norms
    ``sigma_max(W_l)`` (Szegedy et al., ICLR 2014, section 4.3). Pass *exact* spectral
    norms (for circular convolutions, :func:`jaxorth.orthconv.singular_values`) to get
    the tightest bound of this form; :func:`lipschitz_report` computes them from the
    layers themselves.

    Parameters
    ----------
    layer_norms : iterable of float
        ``sigma_max`` of each layer (``>= 0``).

    Returns
    -------
    float
        The product (1 for no layers).

    Examples
    --------
    >>> from jaxorth.lipschitz import lipschitz_bound
    >>> lipschitz_bound([1.0, 2.0, 0.5])
    1.0
    """
    return float(math.prod(number_at_least(float(v), "layer_norms", 0.0) for v in layer_norms))


class LipschitzReport(NamedTuple):
    """The composition bound of a network and the factor each layer contributes.

    Attributes
    ----------
    bound : float
        ``prod_l sigma_max(layer_l)``, an upper bound of the network's l2 Lipschitz
        constant (:func:`lipschitz_bound`).
    per_layer : tuple of (str, float)
        ``(name, sigma_max)`` of each layer, in the order applied (1.0 for the
        parameter-free 1-Lipschitz functions).

    Examples
    --------
    >>> from jaxorth.lipschitz import lipschitz_report, maxmin
    >>> report = lipschitz_report([("double", 2.0), maxmin, ("half", 0.5)])
    >>> report.per_layer  # (name, sigma_max) per layer; MaxMin is 1-Lipschitz
    (('double', 2.0), ('maxmin', 1.0), ('half', 0.5))
    >>> report.bound  # 2 * 1 * 0.5
    1.0
    """

    bound: float
    per_layer: tuple[tuple[str, float], ...]


# parameter-free maps that are 1-Lipschitz in l2 (their docstrings prove it)
_ONE_LIPSCHITZ: dict[str, Callable[..., Any]] = {
    "maxmin": maxmin,
    "groupsort": groupsort,
    "relu": jax.nn.relu,
    "space_to_depth": space_to_depth,
    "depth_to_space": depth_to_space,
    "l2_norm_pool": l2_norm_pool,
}
_POOLED = "pooled"  # spatial axes removed (after l2_norm_pool)


def _known_function(obj: Any) -> tuple[str, int | None] | None:
    """``(name, block)`` if ``obj`` is (a partial of) a known 1-Lipschitz function."""
    if isinstance(obj, str):
        return (obj, None) if obj in _ONE_LIPSCHITZ else None
    func, kwargs = obj, {}
    if isinstance(obj, functools.partial):
        func, kwargs = obj.func, dict(obj.keywords)
    for name, known in _ONE_LIPSCHITZ.items():
        if func is known:
            block = kwargs.get("block") if name in ("space_to_depth", "depth_to_space") else None
            return name, (None if block is None else positive_int(block, "block"))
    return None


def _items(layers: Any, base: str = "layers") -> Iterator[tuple[str, Any, str]]:
    """``(name, layer, where)`` in the order applied; ``nnx.Sequential`` expanded."""
    if isinstance(layers, nnx.Sequential):
        layers = list(layers.layers)
    elif isinstance(layers, str | nnx.Module) or not isinstance(layers, Sequence):
        raise ValueError(
            "layers must be a sequence of layers or (name, layer) pairs, or an "
            f"nnx.Sequential, got {type(layers).__name__}"
        )
    for i, item in enumerate(layers):
        where = f"{base}[{i}]"  # position in the nesting, for messages
        if isinstance(item, tuple):
            if len(item) != 2 or not isinstance(item[0], str):
                raise ValueError(f"{where} must be a layer or a (name, layer) pair, got {item!r}")
            name, layer = item
        else:
            layer = item
            known = _known_function(item)
            if known is not None:
                name = known[0]
            else:
                name = f"{type(item).__name__}_{i}"
        if isinstance(layer, nnx.Sequential):
            for sub_name, sub, sub_where in _items(layer, where):
                yield f"{name}.{sub_name}", sub, sub_where
        else:
            yield name, layer, where


def _dense_norm(w: Any) -> float:
    return float(np.linalg.norm(np.asarray(w, np.float64), 2))


def _conv_norm(kernel: Any, size: tuple[int, ...], stride: int) -> float:
    with float64():  # the exact spectrum in float64 whatever the kernel's dtype
        k64 = jnp.asarray(np.asarray(kernel, np.float64))
        return float(np.max(np.asarray(singular_values(k64, size, stride))))


def _spatial(size: Any, ndim: int, name: str, where: str) -> tuple[int, ...]:
    if size is None:
        raise ValueError(
            f"input_size is required to bound the convolution {name!r} ({where}): the "
            "spectral norm of a circular convolution depends on the input's spatial size"
        )
    if size is _POOLED:
        raise ValueError(
            f"{where} ({name!r}) is a convolution after l2_norm_pool (no spatial axes)"
        )
    if isinstance(size, str):  # unknown after a space_to_depth without a block
        raise ValueError(
            f"the input size of {where} ({name!r}) is unknown after {size}: pass "
            f"functools.partial({size}, block=b) instead of the bare function"
        )
    if isinstance(size, int):
        return (size,) * ndim
    if len(size) != ndim:
        raise ValueError(
            f"input_size gives {len(size)} spatial axes at {where} ({name!r}), which has "
            f"{ndim}: got spatial size {size}"
        )
    return size


def _rescale(size: Any, block: int, down: bool, name: str, where: str) -> Any:
    if size is None or isinstance(size, str):
        return size
    sizes = (size,) if isinstance(size, int) else size
    if down and any(n % block for n in sizes):
        raise ValueError(
            f"{where} ({name!r}): spatial size {size} is not a multiple of block={block}"
        )
    sizes = tuple(n // block if down else n * block for n in sizes)
    return sizes[0] if isinstance(size, int) else sizes


def _walk(items: Iterable[tuple[str, Any, str]], size: Any) -> tuple[list, Any]:
    """``(name, sigma_max)`` of each layer, and the spatial size after the last one."""
    per_layer = []
    for name, layer, where in items:
        if isinstance(layer, OrthConv | SoftOrthConv):
            stride = layer.stride
            ndim = layer.plan.ndim if isinstance(layer, OrthConv) else layer.ndim
            spatial = _spatial(size, ndim, name, where)
            if any(n % stride for n in spatial):
                raise ValueError(
                    f"input_size: {where} ({name!r}) gets spatial size {spatial}, not a "
                    f"multiple of its stride {stride}"
                )
            sigma = _conv_norm(layer.kernel(), spatial, stride)
            size = tuple(n // stride for n in spatial)
        elif isinstance(layer, ResidualBlock):
            sigma, size = _residual_factor(layer, size, name, where)
        elif isinstance(layer, OrthLinear):
            sigma = _dense_norm(layer.weight())
        elif isinstance(layer, nnx.Linear):
            sigma = _dense_norm(layer.kernel[...])
        elif isinstance(layer, int | float | np.integer | np.floating) and not isinstance(
            layer, bool
        ):
            sigma = number_at_least(float(layer), f"the constant of {where}", 0.0)
        else:
            known = _known_function(layer)
            if known is None:
                raise ValueError(
                    f"{where} ({name!r}): no Lipschitz bound known for "
                    f"{type(layer).__name__}; pass (name, constant) with its Lipschitz "
                    "constant, or one of OrthLinear, nnx.Linear, OrthConv, SoftOrthConv, "
                    "ResidualBlock, "
                    f"{', '.join(_ONE_LIPSCHITZ)}"
                )
            kind, block = known
            sigma = 1.0
            if kind == "l2_norm_pool":
                size = None if size is None else _POOLED
            elif kind in ("space_to_depth", "depth_to_space"):
                if block is None:
                    size = None if size is None else kind
                else:
                    size = _rescale(size, block, kind == "space_to_depth", name, where)
        per_layer.append((name, float(sigma)))
    return per_layer, size


def _as_tuple(size: Any, other: Any) -> Any:
    """An int spatial size as a tuple with as many axes as ``other`` (if it is one)."""
    if isinstance(size, int) and isinstance(other, tuple):
        return (size,) * len(other)
    return size


def _residual_factor(block: ResidualBlock, size: Any, name: str, where: str) -> tuple[float, Any]:
    """``|alpha| + |1 - alpha| L_f`` of a residual block, ``L_f`` from its branch's layers."""
    f = block.f
    if isinstance(f, nnx.Sequential):
        inner = _items(f, f"{where}.f")
    else:
        known = _known_function(f)
        inner = iter([(known[0] if known else type(f).__name__, f, f"{where}.f")])
    per_layer, out = _walk(inner, size)
    if _as_tuple(out, size) != _as_tuple(size, out):
        raise ValueError(
            f"{where} ({name!r}): the residual branch f maps spatial size {size} to {out}; "
            "x and f(x) must have the same shape"
        )
    return block.lipschitz_factor(lipschitz_bound(s for _, s in per_layer)), size


def lipschitz_report(
    layers: Any,
    input_size: int | np.integer | Sequence[int] | None = None,
) -> LipschitzReport:
    r"""The composition bound ``prod_l sigma_max(layer_l)`` of a network, layer by layer.

    For a network that applies ``layers`` one after the other, the l2 Lipschitz
    constant is at most the product of the layers' Lipschitz constants (Szegedy et al.,
    ICLR 2014, section 4.3; :func:`lipschitz_bound`). Each factor is computed *exactly*
    for the layer as applied (biases do not count):

    - :class:`OrthLinear`: ``||W||_2`` of :meth:`OrthLinear.weight`;
      :class:`flax.nnx.Linear`: ``||kernel||_2``. Both by a float64 SVD
      (``np.linalg.norm(W, 2)``).
    - :class:`~jaxorth.orthconv.OrthConv` / :class:`~jaxorth.orthconv.SoftOrthConv`: the
      largest singular value of the circular strided convolution on its input grid, from
      the float64 polyphase spectrum of its kernel
      (:func:`~jaxorth.orthconv.singular_values`; Sedghi, Gupta & Long, ICLR 2019,
      extended to strides by Achour, Malgouyres & Mamalet, JMLR 2022). This depends on
      the input size: ``input_size`` gives the network input's spatial size, and it is
      followed through the layers (a stride-``S`` convolution divides it by ``S``,
      ``space_to_depth`` / ``depth_to_space`` divide / multiply it by their block).
    - The parameter-free 1-Lipschitz maps count 1: :func:`maxmin`, :func:`groupsort`,
      :func:`jax.nn.relu`, :func:`space_to_depth`, :func:`depth_to_space`,
      :func:`l2_norm_pool`, passed as the function (or a :func:`functools.partial` of
      it, e.g. ``partial(space_to_depth, block=2)``, which lets ``input_size`` follow)
      or by name (``"maxmin"``).
    - :class:`ResidualBlock` ``alpha x + (1 - alpha) f(x)``:
      ``|alpha| + |1 - alpha| L_f`` (:meth:`ResidualBlock.lipschitz_factor`), with
      ``L_f`` the product of the exact factors of the branch's layers (an
      :class:`flax.nnx.Sequential` is expanded; the input size follows through it and
      must come out unchanged).
    - ``(name, c)`` with a number ``c >= 0``: a layer whose Lipschitz constant the
      caller knows (a reshape: 1; an average pooling over non-overlapping windows of
      ``p`` pixels: ``1/sqrt(p)``).

    Parameters
    ----------
    layers : sequence or nnx.Sequential
        The layers in the order applied: each a layer (module, function or name) or a
        ``(name, layer)`` pair; an :class:`flax.nnx.Sequential` (also nested) is expanded
        into its layers. Unnamed layers are named ``"{ClassName}_{index}"`` (functions:
        their name).
    input_size : int or sequence of int or None
        Spatial size of the network's input (channels-first ``(B, C, *input_size)``);
        needed when there is a convolution. An int applies to every spatial axis.

    Returns
    -------
    LipschitzReport
        ``bound`` (the product) and ``per_layer``, the ``(name, sigma_max)`` of each
        layer in order.

    Raises
    ------
    ValueError
        For a layer of an unknown kind (pass ``(name, constant)``), a convolution
        without ``input_size`` or whose input size is not a multiple of its stride.

    Examples
    --------
    >>> import functools
    >>> from flax import nnx
    >>> from jaxorth.lipschitz import OrthLinear, lipschitz_report, maxmin
    >>> from jaxorth.orthconv import OrthConv
    >>> rngs = nnx.Rngs(0)
    >>> report = lipschitz_report(
    ...     [("conv", OrthConv(2, 4, 3, stride=2, rngs=rngs)), maxmin,
    ...      ("flatten", 1.0), ("head", OrthLinear(64, 10, rngs=rngs))],
    ...     input_size=8)
    >>> [name for name, _ in report.per_layer]
    ['conv', 'maxmin', 'flatten', 'head']
    >>> round(report.bound, 4)
    1.0
    """
    size: Any = None
    if input_size is not None:
        if isinstance(input_size, int | np.integer):
            size = positive_int(input_size, "input_size")
        else:
            size = tuple(positive_int(n, "input_size") for n in input_size)
            if not size:
                raise ValueError("input_size must give at least one spatial size, got ()")
    per_layer, _ = _walk(_items(layers), size)
    return LipschitzReport(lipschitz_bound(s for _, s in per_layer), tuple(per_layer))
