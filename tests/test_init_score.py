"""FocalLoss.init_score is the constant margin that minimises the total (weighted) focal loss.

Checked without trusting its own derivation: the total loss (FocalLoss.loss, itself checked
against mpmath in test_reference.py) is larger a little way off in every direction, a brute-force
scalar minimiser lands on the same point, the weighted gradient sums to zero there, gamma = 0
gives the familiar closed forms, and integer weights equal repeated rows.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import optimize

from boost_focal import FocalLoss

HYP = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

gamma_st = st.floats(0.0, 20.0) | st.sampled_from([0.0, 0.5, 2.0, 5.0, 20.0])


@st.composite
def binary_problem(draw):
    n = draw(st.integers(2, 200))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    rate = draw(st.floats(0.01, 0.99))
    y = (rng.uniform(size=n) < rate).astype(np.int64)
    y[:2] = [0, 1]  # both classes present
    w = draw(st.none() | st.just("random"))
    if w is not None:
        w = rng.uniform(0.01, 5.0, size=n)
        w[rng.uniform(size=n) < 0.1] = 0.0
        w[:2] = rng.uniform(0.5, 2.0, size=2)
    alpha = draw(st.none() | st.floats(0.01, 0.99))
    return y, w, alpha


def _total(fl, z, y, w):
    return float(fl.loss(np.full(y.size, z), y, w).sum())


@HYP
@given(problem=binary_problem(), gamma=gamma_st)
def test_binary_init_score_is_the_minimum(problem, gamma):
    y, w, alpha = problem
    fl = FocalLoss(gamma, alpha, "bohning")  # the Hessian mode must not matter
    z0 = fl.init_score(y, w)
    assert isinstance(z0, float) and np.isfinite(z0)

    total = _total(fl, z0, y, w)
    for d in (1e-2, 0.1, 1.0, 5.0):
        for sign in (-1.0, 1.0):
            assert _total(fl, z0 + sign * d, y, w) >= total * (1.0 - 1e-13), (d, sign)

    # stationary: the weighted gradient sums to zero (relative to its absolute sum)
    g, _ = fl.grad_hess(np.full(y.size, z0), y, w)
    assert abs(g.sum()) <= 1e-9 * np.abs(g).sum()

    # a brute-force minimiser of the total loss finds nothing lower
    res = optimize.minimize_scalar(lambda z: _total(fl, z, y, w), bracket=(z0 - 3.0, z0 + 3.0), tol=1e-12)
    assert res.fun >= total * (1.0 - 1e-13), (res.x, z0)


@HYP
@given(problem=binary_problem(), gamma=gamma_st)
def test_binary_init_score_posterior_is_the_class_frequency(problem, gamma):
    """Stationarity read the other way (docs/math.md sec. 5-6): the recovered posterior at the
    optimal constant equals the weighted class-1 frequency, for any gamma and alpha."""
    y, w, alpha = problem
    fl = FocalLoss(gamma, alpha)
    ww = np.ones(y.size) if w is None else w
    freq = ww[y == 1].sum() / ww.sum()
    eta = fl.posterior(np.array([fl.init_score(y, w)]))[0]
    np.testing.assert_allclose(eta, freq, rtol=1e-8)


@pytest.mark.parametrize("alpha", [None, 0.25, 0.9])
def test_binary_gamma0_is_the_weighted_log_odds(alpha):
    rng = np.random.default_rng(1)
    y = (rng.uniform(size=300) < 0.2).astype(np.int64)
    w = rng.uniform(0.1, 3.0, size=300)
    a1, a0 = (1.0, 1.0) if alpha is None else (alpha, 1.0 - alpha)
    expected = np.log(a1 * w[y == 1].sum() / (a0 * w[y == 0].sum()))
    np.testing.assert_allclose(FocalLoss(0.0, alpha).init_score(y, w), expected, rtol=1e-12)
    expected_unweighted = np.log(a1 * (y == 1).sum() / (a0 * (y == 0).sum()))
    np.testing.assert_allclose(FocalLoss(0.0, alpha).init_score(y), expected_unweighted, rtol=1e-12)


@pytest.mark.parametrize("gamma", [0.0, 2.0, 20.0])
def test_binary_extreme_imbalance(gamma):
    """One positive in 1e5 rows, and a positive with weight 1e-200: still finite and optimal."""
    y = np.zeros(100_000, dtype=np.int64)
    y[0] = 1
    fl = FocalLoss(gamma, None, "exact")
    w = np.ones(y.size)
    w[0] = 1e-200
    for weights in (None, w):
        z0 = fl.init_score(y, weights)
        assert np.isfinite(z0)
        g, _ = fl.grad_hess(np.full(y.size, z0), y, weights)
        assert abs(g.sum()) <= 1e-9 * np.abs(g).sum()
    if gamma == 0.0:
        np.testing.assert_allclose(fl.init_score(y), np.log(1 / 99_999), rtol=1e-12)
        np.testing.assert_allclose(fl.init_score(y, w), np.log(1e-200 / 99_999), rtol=1e-12)


def test_integer_weights_equal_repeated_rows():
    y = np.array([0, 1, 1, 0, 2, 2, 1])
    counts = np.array([1, 3, 2, 4, 1, 2, 5])
    for gamma, alpha in ((2.0, None), (0.5, [0.2, 0.5, 0.3])):
        fl = FocalLoss(gamma, alpha)
        np.testing.assert_allclose(fl.init_score(y, counts), fl.init_score(np.repeat(y, counts)), atol=1e-7)
    yb = (y > 0).astype(np.int64)
    fl = FocalLoss(2.0, 0.3)
    np.testing.assert_allclose(fl.init_score(yb, counts), fl.init_score(np.repeat(yb, counts)), rtol=1e-12)


# ------------------------------------------------------------------------ multiclass
@st.composite
def multiclass_problem(draw):
    k = draw(st.integers(3, 6))
    n = draw(st.integers(k, 150))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    probs = rng.dirichlet(np.full(k, draw(st.sampled_from([0.3, 1.0, 5.0]))))
    y = rng.choice(k, size=n, p=probs)
    y[:k] = np.arange(k)  # every class present
    w = None
    if draw(st.booleans()):
        w = rng.uniform(0.0, 4.0, size=n)
        w[:k] = rng.uniform(0.1, 2.0, size=k)
    alpha = draw(st.none() | st.lists(st.floats(0.05, 1.0), min_size=k, max_size=k))
    return y, w, alpha, k


def _total_multi(fl, z, y, w):
    return float(fl.loss(np.tile(z, (y.size, 1)), y, w).sum())


@settings(HYP, max_examples=20)
@given(problem=multiclass_problem(), gamma=gamma_st, data=st.data())
def test_multiclass_init_score_is_the_minimum(problem, gamma, data):
    y, w, alpha, k = problem
    fl = FocalLoss(gamma, alpha, "bohning")
    z0 = fl.init_score(y, w)
    assert z0.shape == (k,) and np.all(np.isfinite(z0))
    assert abs(z0.mean()) <= 1e-12 * max(1.0, np.abs(z0).max())  # centred: softmax ignores shifts

    # stationary in every coordinate
    g, _ = fl.grad_hess(np.tile(z0, (y.size, 1)), y, w)
    assert np.all(np.abs(g.sum(axis=0)) <= 1e-7 * np.abs(g).sum())

    # a local minimum in random directions, and along each axis
    total = _total_multi(fl, z0, y, w)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    directions = [np.eye(k)[j] for j in range(k)] + list(rng.normal(size=(4, k)))
    for v in directions:
        v = v / np.linalg.norm(v)
        for d in (3e-2, 0.3, 3.0):
            assert _total_multi(fl, z0 + d * v, y, w) >= total * (1.0 - 1e-12), (v, d)

    # posterior of the optimal constant = the weighted class frequencies
    ww = np.ones(y.size) if w is None else w
    freq = np.bincount(y, weights=ww, minlength=k) / ww.sum()
    np.testing.assert_allclose(fl.posterior(z0[None, :])[0], freq, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("alpha", [None, [0.2, 0.3, 0.1, 0.4]])
def test_multiclass_gamma0_is_centred_log_weights(alpha):
    rng = np.random.default_rng(5)
    y = rng.choice(4, size=400, p=[0.6, 0.25, 0.1, 0.05])
    w = rng.uniform(0.5, 2.0, size=400)
    a = np.ones(4) if alpha is None else np.asarray(alpha)
    logw = np.log(a * np.bincount(y, weights=w, minlength=4))
    np.testing.assert_allclose(FocalLoss(0.0, alpha).init_score(y, w), logw - logw.mean(), atol=1e-7)


def test_multiclass_balanced_alpha_init_score():
    """alpha='balanced' is resolved from the labels given to init_score (same as resolve_alpha)."""
    rng = np.random.default_rng(2)
    y = rng.choice(3, size=200, p=[0.7, 0.2, 0.1])
    fl = FocalLoss(2.0, "balanced")
    np.testing.assert_allclose(fl.init_score(y), fl.resolve_alpha(y).init_score(y), atol=1e-9)
    # gamma = 0 with balanced weights: alpha_k W_k is the same for every class, so z0 = 0
    np.testing.assert_allclose(FocalLoss(0.0, "balanced").init_score(y), np.zeros(3), atol=1e-7)


def test_init_score_n_classes_argument():
    y = np.array([0, 1, 1, 0, 1])
    fl = FocalLoss(2.0)
    assert isinstance(fl.init_score(y), float)
    assert isinstance(fl.init_score(y, n_classes=2), float)
    z = fl.init_score(np.array([0, 1, 2, 2]), n_classes=3)
    assert z.shape == (3,)
