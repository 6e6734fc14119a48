import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from jaxorth import dln


def _data(dx=4, dy=3, m=9, seed=0, dtype=jnp.float64):
    return dln.make_data(jax.random.PRNGKey(seed), dx, dy, m, dtype=dtype)


def test_loss_and_gradient_against_autodiff(x64, maybe_jit):
    X, Y = _data()
    ws = dln.small_init(jax.random.PRNGKey(1), (4, 5, 2, 3), 1.0, jnp.float64)
    ref_loss = np.sum((np.asarray(ws[2] @ ws[1] @ ws[0] @ X) - np.asarray(Y)) ** 2)
    np.testing.assert_allclose(maybe_jit(dln.loss)(ws, X, Y), ref_loss, rtol=1e-12)
    g = maybe_jit(dln.gradient)(ws, X, Y)
    g_ref = jax.grad(dln.loss)(ws, X, Y)
    for a, b in zip(g, g_ref):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    assert float(dln.criticality_residual(ws, X, Y)) > 1e-3


def test_spectrum_of_generated_data(x64):
    X, Y = dln.make_data(jax.random.PRNGKey(0), 5, 3, 12, eigenvalues=[4.0, 2.5, 0.5])
    spec = dln.spectrum(X.astype(jnp.float64), Y.astype(jnp.float64))
    np.testing.assert_allclose(spec.eigenvalues, [4.0, 2.5, 0.5], rtol=1e-4)


def test_global_minimum_value_is_least_squares(x64):
    # full-rank widths: the global minimum is the least-squares residual (numpy lstsq)
    X, Y = _data(4, 3, 10)
    coef, res, *_ = np.linalg.lstsq(np.asarray(X).T, np.asarray(Y).T, rcond=None)
    np.testing.assert_allclose(dln.global_minimum_value(X, Y, (4, 3, 3)), res.sum(), rtol=1e-10)
    ws = dln.critical_point(jax.random.PRNGKey(0), X, Y, (4, 5, 3), (0, 1, 2))
    np.testing.assert_allclose(dln.loss(ws, X, Y), res.sum(), rtol=1e-10)


@pytest.mark.parametrize("S", [(), (0,), (1,), (0, 2), (1, 2)])
def test_critical_points_and_values(x64, S):
    X, Y = _data(4, 3, 9, seed=2)
    widths = (4, 3, 2, 3)
    ws = dln.critical_point(jax.random.PRNGKey(3), X, Y, widths, S, ranks=(2, 2, len(S)))
    assert float(dln.criticality_residual(ws, X, Y)) < 1e-12
    np.testing.assert_allclose(dln.loss(ws, X, Y), dln.critical_value(X, Y, S), rtol=1e-10)
    assert [int(np.linalg.matrix_rank(np.asarray(W), tol=1e-8)) for W in ws] == [2, 2, len(S)]


def test_reference_facts(x64):
    X, Y = _data(3, 2, 7)
    for widths, kind in [((3, 2, 2), "strict_saddle"), ((3, 2, 2, 2), "non_strict_saddle")]:
        zero = [jnp.zeros((widths[h + 1], widths[h])) for h in range(len(widths) - 1)]
        assert dln.classify(zero, X, Y) == kind  # W = 0: strict iff H = 2
    ws = dln.small_init(jax.random.PRNGKey(0), (3, 2, 2), 1.0, jnp.float64)
    assert dln.classify(ws, X, Y) == "not_critical"


# one shape family per (H, widths): vmapped over its cases; all families in one program
FAMILIES = [
    (3, 2, 2),
    (4, 3, 2),
    (2, 3, 2, 1),
    (3, 2, 2, 2),
    (4, 5, 1, 3),
    (2, 2, 2, 2, 2),
    (3, 4, 2, 3, 2),
    (3, 2, 3, 2, 2, 1),
    (4, 5, 3, 4, 5, 3),
    (1, 4, 3, 1),
]


def _hessian_stack(ws, X, Y):
    def one(w):
        flat, unravel = ravel_pytree(w)
        return jax.hessian(lambda x: dln.loss(unravel(x), X, Y))(flat)

    return jax.vmap(one)(ws)


