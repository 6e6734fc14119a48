"""Recovery of ReLU teachers from black-box queries (critical points), checked against the
teacher modulo permutation and positive rescaling of hidden neurons."""

import jax
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from jaxorth.identifiability import (
    extract_first_layer,
    extract_one_hidden_layer,
    extract_two_hidden_layers,
    hyperplane_distance,
    parameter_distance,
)
from jaxorth.identifiability._extraction import _resolve_signs


def _teacher(seed, widths):
    """He-normal weights, N(0, 0.1^2) biases (generic), numpy float64."""
    rng = np.random.default_rng(seed)
    return [
        (rng.normal(size=(o, i)) * np.sqrt(2.0 / i), rng.normal(size=o) * 0.1)
        for i, o in zip(widths[:-1], widths[1:], strict=True)
    ]


def _mlp(params, X):
    h = X
    for W, b in params[:-1]:
        h = np.maximum(h @ W.T + b, 0.0)
    W, b = params[-1]
    return h @ W.T + b


class _Counted:
    """The teacher as a black box, counting the rows it answers (an independent count)."""

    def __init__(self, params):
        self.params, self.rows = params, 0

    def __call__(self, X):
        self.rows += X.shape[0]
        return _mlp(self.params, X)[:, 0]


def _normalised_rows(W, b):
    R = np.hstack([W, b[:, None]])
    return R / np.linalg.norm(R, axis=1, keepdims=True), np.linalg.norm(R, axis=1)


def _distance_one_hidden(a, b):
    """Relative parameter distance modulo permutation and positive rescaling, for one hidden
    layer: an independent numpy reference for ``parameter_distance``."""
    (Wa, ba), (Va, ca) = a
    (Wb, bb), (Vb, cb) = b
    if Wa.shape != Wb.shape:
        return np.inf
    Ra, sa = _normalised_rows(Wa, ba)
    Rb, sb = _normalised_rows(Wb, bb)
    Va, Vb = Va * sa, Vb * sb
    rows, cols = linear_sum_assignment(np.linalg.norm(Ra[:, None] - Rb[None], axis=2))
    va = np.concatenate([Ra[rows].ravel(), Va[:, rows].ravel(), ca])
    vb = np.concatenate([Rb[cols].ravel(), Vb[:, cols].ravel(), cb])
    return np.linalg.norm(va - vb) / np.linalg.norm(va)


@pytest.mark.parametrize(("widths", "max_queries"), [((10, 15, 1), 8000), ((4, 8, 1), 4000)])
def test_recovers_one_hidden_layer_teacher(widths, max_queries):
    teacher = _teacher(0, widths)
    query = _Counted(teacher)
    res = extract_one_hidden_layer(query, widths[0], key=jax.random.key(0))
    assert res.n_neurons == widths[1]
    assert res.queries == query.rows <= max_queries
    assert res.n_critical_points >= widths[1] * 2
    assert min(res.support) >= 2
    assert _distance_one_hidden(teacher, res.params) < 1e-6
    assert parameter_distance(teacher, res.params, relative=True) < 1e-6
    X = np.random.default_rng(1).normal(size=(500, widths[0])) * 3
    assert np.max(np.abs(_mlp(res.params, X) - _mlp(teacher, X))) < 1e-9
    assert res.fit_residual < 1e-10 and res.sign_margin < 1e-6
    # hidden rows are normalised: the scale lives in the output layer
    (W1, b1), (W2, b2) = res.params
    assert W1.dtype == np.float64 and W2.shape == (1, widths[1]) and b2.shape == (1,)
    np.testing.assert_allclose(np.linalg.norm(np.hstack([W1, b1[:, None]]), axis=1), 1.0)


def test_fewer_neurons_than_inputs_and_determinism():
    teacher = _teacher(3, (3, 2, 1))
    query = _Counted(teacher)
    a = extract_one_hidden_layer(query, 3, key=jax.random.key(5), n_lines=4)
    b = extract_one_hidden_layer(query, 3, key=jax.random.key(5), n_lines=4)
    assert _distance_one_hidden(teacher, a.params) < 1e-9
    assert a.queries == b.queries
    for (Wa, ba), (Wb, bb) in zip(a.params, b.params, strict=True):
        np.testing.assert_array_equal(Wa, Wb)
        np.testing.assert_array_equal(ba, bb)


def test_a_negatively_oriented_neuron_is_not_confused():
    # relu(-z) = relu(z) - z: flipping one neuron of the teacher changes the function by a
    # linear term, and the extraction must tell the two apart (its sign resolution)
    teacher = _teacher(1, (4, 8, 1))
    flipped = [(teacher[0][0].copy(), teacher[0][1].copy()), teacher[1]]
    flipped[0][0][2] *= -1
    flipped[0][1][2] *= -1
    ra = extract_one_hidden_layer(_Counted(teacher), 4, key=jax.random.key(2))
    rb = extract_one_hidden_layer(_Counted(flipped), 4, key=jax.random.key(2))
    assert _distance_one_hidden(teacher, ra.params) < 1e-9
    assert _distance_one_hidden(flipped, rb.params) < 1e-9
    assert _distance_one_hidden(teacher, rb.params) > 1e-2


def test_resolve_signs_recovers_the_flipped_set():
    rng = np.random.default_rng(0)
    U = rng.normal(size=(5, 9))
    beta = (rng.uniform(size=9) < 0.5).astype(float)
    got, margin = _resolve_signs(U, U @ beta)
    np.testing.assert_array_equal(got, beta)
    assert margin < 1e-9


