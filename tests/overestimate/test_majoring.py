"""jaxorth.overestimate majoring points: counts by reasoning, the guarantee, pruning, errors.

References are independent of the refinement: cell counts derived by hand for step
functions, ``f`` itself at random points of the box (brute-force leaf lookup), and an
``O(m^2)`` pairwise test of "implied by" for the pruning.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxorth.overestimate import _majoring
from jaxorth.overestimate._majoring import majoring_points, prune_implied


def _leaf_of(res, x):
    """Index of the leaf containing each row of ``x`` (brute force); asserts exactly one."""
    inside = np.ones((x.shape[0], res.n_cells), dtype=bool)
    for j in range(x.shape[1]):
        inside &= (res.cell_lower[None, :, j] <= x[:, j, None]) & (
            x[:, j, None] <= res.cell_upper[None, :, j]
        )
    assert (inside.sum(axis=1) == 1).all()
    return inside.argmax(axis=1)


# -- counts on step functions -----------------------------------------------------------


@pytest.mark.parametrize("max_depth", [2, 3, 5])
def test_step_1d_counts_cells_by_reasoning(max_depth):
    # floor(4x) on [0, 1] jumps by 1 at 1/4, 1/2, 3/4 and at x = 1 (f(1) = 4). Depths 0 and 1
    # are split (every cell spans a jump), as are the 4 cells of depth 2. From depth 3 on, of
    # the 8 children of the 4 split cells, the 4 that end at a jump point are split again and
    # the 4 others (f constant) are leaves; at max_depth all 8 are leaves, 4 still straddle.
    res = majoring_points(
        lambda x: np.floor(4 * x[:, 0]), [0.0], [1.0], delta=0.5, max_depth=max_depth
    )
    assert res.n_cells == 4 * (max_depth - 2) + 4
    assert res.capped == 4
    assert res.finest_depth == max_depth and res.uniform_cells == 2**max_depth
    assert np.isclose(np.sum(res.cell_upper - res.cell_lower), 1.0)
    straddle = np.isin(res.cell_upper[:, 0], [0.25, 0.5, 0.75, 1.0]) & (res.depth == max_depth)
    assert ((res.f_top - res.f_anchor > 0.5) == straddle).all()
    # the constant cells have f_top = f_anchor; each straddling cell majors by the jump
    assert np.array_equal(res.f_top[~straddle], res.f_anchor[~straddle])


@pytest.mark.parametrize("max_depth", [3, 5])
def test_step_2d_counts_cells_by_reasoning(max_depth):
    # f = 1[x1 + x2 > 1]; a cell (i, j) of depth k (side 2^-k, N = 2^k) is split iff
    # (i + j) / N <= 1 < (i + j + 2) / N, i.e. i + j in {N - 1, N}: S_k = 2N - 1 cells, all of
    # which exist (a straddling cell's parent straddles too). Depth k holds 4 S_{k-1} cells.
    def f(x):
        return (x[:, 0] + x[:, 1] > 1).astype(float)

    res = majoring_points(f, [0.0, 0.0], [1.0, 1.0], delta=0.5, max_depth=max_depth)
    s = [2 ** (k + 1) - 1 for k in range(max_depth + 1)]
    leaves = sum(4 * s[k - 1] - s[k] for k in range(1, max_depth)) + 4 * s[max_depth - 1]
    assert res.n_cells == leaves
    assert res.capped == s[max_depth]
    # about 8 N cells against N^2: far below the uniform grid as the depth grows
    assert res.uniform_cells == 4**max_depth and res.n_cells < 2**max_depth * 8
    for k in range(1, max_depth + 1):
        assert np.sum(res.depth == k) == (4 * s[k - 1] - (s[k] if k < max_depth else 0))
    # pruning: the constant-0 cells are implied by (0, 0) or one with value 1 below them
    assert res.n_points < res.n_cells


def test_cells_concentrate_where_f_varies():
    res = majoring_points(
        lambda x: np.tanh(20 * (x[:, 0] - 0.3)), [0.0], [1.0], delta=0.05, max_depth=10
    )
    center = 0.5 * (res.cell_lower[:, 0] + res.cell_upper[:, 0])
    near = np.sum(np.abs(center - 0.3) < 0.1)  # an interval of length 0.2
    far = np.sum(center > 0.6)  # an interval of length 0.4
    assert res.capped == 0
    assert near > 5 * far
    assert res.depth[np.abs(center - 0.3) < 0.05].min() > res.depth[center > 0.6].max()


# -- the guarantee ------------------------------------------------------------------------

CASES = {
    "1d-smooth": (lambda x: x[:, 0] ** 3 + x[:, 0], [-1.0], [2.0], None, 0.2, 8),
    "1d-steep": (lambda x: np.tanh(50 * (x[:, 0] - 0.5)), [0.0], [1.0], None, 0.05, 9),
    "1d-jumps": (lambda x: np.floor(5 * x[:, 0]) + x[:, 0], [0.0], [1.0], None, 0.2, 7),
    "2d-smooth": (lambda x: np.exp(x[:, 0]) + x[:, 1] ** 2, [-1.0, 0.0], [1.0, 2.0], None, 0.5, 5),
    "2d-jumps": (lambda x: np.floor(3 * (x[:, 0] + x[:, 1])), [0.0, 0.0], [1.0, 1.0], None, 0.5, 5),
    "2d-decreasing": (
        lambda x: np.tanh(5 * (x[:, 0] - x[:, 1])),
        [0.0, 0.0],
        [1.0, 1.0],
        [1, -1],
        0.4,
        5,
    ),
    "3d-smooth": (lambda x: x[:, 0] * x[:, 1] * x[:, 2], [0.0] * 3, [1.0] * 3, None, 0.25, 4),
    "3d-jumps-decreasing": (
        lambda x: np.floor(x[:, 0] - x[:, 1] + x[:, 2]) + 0.1 * x[:, 2],
        [0.0] * 3,
        [1.0] * 3,
        [1, -1, 1],
        0.5,
        4,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_f_below_the_majoring_value_of_its_cell(case):
    f, lower, upper, directions, delta, max_depth = CASES[case]
    res = majoring_points(f, lower, upper, delta=delta, max_depth=max_depth, directions=directions)
    lo, hi = np.asarray(lower), np.asarray(upper)
    d = lo.shape[0]
    # the leaves tile the box
    assert np.isclose(np.prod(res.cell_upper - res.cell_lower, axis=1).sum(), np.prod(hi - lo))
    assert (res.cell_lower < res.cell_upper).all()
    x = lo + (hi - lo) * np.random.default_rng(0).random((10_000, d))
    fx = f(x)
    leaf = _leaf_of(res, x)
    assert (fx <= res.f_top[leaf]).all() and (fx >= res.f_anchor[leaf]).all()
    # tightness where the refinement was not capped
    ok = res.f_top[leaf] - res.f_anchor[leaf] <= delta
    assert (res.f_top[leaf][ok] - fx[ok] <= delta).all()
    # the anchors and tops are the oriented corners, evaluated exactly there
    assert np.array_equal(res.f_anchor, f(res.anchors)) and np.array_equal(res.f_top, f(res.tops))
    # the pruned points still major f: max{b : (a, b) kept, a <= x in the orientation} >= f(x)
    dirs = np.ones(d) if directions is None else np.asarray(directions, float)
    below = ((res.points * dirs)[None, :, :] <= (x * dirs)[:, None, :]).all(axis=2)
    best = np.where(below, res.values[None, :], -np.inf).max(axis=1)
    assert (best >= fx).all()
    assert res.n_points <= res.n_cells <= res.uniform_cells


def test_checked_figure_of_the_notes():
    def f(x):
        return np.tanh(8 * (x[:, 0] + 2 * x[:, 1] - 1.2)) + 0.3 * x[:, 0]

    res = majoring_points(f, [0.0, 0.0], [1.0, 1.0], delta=0.05, max_depth=7)
    assert res.finest_depth == 7 and res.uniform_cells == 16_384
    # 3,919 cells and 3,861 points after pruning at the time of writing
    assert res.n_cells < 16_384 / 3 and res.n_points <= res.n_cells
    assert res.evaluations < 2 * res.n_cells


# -- JAX f and batching ---------------------------------------------------------------------


def _f_np(x):
    return np.tanh(8 * (x[:, 0] + 2 * x[:, 1] - 1.2)) + 0.3 * x[:, 0] + 1e-9 * x[:, 1] ** 2


def test_jitted_jax_f_matches_numpy_in_float64():
    @jax.jit
    def f_jax(x):  # returns (B, 1); 1e-9 x2^2 would be lost in float32
        return (jnp.tanh(8 * (x[:, 0] + 2 * x[:, 1] - 1.2)) + 0.3 * x[:, 0] + 1e-9 * x[:, 1] ** 2)[
            :, None
        ]

    kw = dict(delta=0.1, max_depth=4)
    a = majoring_points(_f_np, [0.0, 0.0], [1.0, 1.0], **kw)
    b = majoring_points(f_jax, [0.0, 0.0], [1.0, 1.0], **kw)
    assert np.array_equal(a.cell_lower, b.cell_lower) and np.array_equal(a.depth, b.depth)
    np.testing.assert_allclose(b.f_top, a.f_top, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(b.values, a.values, rtol=1e-14, atol=1e-14)


def test_batching_is_invisible():
    sizes = []

    def f(x):
        sizes.append(x.shape[0])
        assert x.dtype == np.float64 and x.shape[1] == 2
        return _f_np(x)

    a = majoring_points(_f_np, [0.0, -1.0], [1.0, 1.0], delta=0.05, max_depth=5)
    b = majoring_points(f, [0.0, -1.0], [1.0, 1.0], delta=0.05, max_depth=5, batch_size=7)
    assert max(sizes) <= 7
    for name in ("cell_lower", "cell_upper", "f_anchor", "f_top", "depth", "points", "values"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.evaluations == b.evaluations


# -- pruning -------------------------------------------------------------------------------


def _prune_reference(points, values, dirs):
    q = points * dirs
    leq = (q[None, :, :] <= q[:, None, :]).all(axis=2)  # [i, j]: q_j <= q_i
    implied = leq & (values[None, :] >= values[:, None])
    same = (q[None, :, :] == q[:, None, :]).all(axis=2) & (values[None, :] == values[:, None])
    m = len(values)
    earlier = np.arange(m)[None, :] < np.arange(m)[:, None]
    implied &= ~same | earlier  # of exact duplicates, the first is kept
    return ~implied.any(axis=1)


@pytest.fixture(params=["chunks", "divide-and-conquer", "switch"])
def prune_method(request, monkeypatch):
    """Run a pruning test with each of the two algorithms, and with a switch midway."""
    limit = {"chunks": None, "divide-and-conquer": 0, "switch": 20}[request.param]
    monkeypatch.setattr(_majoring, "_CHUNK_LIMIT", {1: limit, 2: limit, 3: limit})


@pytest.mark.parametrize(("d", "m"), [(1, 400), (2, 1100), (3, 400), (4, 200)])
def test_prune_matches_brute_force(d, m, prune_method):
    rng = np.random.default_rng(d)
    for trial in range(3):
        points = rng.integers(0, 4, size=(m, d)).astype(float)  # many ties and duplicates
        values = rng.integers(0, 5, size=m) + (points.sum(axis=1) if trial else 0.0)
        dirs = rng.choice([-1.0, 1.0], size=d)
        keep = prune_implied(points, values, directions=dirs)
        assert np.array_equal(keep, _prune_reference(points, values, dirs))
        # every removed point is implied by a kept one
        q = points * dirs
        by_kept = ((q[keep][None, :, :] <= q[:, None, :]).all(axis=2)) & (
            values[keep][None, :] >= values[:, None]
        )
        assert by_kept.any(axis=1).all()
    assert prune_implied(np.zeros((0, d)), np.zeros(0)).shape == (0,)


def test_prune_continuous_points(prune_method):
    rng = np.random.default_rng(7)
    for d in (2, 3):
        points = rng.random((1200, d))
        values = points.sum(axis=1) + 0.3 * rng.random(1200)
        keep = prune_implied(points, values)
        assert 50 < keep.sum() < 1200
        assert np.array_equal(keep, _prune_reference(points, values, np.ones(d)))


# -- bad input -------------------------------------------------------------------------------


def _id(x):
    return x[:, 0]


BAD = [
    (dict(lower=[[0.0, 1.0]], upper=[1.0, 2.0]), r"lower must be a 1-D array of real numbers"),
    (dict(lower=[], upper=[]), r"lower must have at least one entry \(the dimension d >= 1\)"),
    (dict(lower=[0.0], upper=[1.0, 2.0]), r"upper must have length d=len\(lower\)=1, got length 2"),
    (dict(lower=[0.0, np.nan], upper=[1.0, 1.0]), r"lower must be finite"),
    (dict(upper=[1.0, np.inf]), r"upper must be finite"),
    (dict(lower=["a", "b"]), r"lower must be a 1-D array of real numbers"),
    (
        dict(upper=[1.0, 0.0]),
        r"lower must be < upper in every coordinate, got lower\[1\]=0.0 >= upper\[1\]=0.0",
    ),
    (dict(delta=0.0), r"delta must be a positive number, got 0.0"),
    (dict(delta=-1.0), r"delta must be a positive number"),
    (dict(delta=np.nan), r"delta must be a positive number"),
    (dict(max_depth=-1), r"max_depth must be an integer >= 0, got -1"),
    (dict(max_depth=2.5), r"max_depth must be an integer >= 0"),
    (dict(max_depth=True), r"max_depth must be an integer >= 0"),
    (
        dict(max_depth=60),
        r"max_depth=60 is too fine for coordinate 0 .*float64 resolution.*use max_depth <= ",
    ),
    (dict(directions=[1, 0]), r"directions must hold \+1 .* or -1 .*, got \[1, 0\]"),
    (
        dict(directions=[1, -1, 1]),
        r"directions must have length d=2, got length 3",
    ),
    (dict(batch_size=0), r"batch_size must be a positive integer, got 0"),
    (
        dict(lower=[0.0] * 3, upper=[1.0] * 3, batch_size=4),
        r"batch_size=4 is too small for d=3: one split has 2\^d = 8 children; pass batch_size >= 8",
    ),
    (dict(f=3.0), r"f must be callable"),
    (
        dict(f=lambda x: x),
        r"f must return shape \(2,\) or \(2, 1\) for x of shape \(2, 2\), got shape \(2, 2\)",
    ),
    (dict(f=lambda x: 1.0), r"f must return shape .* got shape \(\)"),
    (
        dict(f=lambda x: np.where(x[:, 0] > 0.5, np.nan, x[:, 0])),
        r"f must return finite values, got f\(x\)=nan at x=\[1, 1\]",
    ),
]


@pytest.mark.parametrize(("change", "match"), BAD)
def test_bad_input_is_named(user_checks, change, match):
    args = dict(f=_id, lower=[0.0, 0.0], upper=[1.0, 1.0], delta=0.1, max_depth=3)
    args.update(change)
    calls = []

    def f(x):
        calls.append(x)
        return args["f"](x) if callable(args["f"]) else None

    with user_checks(), pytest.raises(ValueError, match=match):
        majoring_points(
            f if callable(args["f"]) else args["f"], **{k: v for k, v in args.items() if k != "f"}
        )
    if "f" not in change:
        assert not calls  # argument errors come before any call of f


def test_not_monotone_names_the_cell():
    def f(x):  # a dip on (0.5, 0.75] x [0, 0.25], found on a cell of depth 2
        dip = (x[:, 0] > 0.5) & (x[:, 0] <= 0.75) & (x[:, 1] <= 0.25)
        return x[:, 0] + x[:, 1] - 1.5 * dip

    with pytest.raises(
        ValueError,
        match=r"f is not non-decreasing on cell \[0.5, 0.75\] x \[0, 0.25\]: f\(top\)=-0.5 < "
        r"f\(anchor\)=0.5 with top=\[0.75, 0.25\], anchor=\[0.5, 0\]; "
        r"pass directions with -1 for the coordinates where f decreases",
    ):
        majoring_points(f, [0.0, 0.0], [1.0, 1.0], delta=0.1, max_depth=4)


def test_not_monotone_with_directions_names_them():
    def f(x):  # decreasing in x0, increasing in x1, but the directions say the opposite
        return -x[:, 0] + x[:, 1]

    with pytest.raises(
        ValueError,
        match=r"f is not monotone with directions=\[\+1, -1\] .* on cell \[0, 1\] x \[0, 1\]: "
        r"f\(top\)=-1.0 < f\(anchor\)=1.0.*check directions",
    ):
        majoring_points(f, [0.0, 0.0], [1.0, 1.0], delta=0.1, max_depth=2, directions=[1, -1])
    res = majoring_points(f, [0.0, 0.0], [1.0, 1.0], delta=0.1, max_depth=2, directions=[-1, 1])
    assert np.array_equal(res.anchors[0], [res.cell_upper[0, 0], res.cell_lower[0, 1]])


def test_prune_bad_input(user_checks):
    with user_checks():
        with pytest.raises(
            ValueError,
            match=r"points must be a 2-D array \(m, d\) of real numbers, got shape \(3,\)",
        ):
            prune_implied(np.zeros(3), np.zeros(3))
        with pytest.raises(
            ValueError, match=r"values must have length m=points.shape\[0\]=3, got length 2"
        ):
            prune_implied(np.zeros((3, 2)), np.zeros(2))
        with pytest.raises(ValueError, match=r"points must be finite"):
            prune_implied(np.array([[0.0, np.inf]]), np.zeros(1))
        with pytest.raises(ValueError, match=r"directions must hold \+1"):
            prune_implied(np.zeros((3, 2)), np.zeros(3), directions=[2, 1])