@jax.jit
def _hessian_stacks(families):
    """The Hessian stacks of every family, compiled once (one compile per family cost ~2x)."""
    return [_hessian_stack(ws, X, Y) for ws, X, Y in families]


@pytest.mark.slow
def test_classify_agrees_with_hessian_on_150_critical_points(x64):
    """Theory-only classification vs the sign of the float64 Hessian's smallest eigenvalue.

    Oracle: strict iff lambda_min < -1e-8 * s, non-negative iff lambda_min > -1e-11 * s,
    ambiguous in between, with s = max(|lambda|_max, ||S_yx||_2).
    """
    counts: dict[tuple[str, str], int] = {}
    gap = [np.inf, 0.0]  # (min |rel| over strict, max |rel| over non-negative)
    families, metas = [], []
    for i, widths in enumerate(FAMILIES):
        key = jax.random.PRNGKey(100 + i)
        X, Y = dln.make_data(key, widths[0], widths[-1], widths[0] + 3, dtype=jnp.float64)
        ws, meta = dln.random_critical_points(jax.random.fold_in(key, 1), X, Y, widths, 15)
        families.append((ws, X, Y))
        metas.append(meta)
    for (ws, X, Y), meta, hess in zip(families, metas, _hessian_stacks(families)):
        ev = np.linalg.eigvalsh(np.asarray(hess))
        s = np.maximum(np.abs(ev).max(axis=1), np.linalg.norm(np.asarray(Y @ X.T), 2))
        rel = ev[:, 0] / s
        Xn, Yn = np.asarray(X), np.asarray(Y)
        wsn = [np.asarray(W) for W in ws]  # one transfer per layer, not one per point
        for j in range(len(meta)):
            theory = dln.classify([W[j] for W in wsn], Xn, Yn)
            oracle = "strict" if rel[j] < -1e-8 else "nonneg" if rel[j] > -1e-11 else "ambiguous"
            counts[(theory, oracle)] = counts.get((theory, oracle), 0) + 1
            if oracle == "strict":
                gap[0] = min(gap[0], -rel[j])
            elif oracle == "nonneg":
                gap[1] = max(gap[1], -rel[j])
    n = sum(counts.values())
    agree = sum(
        v
        for (t, o), v in counts.items()
        if (t == "strict_saddle" and o == "strict")
        or (t in ("global_minimum", "non_strict_saddle") and o == "nonneg")
    )
    print(f"\nclassify vs Hessian: {agree}/{n} agree; counts={counts}; gap={gap}")
    assert n >= 150
    for kind in ("global_minimum", "strict_saddle", "non_strict_saddle"):
        assert sum(v for (t, _), v in counts.items() if t == kind) >= 20, counts
    assert agree == n, counts


def test_classify_code_matches_classify_under_jit_vmap(x64):
    X, Y = _data(3, 2, 6, seed=4)
    ws, meta = dln.random_critical_points(jax.random.PRNGKey(5), X, Y, (3, 2, 2, 2), 12)
    codes = jax.jit(jax.vmap(dln.classify_code, in_axes=(0, None, None)))(ws, X, Y)
    ref = [dln.classify([W[j] for W in ws], X, Y) for j in range(12)]
    assert [dln.CLASSES[int(c)] for c in codes] == ref


def test_bad_inputs():
    X, Y = dln.make_data(jax.random.PRNGKey(0), 3, 2, 6)
    with pytest.raises(ValueError, match="d_y <= d_x"):
        dln.spectrum(Y, X)
    with pytest.raises(ValueError, match="columns, expected d_0=3"):
        dln.loss([jnp.ones((2, 4))], X, Y)
    with pytest.raises(ValueError, match=r"\|S\|=2 exceeds r_max=min\(widths\)=1"):
        dln.critical_point(jax.random.PRNGKey(0), X, Y, (3, 1, 2), (0, 1))
    with pytest.raises(ValueError, match="at least one layer must have rank"):
        dln.critical_point(jax.random.PRNGKey(0), X, Y, (3, 2, 2), (), ranks=(1, 1))
    with pytest.raises(ValueError, match="ranks\\[0\\]=3 must lie in"):
        dln.critical_point(jax.random.PRNGKey(0), X, Y, (3, 2, 2), (), ranks=(3, 0))