def test_first_layer_of_a_two_hidden_layer_teacher():
    teacher = _teacher(0, (4, 8, 8, 1))
    query = _Counted(teacher)
    res = extract_first_layer(query, 4, key=jax.random.key(0))
    assert res.queries == query.rows
    ((W, b),) = res.params
    got, _ = _normalised_rows(W, b)
    true, _ = _normalised_rows(*teacher[0])
    # rows equal +- the teacher's normalised first-layer rows; deeper neurons rejected
    cost = np.minimum(
        np.linalg.norm(got[:, None] - true[None], axis=2),
        np.linalg.norm(got[:, None] + true[None], axis=2),
    )
    assert res.n_neurons == 8
    rows, cols = linear_sum_assignment(cost)
    assert np.max(cost[rows, cols]) < 1e-9
    assert hyperplane_distance(res.params[0], teacher[0]) < 1e-9
    # a sign flip of one teacher row is invisible to it; a missing row is not
    sign = np.r_[-1.0, np.ones(7)]
    flipped = (teacher[0][0] * sign[:, None], teacher[0][1] * sign)
    assert hyperplane_distance(res.params[0], flipped) < 1e-9
    assert hyperplane_distance(res.params[0], (W[:7], b[:7])) == np.inf
    assert np.isnan(res.fit_residual)


def test_linear_function_has_no_critical_points():
    with pytest.raises(RuntimeError, match="no critical point"):
        extract_one_hidden_layer(lambda X: X @ np.ones(3), 3, key=jax.random.key(0), n_lines=2)


def test_bad_inputs(user_checks):
    teacher = _teacher(0, (3, 4, 1))
    good = _Counted(teacher)
    key = jax.random.key(0)
    with user_checks():
        for d_in in (0, -1, 2.5, True):
            with pytest.raises(ValueError, match="d_in must be a positive integer"):
                extract_one_hidden_layer(good, d_in, key=key)
        with pytest.raises(ValueError, match="query must be a callable"):
            extract_one_hidden_layer(np.ones(3), 3, key=key)
        with pytest.raises(ValueError, match=r"query must return an array of shape \(B,\)"):
            extract_one_hidden_layer(lambda X: _mlp(teacher, X), 3, key=key)
        with pytest.raises(ValueError, match="query returned non-finite values"):
            extract_one_hidden_layer(lambda X: np.full(X.shape[0], np.nan), 3, key=key)
        with pytest.raises(ValueError, match="n_lines must be a positive integer"):
            extract_one_hidden_layer(good, 3, key=key, n_lines=0)
        with pytest.raises(ValueError, match="min_support must be <= n_lines=2"):
            extract_first_layer(good, 3, key=key, n_lines=2, min_support=3)
        with pytest.raises(ValueError, match="radius must be a positive number"):
            extract_one_hidden_layer(good, 3, key=key, radius=-1.0)
        with pytest.raises(ValueError, match="key must be a JAX PRNG key"):
            extract_one_hidden_layer(good, 3, key="seed")
    assert good.rows == 0  # every argument check ran before the first query


def _distance_deep(a, b):
    """Relative distance modulo permutation and positive rescaling, layer by layer
    (normalise hidden rows, push the scale forward, match with the Hungarian method)."""

    def canon(params):
        P = [(W.copy(), b.copy()) for W, b in params]
        for i in range(len(P) - 1):
            R, s = _normalised_rows(*P[i])
            P[i] = (R[:, :-1], R[:, -1])
            P[i + 1] = (P[i + 1][0] * s[None, :], P[i + 1][1])
        return P

    A, B = canon(a), canon(b)
    if [W.shape for W, _ in A] != [W.shape for W, _ in B]:
        return np.inf
    for i in range(len(A) - 1):
        Ra = np.hstack([A[i][0], A[i][1][:, None]])
        Rb = np.hstack([B[i][0], B[i][1][:, None]])
        rows, cols = linear_sum_assignment(np.linalg.norm(Ra[:, None] - Rb[None], axis=2))
        perm = cols[np.argsort(rows)]
        B[i] = (B[i][0][perm], B[i][1][perm])
        B[i + 1] = (B[i + 1][0][:, perm], B[i + 1][1])
    va = np.concatenate([np.concatenate([W.ravel(), b]) for W, b in A])
    vb = np.concatenate([np.concatenate([W.ravel(), b]) for W, b in B])
    return np.linalg.norm(va - vb) / np.linalg.norm(va)


def test_two_hidden_layers_recovered_on_a_small_teacher():
    # experimental: exact on this teacher (and on 4-8-8-1 seeds 2 and 3, 10-15-15-1
    # seed 1), incomplete on others -- fit_residual tells which
    teacher = _teacher(0, (3, 4, 3, 1))
    query = _Counted(teacher)
    res = extract_two_hidden_layers(query, 3, key=jax.random.key(0))
    assert res.queries == query.rows
    assert res.n_neurons == 7
    assert _distance_deep(teacher, res.params) < 1e-9
    X = np.random.default_rng(1).normal(size=(500, 3)) * 3
    assert np.max(np.abs(_mlp(res.params, X) - _mlp(teacher, X))) < 1e-9
    assert res.fit_residual < 1e-12
