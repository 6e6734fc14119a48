"""jacobian_rank against a dense float64 jax.jacfwd Jacobian and numpy.linalg.matrix_rank."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxorth.identifiability import flatten, jacobian_rank, random_params, relu_mlp


def _dense_jacobian(params, x):
    theta, unflatten = flatten(params)
    fn = lambda t: relu_mlp(unflatten(t), jnp.asarray(x)).reshape(-1)  # noqa: E731
    return np.asarray(jax.jit(jax.jacfwd(fn))(theta))


def _sample(n, d, seed=1):
    return np.random.default_rng(seed).normal(size=(n, d))


@functools.cache
def _reference_2_5_1():
    """The dense float64 Jacobian on 400 samples: row i depends on x_i only, so the
    Jacobian on the first n samples is its first n rows (one compilation for all n)."""
    from jaxorth._precision import float64

    with float64():
        p = random_params(jax.random.PRNGKey(0), (2, 5, 1))
        return p, _sample(400, 2), _dense_jacobian(p, _sample(400, 2))


@pytest.mark.parametrize("n", [2, 5, 10, 20, 50, 400])
def test_rank_2_5_1_against_dense_reference(x64, n):
    # REFERENCES: widths [2, 5, 1], E - N_h = 16; rank min(n, 16) for generic samples
    # (2, 5, 10, 15, 16, 16 for some seed; the middle values depend on the seed)
    p, x400, jac400 = _reference_2_5_1()
    x = x400[:n]
    report = jacobian_rank(p, x)
    reference = np.linalg.matrix_rank(jac400[:n])
    assert report.rank == reference
    assert (report.n_parameters, report.n_hidden, report.upper_bound) == (21, 5, 16)
    assert report.rank <= min(n, 16)
    if n in (2, 5, 50, 400):
        assert report.rank == min(n, 16)
    assert report.sufficient == (report.rank == 16)
    if report.sufficient:
        assert report.necessary and report.sufficient_reason == ""
    else:
        assert f"rank {report.rank} < E - N_h = 16" in report.sufficient_reason
    assert report.singular_values.shape == (min(21, n),)
    assert report.kinks == () and report.min_abs_preactivation > 0


def test_too_few_samples(x64):
    p = random_params(jax.random.PRNGKey(0), (2, 5, 1))
    report = jacobian_rank(p, _sample(10, 2))
    assert not report.sufficient and not report.necessary
    assert (
        "n * d_L = 10 * 1 = 10 outputs < E - N_h = 16: too few samples" in report.necessary_reason
    )
    assert "too few samples" in report.sufficient_reason
    assert "sufficient condition: fails: rank" in str(report)


def test_dead_layer2_neuron_frees_its_parameters(x64):
    # REFERENCES: a layer-2 neuron of [3, 6, 4, 2] dead on the sample: rank 44 instead of 52
    p = random_params(jax.random.PRNGKey(0), (3, 6, 4, 2))
    x = _sample(200, 3)
    alive = jacobian_rank(p, x)
    assert alive.rank == 52 == alive.upper_bound and alive.sufficient and alive.necessary
    b2 = np.asarray(p[1][1]).copy()
    b2[1] = -100.0
    p[1] = (p[1][0], b2)
    report = jacobian_rank(p, x)
    assert report.rank == 44 == np.linalg.matrix_rank(_dense_jacobian(p, x))
    assert report.dead == ((2, 1),)
    assert report.activity[1][1] == 0.0 and report.activity[0].shape == (6,)
    assert not report.sufficient and not report.necessary
    assert "dead on the sample: (layer 2, neuron 1)" in report.sufficient_reason
    assert "(layer 2, neuron 1) is inactive on every sample" in report.necessary_reason
    assert report.summary()["n_dead"] == 1


def test_sample_on_a_kink_is_reported(x64):
    p = [
        (np.array([[1.0, 0.0], [0.5, -1.0], [-0.3, 0.8]]), np.array([0.5, 0.1, -0.2])),
        (np.array([[1.0, -2.0, 0.7]]), np.array([0.3])),
    ]
    x = np.concatenate([_sample(60, 2), np.array([[-0.5, 0.3]])])  # z = -0.5 + 0.5 = 0
    report = jacobian_rank(p, x)
    assert report.kinks == ((60, 1, 0),)
    assert report.min_abs_preactivation == 0.0
    assert not report.sufficient
    assert "sample 60 lies on a kink of neuron (layer 1, neuron 0)" in report.sufficient_reason
    assert "kink_tol" in report.sufficient_reason
    # the augmented (one-sided) rows add nothing beyond full rank here: E - N_h = 10
    assert report.necessary_rank == 10 and report.necessary
    assert not report.patterns_capped


@pytest.mark.parametrize("n", [250, 500])  # K = J J^T (n < E) and G = J^T J (n > E)
def test_gram_path_matches_svd(x64, n):
    p = random_params(jax.random.PRNGKey(5), (8, 24, 8, 1))  # E = 425, N_h = 32
    x = _sample(n, 8)
    svd = jacobian_rank(p, x, method="svd")
    gram = jacobian_rank(p, x, method="gram", block_size=64)  # several blocks, padded
    assert (svd.method, gram.method) == ("svd", "gram")
    k = min(n, 393)
    assert svd.rank == gram.rank == k
    np.testing.assert_allclose(gram.singular_values[:k], svd.singular_values[:k], rtol=1e-8)
    assert gram.singular_values.shape == svd.singular_values.shape == (min(n, 425),)


def test_float32_inputs_run_in_float64():
    p = random_params(jax.random.PRNGKey(0), (2, 5, 1), dtype=np.float32)
    report = jacobian_rank(p, _sample(50, 2).astype(np.float32))
    assert report.rank == 16 and report.singular_values.dtype == np.float64
    assert not jax.config.jax_enable_x64


def test_bad_inputs(x64, user_checks):
    p = random_params(jax.random.PRNGKey(0), (2, 5, 1))
    with user_checks():
        with pytest.raises(ValueError, match="X has 3 columns but the network has d_0 = 2"):
            jacobian_rank(p, np.ones((4, 3)))
        bad = [(np.asarray(p[0][0]), np.asarray(p[0][1]).copy()), p[1]]
        bad[0][1][0] = np.inf
        with pytest.raises(ValueError, match=r"params\[0\] \(b\) has non-finite entries"):
            jacobian_rank(bad, np.ones((4, 2)))
        with pytest.raises(ValueError, match=r"params\[1\] \(W\) has 4 columns but params\[0\]"):
            jacobian_rank([p[0], (np.ones((1, 4)), np.ones(1))], np.ones((4, 2)))
        with pytest.raises(ValueError, match="X must be finite"):
            jacobian_rank(p, np.full((4, 2), np.nan))
        with pytest.raises(ValueError, match="method must be one of"):
            jacobian_rank(p, np.ones((4, 2)), method="qr")
        with pytest.raises(ValueError, match="tol must be a positive number"):
            jacobian_rank(p, np.ones((4, 2)), tol=-1.0)


def test_one_sided_jacobians_at_a_kink(x64):
    # f = a relu(w x + b) + c, E = 4, N_h = 1, E - N_h = 3; x0 on the kink, x1 active,
    # x2 inactive. Rows by hand: d f / d(w, b, a, c) = (a x, a, relu(z), 1) when active,
    # (0, 0, 0, 1) when inactive; at x0 the two one-sided rows are both.
    w, b, a, c = 2.0, -1.0, 1.5, 0.2
    p = [(np.array([[w]]), np.array([b])), (np.array([[a]]), np.array([c]))]
    x = np.array([[0.5], [1.5], [-1.0]])  # z = 0, 2, -3
    report = jacobian_rank(p, x)
    plain = np.array([[0, 0, 0, 1], [a * 1.5, a, 2.0, 1], [0, 0, 0, 1]])
    augmented = np.array([[0, 0, 0, 1], [a * 0.5, a, 0, 1], [a * 1.5, a, 2.0, 1]])
    assert report.rank == np.linalg.matrix_rank(plain) == 2
    assert report.necessary_rank == np.linalg.matrix_rank(augmented) == 3
    assert report.kinks == ((0, 1, 0),) and not report.sufficient
    assert report.necessary  # necessary holds, sufficient fails: undecided
    without_x1 = jacobian_rank(p, x[[0, 2]])
    assert without_x1.necessary_rank == 2 and not without_x1.necessary


def test_kink_patterns_are_capped(x64):
    p = random_params(jax.random.PRNGKey(0), (2, 5, 1))
    p[0] = (p[0][0], np.zeros(5))  # every layer-1 hyperplane passes through x = 0
    report = jacobian_rank(p, np.concatenate([np.zeros((1, 2)), _sample(40, 2)]))
    assert len(report.kinks) == 5 and {k[0] for k in report.kinks} == {0}
    assert report.patterns_capped
    assert "sample 0 lies on a kink" in report.sufficient_reason
    assert "5 kinks on 1 samples in all" in report.sufficient_reason


def test_no_hidden_layer(x64):
    # a linear map: E = 3 * (2 + 1) = 9, no hidden neuron, rank min(3 n, 9)
    p = [(np.ones((3, 2)), np.zeros(3))]
    report = jacobian_rank(p, _sample(4, 2))
    assert report.rank == 9 == report.upper_bound and report.sufficient and report.necessary
    assert report.activity == () and report.min_abs_preactivation == float("inf")