def test_loss_hessian_matches_central_differences_of_the_gradient(x64):
    """H v = (g(w + h v) - g(w - h v)) / 2h with the analytic gradient (exact for a quartic
    up to O(h^2)); symmetric; vmap over a stack of points gives the single Hessians."""
    X, Y = _data(3, 2, 7, seed=6)
    widths = (3, 2, 4, 2)
    ws = dln.small_init(jax.random.PRNGKey(7), widths, 1.0, jnp.float64)
    hessian = jax.jit(dln.loss_hessian)  # compiled once, used at ws and at 2 ws
    Hm = np.asarray(hessian(ws, X, Y))
    n = sum(W.size for W in ws)
    assert Hm.shape == (n, n)
    np.testing.assert_allclose(Hm, Hm.T, atol=1e-12)
    flat, unravel = ravel_pytree(ws)
    h = 1e-5

    @jax.jit
    def central_differences(vs):  # the 3 directions in one compiled program
        def one(v):
            gp = ravel_pytree(dln.gradient(unravel(flat + h * v), X, Y))[0]
            gm = ravel_pytree(dln.gradient(unravel(flat - h * v), X, Y))[0]
            return (gp - gm) / (2 * h)

        return jax.vmap(one)(vs)

    vs = np.random.default_rng(0).standard_normal((3, n))
    np.testing.assert_allclose(vs @ Hm.T, central_differences(vs), rtol=1e-7, atol=1e-7)
    stacked = [jnp.stack([W, 2 * W]) for W in ws]
    batch = jax.jit(jax.vmap(dln.loss_hessian, in_axes=(0, None, None)))(stacked, X, Y)
    np.testing.assert_allclose(batch[0], Hm, atol=1e-12)
    np.testing.assert_allclose(batch[1], hessian([2 * W for W in ws], X, Y), atol=1e-11)


def test_hessian_test_thresholds_and_agreement():
    # ||S_yx||_2 = ||Y X^T||_2 = 0.5
    X = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    Y = np.array([[0.5, 0.0, 0.0]])
    ev = np.array(
        [
            [-1e-3, 1.0, 2.0],  # s = 2, rel = -5e-4: strict
            [-1e-13, 0.0, 5.0],  # s = 5, rel = -2e-14: non-negative
            [-1e-9, 0.0, 1.0],  # s = 1, rel = -1e-9: ambiguous
            [0.1, 0.2, 0.2],  # s = ||S_yx|| = 0.5, rel = 0.2: non-negative
        ]
    )
    t = dln.hessian_test(ev, X, Y, strict_tol=1e-8, zero_tol=1e-11)
    np.testing.assert_allclose(t.scale, [2.0, 5.0, 1.0, 0.5])
    np.testing.assert_allclose(t.rel_min, [-5e-4, -2e-14, -1e-9, 0.2])
    assert t.strict.tolist() == [True, False, False, False]
    assert t.nonnegative.tolist() == [False, True, False, True]
    assert dln.agrees_with_hessian("strict_saddle", True, False)
    assert not dln.agrees_with_hessian("strict_saddle", False, True)
    assert dln.agrees_with_hessian("global_minimum", False, True)
    assert dln.agrees_with_hessian("non_strict_saddle", False, True)
    assert not dln.agrees_with_hessian("global_minimum", True, False)
    assert not dln.agrees_with_hessian("non_strict_saddle", False, False)  # ambiguous
    assert not dln.agrees_with_hessian("not_critical", False, True)
    with pytest.raises(ValueError, match="kind must be one of"):
        dln.agrees_with_hessian("saddle", True, False)
    with pytest.raises(ValueError, match="need 0 < zero_tol < strict_tol"):
        dln.hessian_test(ev, X, Y, strict_tol=1e-12, zero_tol=1e-11)
