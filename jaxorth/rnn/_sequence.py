"""The linear-recurrence sequence model, its state layouts and the recurrence types.

Model (as in HadamRNN, Foucault, Mamalet & Malgouyres, ICLR 2025, and REFERENCES.md
section 3)::

    h_t = W h_{t-1} + U x_t + b,        y_t = V relu(h_t) + c

with ``W`` given by a *cell*: any NNX module with

- ``hidden_size: int``
- ``recurrence() -> Callable[[h], h']``: applies ``h -> h W^T`` to a batch ``(B, n)``;
  it is called once per forward pass so ``W`` (or its factors) is built once, outside
  the time loop;
- ``matrix() -> Float[Array, "n n"]``: the recurrent matrix, for checks and export;
- optionally ``state_layout() -> StateLayout``: how the cell stores a batch of states
  inside the scan when a layout other than ``(B, n)`` makes its step cheaper (the
  Hadamard cells keep ``(a, B, b)`` so that both Kronecker factors of the transform are
  plain matrix products, with no transpose per step);
- optionally ``integer_recurrence() -> (IntRecurrence, scale)``: an integer-only form of
  the recurrence (:func:`jaxorth.rnn.integer_hidden_states`).

The cells live in their own modules: :class:`~jaxorth.rnn.ORNNCell` (``_ornn.py``), the
Hadamard cells (``_hadamard.py``), :class:`~jaxorth.rnn.QORNNCell` (``_qornn.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jaxtyping import Array, Float, Int

from jaxorth._checks import int_at_least, ints_in_range, positive_int

__all__ = [
    "IntRecurrence",
    "Recurrence",
    "RecurrentCell",
    "SequenceModel",
    "StateLayout",
    "cell_layout",
    "vector_layout",
]

Recurrence = Callable[[Float[Array, "B n"]], Float[Array, "B n"]]
"""A float recurrence ``h -> h W^T`` on a batch of states."""
IntRecurrence = Callable[[Int[Array, "B n"]], Int[Array, "B n"]]
"""An integer-only recurrence on a batch of ``int32`` codes (exact arithmetic)."""


class StateLayout(NamedTuple):
    """How a batch of hidden states is stored while the scan runs.

    ``to_state`` maps a ``(B, n)`` batch of vectors to the stored form, ``to_vectors``
    maps back, ``step`` applies ``h -> h W^T`` in the stored form, and
    ``readout(s, v)`` computes ``to_vectors(s) @ v`` for a ``(n, o)`` matrix without
    going back to ``(B, n)``. All four are linear and elementwise operations commute
    with them. ``batch_axis`` is the axis of the stored form that indexes the batch: the
    stored form of a ``(V, n)`` table of input rows is then gathered along it, which
    gives the drive of a batch of tokens directly in the layout (no per-step transpose).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.rnn import vector_layout
    >>> swap = jnp.array([[0.0, 1.0], [1.0, 0.0]])
    >>> layout = vector_layout(lambda h: h @ swap.T)  # a StateLayout: the plain (B, n) one
    >>> state = layout.to_state(jnp.array([[1.0, 2.0]]))
    >>> layout.to_vectors(layout.step(state)).tolist()  # h W^T
    [[2.0, 1.0]]
    >>> layout.readout(state, jnp.ones((2, 1))).tolist()  # h @ v
    [[3.0]]
    """

    to_state: Callable[[Array], Any]
    to_vectors: Callable[[Any], Array]
    step: Callable[[Any], Any]
    readout: Callable[[Any, Array], Array]
    batch_axis: int = 0


def check_state_width(h: Any, hidden_size: int) -> None:
    """Raise ``ValueError`` unless the state batch ``h`` is ``(..., hidden_size)``.

    What a cell's ``recurrence()`` (and ``integer_recurrence()``) calls on its input:
    a shape check, so it also runs under ``jit``.
    """
    shape = tuple(getattr(h, "shape", ()))
    if not shape or shape[-1] != hidden_size:
        got = shape[-1] if shape else "a scalar"
        raise ValueError(
            f"state width must be hidden_size={hidden_size}, got {got} (state shape {shape})"
        )


def vector_layout(step: Recurrence) -> StateLayout:
    """The plain ``(B, n)`` layout around a recurrence ``h -> h W^T``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.rnn import vector_layout
    >>> layout = vector_layout(lambda h: 2.0 * h)  # W = 2 I
    >>> h = jnp.array([[1.0, -1.0]])
    >>> layout.step(layout.to_state(h)).tolist(), layout.batch_axis
    ([[2.0, -2.0]], 0)
    """

    def identity(h: Array) -> Array:
        return h

    return StateLayout(identity, identity, step, lambda h, v: h @ v)


def cell_layout(cell: RecurrentCell) -> StateLayout:
    """``cell.state_layout()`` when the cell defines one, else the ``(B, n)`` layout.

    Examples
    --------
    >>> from flax import nnx
    >>> from jaxorth.rnn import ORNNCell, cell_layout
    >>> cell_layout(ORNNCell(4, rngs=nnx.Rngs(0))).batch_axis  # the plain (B, n) layout
    0
    """
    make = getattr(cell, "state_layout", None)
    return make() if callable(make) else vector_layout(cell.recurrence())


@runtime_checkable
class RecurrentCell(Protocol):
    """Interface of the recurrent cells used by :class:`SequenceModel`.

    Examples
    --------
    >>> from flax import nnx
    >>> from jaxorth.rnn import ORNNCell, RecurrentCell
    >>> cell = ORNNCell(4, rngs=nnx.Rngs(0))
    >>> isinstance(cell, RecurrentCell), isinstance(object(), RecurrentCell)
    (True, False)
    """

    hidden_size: int

    def recurrence(self) -> Recurrence: ...

    def matrix(self) -> Float[Array, "n n"]: ...


class SequenceModel(nnx.Module):
    """Linear recurrence with a ReLU readout, run with ``jax.lax.scan``.

    ``h_t = W h_{t-1} + U x_t + b`` and ``y_t = V relu(h_t) + c`` (HadamRNN, ICLR 2025).
    ``__call__`` returns every ``y_t`` (and :meth:`hidden_states` every ``h_t``); the
    training paths :meth:`stepwise_cross_entropy` and :meth:`final_output` compute the
    input map, the readout and the loss inside the scan, so that no ``(B, T, n)`` array
    is formed. Inside the scan the states live in the cell's layout (:func:`cell_layout`).

    Input contract: shapes are checked on every call, also under ``jit`` (float inputs
    ``(B, T, in_features)``, integer tokens ``(B, T)``, labels ``(B, T)`` like the
    inputs). Values are checked only when they are concrete (eager calls): token ids
    must lie in ``[0, in_features)`` and labels in ``[0, out_features)``, else a
    ``ValueError`` names the first offending value. Under ``jit`` (tracers) values
    cannot be read: an id ``>= in_features`` gives NaN outputs (``jnp.take`` fills), a
    negative id wraps around and an out-of-range label gives a NaN loss, so check the
    ranges on the data before jitting (the data loaders and task generators of
    :mod:`jaxorth.data` produce valid ranges).

    Parameters
    ----------
    cell : RecurrentCell
        Provides the recurrence (orthogonal, Hadamard, quantized...).
    in_features, out_features : int
        Input size (or vocabulary size when inputs are integer tokens) and output size.
    rngs : nnx.Rngs
        Randomness for ``U`` and ``V``.
    input_transform, output_transform : callable, optional
        Applied to the kernels of ``U`` and ``V`` before use (e.g. a 4-bit
        straight-through quantizer).
    embedding_dim : int, optional
        Token inputs only: a learned float word embedding ``E`` of shape
        ``(in_features, embedding_dim)`` (``in_features`` is then the vocabulary size)
        before the input matrix, so the drive of token ``w`` is ``U^T E[w] + b`` with
        ``U`` of shape ``(embedding_dim, n)``. As in the HadamRNN authors' text models
        (a ``torch.nn.Embedding`` before the 4-bit input layer; Foucault, Mamalet and
        Malgouyres, ICLR 2025, IMDB and GLUE experiments), the embedding is not
        quantized; ``input_transform`` applies to ``U``. The scan gathers rows of the
        table ``E U`` (``(in_features, n)``, :meth:`input_matrix`), built once per call.
        Float inputs are refused.
    padding_id : int, optional
        With ``embedding_dim``: the token whose embedding row is held at zero (no
        gradient), as ``torch.nn.Embedding(padding_idx=...)``; a padding step then only
        adds ``b``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jaxorth.rnn import HadamRNNCell, SequenceModel
    >>> model = SequenceModel(HadamRNNCell(16, rngs=nnx.Rngs(0)), 3, 5, rngs=nnx.Rngs(1))
    >>> model(jnp.ones((2, 7, 3))).shape  # (batch, time, outputs)
    (2, 7, 5)
    """

    def __init__(
        self,
        cell: RecurrentCell,
        in_features: int,
        out_features: int,
        *,
        rngs: nnx.Rngs,
        input_transform: Callable[[Array], Array] | None = None,
        output_transform: Callable[[Array], Array] | None = None,
        embedding_dim: int | None = None,
        padding_id: int | None = None,
    ):
        n = getattr(cell, "hidden_size", None)
        if not callable(getattr(cell, "recurrence", None)) or n is None:
            raise ValueError(
                f"cell must be a recurrent cell (hidden_size and recurrence()), got "
                f"{type(cell).__name__}"
            )
        n = positive_int(n, "cell.hidden_size")
        in_features = positive_int(in_features, "in_features")
        out_features = positive_int(out_features, "out_features")
        for name, fn in (
            ("input_transform", input_transform),
            ("output_transform", output_transform),
        ):
            if fn is not None and not callable(fn):
                raise ValueError(f"{name} must be callable or None, got {type(fn).__name__}")
        if embedding_dim is not None:
            embedding_dim = positive_int(embedding_dim, "embedding_dim")
        if padding_id is not None:
            if embedding_dim is None:
                raise ValueError("padding_id needs embedding_dim (a padding row of the embedding)")
            padding_id = int_at_least(padding_id, "padding_id", 0)
            if padding_id >= in_features:
                raise ValueError(
                    f"padding_id must be < in_features={in_features} (a token id), got {padding_id}"
                )
        self.cell = cell
        self.in_features = in_features
        self.out_features = out_features
        self.embedding_dim = embedding_dim
        self.padding_id = padding_id
        init = nnx.initializers.glorot_uniform()
        if embedding_dim is None:
            self.embedding = nnx.data(None)
        else:  # N(0, 1) entries, as torch.nn.Embedding
            table = jax.random.normal(rngs.params(), (in_features, embedding_dim))
            if padding_id is not None:
                table = table.at[padding_id].set(0.0)
            self.embedding = nnx.Param(table)
        self.u = nnx.Param(init(rngs.params(), (embedding_dim or in_features, n)))
        self.b = nnx.Param(jnp.zeros((n,)))
        self.v = nnx.Param(init(rngs.params(), (n, out_features)))
        self.c = nnx.Param(jnp.zeros((out_features,)))
        self.input_transform = input_transform
        self.output_transform = output_transform

    def input_matrix(self) -> Float[Array, "i n"]:
        """The input map as an ``(in_features, n)`` matrix.

        ``U`` (transformed), or ``E U`` with an embedding (its padding row held at zero).
        """
        u = self.u[...]
        u = u if self.input_transform is None else self.input_transform(u)
        if self.embedding is None:
            return u
        table = self.embedding[...]
        if self.padding_id is not None:
            keep = jnp.arange(self.in_features) != self.padding_id
            table = table * keep[:, None].astype(table.dtype)
        return table @ u

    def output_matrix(self) -> Float[Array, "n o"]:
        v = self.v[...]
        return v if self.output_transform is None else self.output_transform(v)

    def _inputs(self, x: Array) -> tuple[Array, Callable[[Array], Array]]:
        """Time-major inputs and the map from one step of them to ``U x_t + b``."""
        u, b = self.input_matrix(), self.b[...][None, :]
        if jnp.issubdtype(x.dtype, jnp.integer):
            if x.ndim != 2:
                raise ValueError(f"integer inputs must be (B, T) tokens, got shape {x.shape}")
            ints_in_range(x, "token ids", 0, self.in_features, "in_features")
            return jnp.swapaxes(x, 0, 1), lambda tok: jnp.take(u, tok, axis=0) + b
        if self.embedding is not None:
            raise ValueError(
                f"a model with an embedding takes integer tokens (B, T), got {x.dtype} inputs"
            )
        if x.ndim != 3 or x.shape[-1] != self.in_features:
            raise ValueError(f"inputs must be (B, T, {self.in_features}), got shape {x.shape}")
        return jnp.swapaxes(x, 0, 1), lambda x_t: x_t @ u + b

    def drive(self, x: Float[Array, "B T i"] | Int[Array, "B T"]) -> Float[Array, "B T n"]:
        """The drive ``U x_t + b`` of every step, ``(B, T, n)``.

        Integer inputs are tokens (rows of ``U``); the inputs are checked as in
        :meth:`__call__`. Used by the integer-only recurrence
        (:func:`jaxorth.rnn.integer_hidden_states`).
        """
        xs, drive = self._inputs(x)
        return jnp.swapaxes(jax.vmap(drive)(xs), 0, 1)

    def _recurrence(self, x: Array) -> tuple[StateLayout, Callable[[Any, Array], Any], Array, Any]:
        """The layout, the step ``(h_{t-1}, x_t) -> h_t``, time-major inputs and ``h_0``."""
        xs, drive = self._inputs(x)
        layout = cell_layout(self.cell)
        if jnp.issubdtype(xs.dtype, jnp.integer):
            # tokens: gather rows of ``U + b`` stored in the layout, along its batch axis
            table = layout.to_state(self.input_matrix() + self.b[...][None, :])

            def in_layout(tok: Array) -> Any:
                return jax.tree.map(lambda t: jnp.take(t, tok, axis=layout.batch_axis), table)

        else:

            def in_layout(x_t: Array) -> Any:
                return layout.to_state(drive(x_t))

        def advance(h: Any, x_t: Array) -> Any:
            return jax.tree.map(jnp.add, layout.step(h), in_layout(x_t))

        h0 = layout.to_state(jnp.zeros((x.shape[0], self.cell.hidden_size), self.u[...].dtype))
        return layout, advance, xs, h0

    def hidden_states(self, x: Float[Array, "B T i"] | Int[Array, "B T"]) -> Float[Array, "B T n"]:
        """All hidden states ``h_1..h_T`` from ``h_0 = 0``."""
        layout, advance, xs, h0 = self._recurrence(x)

        def body(h: Any, x_t: Array) -> tuple[Any, Array]:
            h = advance(h, x_t)
            return h, layout.to_vectors(h)

        _, hs = jax.lax.scan(body, h0, xs)
        return jnp.swapaxes(hs, 0, 1)

    def final_output(self, x: Float[Array, "B T i"] | Int[Array, "B T"]) -> Float[Array, "B o"]:
        """``y_T = V relu(h_T) + c`` only: the scan keeps no intermediate state.

        Equal to ``self(x)[:, -1]`` (sequence classification, e.g. pixel MNIST) without
        storing the ``(B, T, n)`` states in the forward pass; the backward pass stores
        one state per step (the scan's carries).
        """
        layout, advance, xs, h0 = self._recurrence(x)
        h_T, _ = jax.lax.scan(lambda h, x_t: (advance(h, x_t), None), h0, xs)
        c = self.c[...][None, :]
        return layout.readout(jax.tree.map(jax.nn.relu, h_T), self.output_matrix()) + c

    def stepwise_cross_entropy(
        self, x: Float[Array, "B T i"] | Int[Array, "B T"], labels: Int[Array, "B T"]
    ) -> tuple[Float[Array, " T"], Float[Array, " T"]]:
        """Cross-entropy and accuracy of ``y_t`` against ``labels[:, t]``, per step.

        Returns the batch means ``(ce_t, acc_t)``, each of shape ``(T,)``: the mean of
        ``ce_t`` is ``softmax_cross_entropy(self(x), labels).mean()``, with the same
        gradient. The readout and the loss run inside the scan, so the ``(B, T, n)``
        inputs, states and readout activations of :meth:`__call__` are never formed;
        each step is rematerialised in the backward pass (``jax.checkpoint``), which
        stores only the carried state. This is the training path of the copy task.
        Labels must lie in ``[0, out_features)``, checked when concrete (class docstring).
        """
        if not jnp.issubdtype(labels.dtype, jnp.integer):
            raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype}")
        if labels.shape != x.shape[:2]:
            raise ValueError(
                f"labels must be (B, T) = {tuple(x.shape[:2])} like the inputs, got "
                f"{tuple(labels.shape)}"
            )
        ints_in_range(labels, "labels", 0, self.out_features, "out_features")
        layout, advance, xs, h0 = self._recurrence(x)
        v, c = self.output_matrix(), self.c[...][None, :]

        def body(h: Any, inp: tuple[Array, Array]) -> tuple[Any, tuple[Array, Array]]:
            x_t, y_t = inp
            h = advance(h, x_t)
            logits = layout.readout(jax.tree.map(jax.nn.relu, h), v) + c
            ce = optax.softmax_cross_entropy_with_integer_labels(logits, y_t).mean()
            acc = jax.lax.stop_gradient(jnp.mean(jnp.argmax(logits, -1) == y_t))
            return h, (ce, acc.astype(ce.dtype))

        body = jax.checkpoint(
            body, prevent_cse=False, policy=jax.checkpoint_policies.nothing_saveable
        )
        _, (ce, acc) = jax.lax.scan(body, h0, (xs, jnp.swapaxes(labels, 0, 1)))
        return ce, acc

    def size_bits(self) -> int:
        """Storage of the inference-time model in bits.

        The recurrent matrix counts ``cell.size_bits()`` when the cell defines it (a
        Hadamard cell stores only signs), else ``32 n^2``; ``U`` and ``V`` count
        ``bits`` per entry when their transform has a ``bits`` attribute, else 32;
        biases and the embedding (if any) count 32 bits per entry.
        """
        n = self.cell.hidden_size
        cell_bits = getattr(self.cell, "size_bits", None)
        rec = int(cell_bits()) if callable(cell_bits) else 32 * n * n
        u_bits = int(getattr(self.input_transform, "bits", 32))
        v_bits = int(getattr(self.output_transform, "bits", 32))
        embedding = 0 if self.embedding is None else 32 * int(self.embedding[...].size)
        return (
            rec
            + embedding
            + u_bits * int(self.u[...].shape[0]) * n
            + v_bits * n * self.out_features
            + 32 * (n + self.out_features)
        )

    def __call__(self, x: Float[Array, "B T i"] | Int[Array, "B T"]) -> Float[Array, "B T o"]:
        """Outputs ``y_t`` for every time step."""
        hs = self.hidden_states(x)
        return jax.nn.relu(hs) @ self.output_matrix() + self.c[...][None, None, :]
