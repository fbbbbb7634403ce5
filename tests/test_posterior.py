"""FocalLoss.posterior: the class posterior recovered from a focal-trained margin (issue 9).

The reference for the math is computed here independently of the package: the expected focal
loss is written from its definition in mpmath (40 significant digits), its minimiser over the
margin is found numerically, and the package's closed-form inverse must map that minimiser back
to the true posterior eta. The other tests pin the special cases (gamma = 0), the numerical
range (margins up to 1e4, float32 and float64), monotonicity (ranking metrics unchanged) and
the agreement with the independent init_score code path.
"""

import mpmath as mp
import numpy as np
import pytest
from scipy import optimize
from scipy.special import expit, softmax

from boost_focal import FocalLoss
from boost_focal.focal import log_phi

GAMMAS = (0.0, 0.5, 1.0, 2.0, 5.0, 20.0)
ETAS = ("1e-6", "1e-3", "0.05", "0.3", "0.5", "0.7", "0.95", "0.999", "0.999999")
BINARY_ALPHAS = (None, 0.25, 0.75, 0.05)
DPS = 40


# --------------------------------------------------------------------------- mpmath reference
def _f(q, gamma):
    """The focal loss of the true class as a function of its probability: -(1 - q)^gamma log q."""
    return -((1 - q) ** gamma) * mp.log(q)


def _f_prime(q, gamma):
    """d/dq of _f, by the product rule (checked against mpmath.diff below)."""
    if gamma == 0:
        return -1 / q
    return gamma * (1 - q) ** (gamma - 1) * mp.log(q) - (1 - q) ** gamma / q


def _sigmoid(z):
    return 1 / (1 + mp.exp(-z))


def _binary_alphas(alpha):
    """(a_1, a_0) as mpf."""
    if alpha is None:
        return mp.mpf(1), mp.mpf(1)
    return mp.mpf(alpha), 1 - mp.mpf(alpha)


def _binary_expected_loss(z, eta, gamma, a1, a0):
    """E[loss | x] at margin z when P(y = 1 | x) = eta: eta a1 f(sigmoid z) + (1 - eta) a0 f(sigmoid -z)."""
    return eta * a1 * _f(_sigmoid(z), gamma) + (1 - eta) * a0 * _f(_sigmoid(-z), gamma)


def _binary_minimiser(eta, gamma, alpha):
    """The margin minimising the expected binary loss: the root of its numerical derivative."""
    a1, a0 = _binary_alphas(alpha)

    def d_loss(z):
        return mp.diff(lambda x: _binary_expected_loss(x, eta, gamma, a1, a0), z)

    lo, hi = mp.mpf(-1), mp.mpf(1)
    while d_loss(lo) > 0:
        lo *= 2
    while d_loss(hi) < 0:
        hi *= 2
    for _ in range(30):  # bisect to a narrow bracket, then polish with a superlinear bracketing solver
        mid = (lo + hi) / 2
        if d_loss(mid) < 0:
            lo = mid
        else:
            hi = mid
    return mp.findroot(d_loss, (lo, hi), solver="anderson")


def _softmax_mp(z):
    m = max(z)
    e = [mp.exp(x - m) for x in z]
    s = mp.fsum(e)
    return [x / s for x in e]


def _softmax_expected_grad(z_free, c, gamma):
    """Gradient over z_1..z_{K-1} (z_K = 0) of sum_k c_k f(p_k), p = softmax(z), c_k = eta_k a_k.

    dp_k/dz_j = p_k (delta_kj - p_j), so dL/dz_j = p_j (c_j f'(p_j) - sum_k c_k f'(p_k) p_k).
    """
    p = _softmax_mp(list(z_free) + [mp.mpf(0)])
    cf = [ck * _f_prime(pk, gamma) for ck, pk in zip(c, p)]
    mean = mp.fsum(a * b for a, b in zip(cf, p))
    return [p[j] * (cf[j] - mean) for j in range(len(z_free))]


def _newton(grad, z, iters=5, h=mp.mpf("1e-15")):
    """Newton's method with a forward-difference Jacobian; returns (root, Jacobian at the root)."""
    n = len(z)
    for _ in range(iters + 1):
        g0 = grad(z)
        jac = mp.matrix(n, n)
        for i in range(n):
            zi = list(z)
            zi[i] += h
            gi = grad(zi)
            for j in range(n):
                jac[j, i] = (gi[j] - g0[j]) / h
        if _ == iters:
            break
        step = mp.lu_solve(jac, mp.matrix(g0))
        z = [z[i] - step[i] for i in range(n)]
    assert max(abs(v) for v in grad(z)) < mp.mpf("1e-25"), "Newton did not converge"
    return z, jac


def _softmax_start(eta, alpha, gamma):
    """A float64 starting point for Newton: minimise the same expected loss with SciPy (plain NumPy)."""
    c = eta * alpha

    def fun(zf):
        z = np.append(zf, 0.0)
        logp = z - np.logaddexp.reduce(z)
        p = np.exp(logp)
        r = -np.expm1(logp)
        loss = -(c * r**gamma * logp).sum()
        fp = gamma * r ** (gamma - 1.0) * logp - r**gamma / p if gamma else -1.0 / p
        cf = c * fp
        return loss, (p * (cf - (cf * p).sum()))[:-1]

    res = optimize.minimize(fun, np.log(eta[:-1] / eta[-1]), jac=True, method="BFGS", options={"gtol": 1e-10})
    return res.x


def _phi_mp(log_q, r, gamma):
    """phi(q) = (1 - q)^gamma / q - gamma (1 - q)^(gamma - 1) log q, from log q and r = 1 - q.

    Taking r as an input (computed without 1 - q) keeps the reference exact at any margin.
    """
    q = mp.exp(log_q)
    if gamma == 0:
        return 1 / q
    return r**gamma / q - gamma * r ** (gamma - 1) * log_q


def _closed_form_binary_mp(z, gamma, alpha):
    """eta(z) = a0 phi(1 - p) / (a1 phi(p) + a0 phi(1 - p)) in mpmath, p = sigmoid(z)."""
    a1, a0 = _binary_alphas(alpha)
    z = mp.mpf(float(z))
    log_p, log_n = -mp.log1p(mp.exp(-z)), -mp.log1p(mp.exp(z))  # log sigmoid(z), log sigmoid(-z)
    phi_p = _phi_mp(log_p, mp.exp(log_n), gamma)
    phi_n = _phi_mp(log_n, mp.exp(log_p), gamma)
    return a0 * phi_n / (a1 * phi_p + a0 * phi_n)


def _closed_form_softmax_mp(z, gamma, alpha):
    """eta_k proportional to 1 / (alpha_k phi(p_k)), p = softmax(z), 1 - p_k summed over the others."""
    z = [mp.mpf(float(v)) for v in z]
    m = max(z)
    e = [mp.exp(v - m) for v in z]
    s = mp.fsum(e)
    inv = []
    for k, a in enumerate(alpha):
        others = mp.fsum(e[j] for j in range(len(z)) if j != k)
        log_q = -mp.log1p(others / e[k])  # not log(e_k / s), which loses 1 - q at any fixed precision
        inv.append(1 / (mp.mpf(float(a)) * _phi_mp(log_q, others / s, gamma)))
    tot = mp.fsum(inv)
    return [v / tot for v in inv]


# --------------------------------------------------------------------------- (1) the math
def test_reference_derivative_matches_mpmath_diff():
    with mp.workdps(DPS):
        for gamma in GAMMAS:
            for q in ("1e-8", "0.01", "0.3", "0.5", "0.9", "0.999999"):
                q = mp.mpf(q)
                num = mp.diff(lambda t: _f(t, gamma), q)
                assert abs(num - _f_prime(q, gamma)) <= mp.mpf("1e-25") * abs(num)


@pytest.mark.parametrize("gamma", GAMMAS)
def test_binary_posterior_inverts_the_expected_loss_minimiser(gamma):
    """For eta on a grid: minimise E[loss] over the margin (mpmath), then posterior(z*) == eta."""
    with mp.workdps(DPS):
        for alpha in BINARY_ALPHAS:
            etas = [mp.mpf(e) for e in ETAS]
            z_star = np.array([float(_binary_minimiser(e, gamma, alpha)) for e in etas])
            post = FocalLoss(gamma, alpha).posterior(z_star)
            eta = np.array([float(e) for e in etas])
            one_minus = np.array([float(1 - e) for e in etas])
            np.testing.assert_allclose(post, eta, rtol=1e-8, atol=0, err_msg=f"alpha={alpha}")
            np.testing.assert_allclose(1.0 - post, one_minus, rtol=1e-8, atol=1e-15, err_msg=f"alpha={alpha}")


@pytest.mark.parametrize("gamma", GAMMAS)
def test_binary_expected_loss_has_one_minimiser(gamma):
    """The derivative of E[loss] in the margin changes sign exactly once (float64 scan on [-60, 60]).

    This makes the posterior map well defined: the minimiser is unique for every eta, so the
    closed-form inverse is the only answer.
    """
    z = np.linspace(-60.0, 60.0, 4801) + 1e-3  # off-grid of the eta = 1/2 root z = 0
    both = np.concatenate([z, z])
    y = np.repeat([1, 0], z.size)
    for alpha in BINARY_ALPHAS:
        a1, a0 = (1.0, 1.0) if alpha is None else (alpha, 1.0 - alpha)
        g, _ = FocalLoss(gamma, alpha, "exact").grad_hess(both, y)
        g1, g0 = g[: z.size] / a1, g[z.size :] / a0  # per-unit-alpha derivatives of each label's loss
        for eta in (1e-4, 0.01, 0.2, 0.5, 0.8, 0.99):
            d = eta * a1 * g1 + (1 - eta) * a0 * g0
            signs = np.sign(d[d != 0])
            assert np.count_nonzero(np.diff(signs)) == 1, (alpha, eta)
            assert signs[0] < 0 < signs[-1]


@pytest.mark.parametrize("k", [3, 4, 5])
@pytest.mark.parametrize("gamma", GAMMAS)
def test_softmax_posterior_inverts_the_expected_loss_minimiser(k, gamma):
    """Multiclass: solve grad E[loss] = 0 (mpmath Newton), check it is a minimum, posterior(z*) == eta."""
    rng = np.random.default_rng(1000 * k + int(10 * gamma))
    cases = []
    for weighted in (False, True):
        eta = rng.dirichlet(np.full(k, 0.8))
        eta = np.maximum(eta, 2e-3)
        eta /= eta.sum()
        alpha = rng.uniform(0.05, 1.0, k) if weighted else None
        cases.append((eta, alpha))
    with mp.workdps(DPS):
        for eta, alpha in cases:
            a = np.ones(k) if alpha is None else alpha
            c = [mp.mpf(float(e)) * mp.mpf(float(ai)) for e, ai in zip(eta, a)]
            start = [mp.mpf(float(v)) for v in _softmax_start(eta, a, gamma)]
            z_free, jac = _newton(lambda zz: _softmax_expected_grad(zz, c, gamma), start)
            mp.cholesky(jac)  # raises ValueError unless the Hessian is positive definite: a minimum
            z = np.append([float(v) for v in z_free], 0.0)[None, :]
            fl = FocalLoss(gamma, None if alpha is None else alpha.tolist())
            post = fl.posterior(z)[0]
            np.testing.assert_allclose(post, eta, rtol=1e-8, atol=0, err_msg=f"alpha={alpha}")
            # A common shift of the margins changes nothing.
            np.testing.assert_allclose(fl.posterior(z + 7.5)[0], eta, rtol=1e-8, atol=0)


@pytest.mark.parametrize("gamma", GAMMAS)
def test_log_phi_is_strictly_decreasing(gamma):
    """phi = -f' decreases in q, which makes the binary map increasing and keeps softmax ranks."""
    # At gamma = 0, log phi = softplus(-u) ~ e^-u is computed to absolute (not relative) precision
    # (about 1e-15), all the posterior needs, as it only takes differences; so stop at u = 20 there.
    top = 20.0 if gamma == 0 else 700.0
    u = np.unique(np.concatenate([np.linspace(-800, -50, 3001), np.linspace(-50, top, 30001)]))
    lp = log_phi(u, gamma)
    assert np.isfinite(lp).all()
    assert (np.diff(lp) < 0).all()
    assert (np.diff(log_phi(np.array([700.0, 800.0, 1e4]), gamma)) <= 0).all()


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("alpha", [None, 0.25, 0.9])
def test_binary_posterior_matches_mpmath_closed_form_in_the_tails(gamma, alpha):
    """Log-space evaluation keeps full relative precision where phi itself would over/underflow."""
    z = np.array([-1e4, -700.0, -300.0, -100.0, -40.0, -37.0, -15.0, -3.0, -1e-9, 0.0, 1e-9, 2.0, 12.0, 36.9,
                  40.0, 100.0, 700.0, 1e4])
    post = FocalLoss(gamma, alpha).posterior(z)
    with mp.workdps(60):
        ref = [_closed_form_binary_mp(v, gamma, alpha) for v in z]
    for zi, pi, ri in zip(z, post, ref):
        if ri > mp.mpf("1e-290"):
            assert abs(mp.mpf(float(pi)) - ri) <= mp.mpf("1e-12") * ri, (zi, pi, ri)
        else:  # below the float64 range: must underflow to (nearly) 0, never NaN
            assert 0.0 <= pi <= 1e-280, (zi, pi, ri)


@pytest.mark.parametrize("gamma", [0.5, 2.0, 20.0])
@pytest.mark.parametrize("scale", [1.0, 10.0, 60.0])
def test_softmax_posterior_matches_mpmath_closed_form(gamma, scale):
    rng = np.random.default_rng(int(gamma * 10 + scale))
    k = 4
    z = rng.normal(scale=scale, size=(25, k))
    z[0] = [0.0, 0.0, 0.0, 0.0]
    z[1] = [scale, scale, -scale, 0.0]  # a tie for the arg-max
    alpha = np.array([0.1, 0.2, 0.3, 0.4])
    for a in (None, alpha):
        post = FocalLoss(gamma, None if a is None else a.tolist()).posterior(z)
        with mp.workdps(60):
            for row, prow in zip(z, post):
                ref = _closed_form_softmax_mp(row, gamma, np.ones(k) if a is None else a)
                for pv, rv in zip(prow, ref):
                    if rv > mp.mpf("1e-290"):
                        assert abs(mp.mpf(float(pv)) - rv) <= mp.mpf("1e-11") * rv, (row, prow, ref)
                    else:
                        assert 0.0 <= pv <= 1e-280


# --------------------------------------------------------------------------- (2) gamma = 0
def test_gamma0_without_alpha_is_sigmoid_and_softmax():
    rng = np.random.default_rng(2)
    z = np.concatenate([rng.normal(scale=5, size=5000), [-700.0, -40.0, 0.0, 40.0, 700.0]])
    np.testing.assert_allclose(FocalLoss(0.0).posterior(z), expit(z), rtol=1e-13, atol=0)
    zz = rng.normal(scale=5, size=(2000, 5))
    np.testing.assert_allclose(FocalLoss(0.0).posterior(zz), softmax(zz, axis=1), rtol=1e-13, atol=0)


def test_gamma0_with_alpha_is_the_prior_shift():
    """gamma = 0 is weighted cross-entropy: logit(eta) = z + log(a0 / a1); softmax: eta_k ~ p_k / a_k."""
    rng = np.random.default_rng(3)
    z = rng.normal(scale=4, size=3000)
    for alpha in (0.1, 0.25, 0.75):
        post = FocalLoss(0.0, alpha).posterior(z)
        np.testing.assert_allclose(post, expit(z + np.log((1 - alpha) / alpha)), rtol=1e-13, atol=0)
    zz = rng.normal(scale=4, size=(1000, 3))
    a = np.array([0.2, 0.5, 0.3])
    ref = softmax(zz, axis=1) / a
    ref /= ref.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(FocalLoss(0.0, a.tolist()).posterior(zz), ref, rtol=1e-12, atol=0)


def test_posterior_differs_from_sigmoid_when_focal():
    """Guard against a no-op implementation: gamma > 0 must move probabilities away from sigmoid."""
    z = np.array([-4.0, -1.0, 1.0, 4.0])
    post = FocalLoss(2.0).posterior(z)
    p = expit(z)
    # The focal minimiser is pulled toward 1/2, so the posterior is further from 1/2 than sigmoid.
    assert (np.abs(post - 0.5) > np.abs(p - 0.5) + 1e-3).all()
    # symmetric without alpha; 1 - post near 1 is only known to a float64 ulp of 1 (atol)
    np.testing.assert_allclose(post[:2], 1 - post[:1:-1], rtol=1e-12, atol=2 * np.finfo(float).eps)


# --------------------------------------------------------------------------- (3) numerical range
EXTREME = np.array([-1e4, -1e3, -800.0, -700.0, -100.0, -36.8, -20.0, -1.0, -1e-12, 0.0, 1e-12, 1.0, 20.0, 36.8,
                    100.0, 700.0, 800.0, 1e3, 1e4])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gamma", GAMMAS)
def test_binary_posterior_extreme_margins(dtype, gamma):
    for alpha in (None, 0.01, 0.25, 0.75, 0.99):
        post = FocalLoss(gamma, alpha).posterior(EXTREME.astype(dtype))
        assert post.dtype == dtype
        assert np.isfinite(post).all()
        assert ((post >= 0) & (post <= 1)).all()
        assert post[0] == 0.0 and post[-1] == 1.0
        assert (np.diff(post) >= 0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gamma", GAMMAS)
def test_softmax_posterior_extreme_margins(dtype, gamma):
    rng = np.random.default_rng(4)
    rows = [rng.choice(EXTREME, size=4) for _ in range(300)]
    rows += [[1e4, 1e4, -1e4, 0.0], [-1e4, -1e4, -1e4, -1e4], [1e4, 1e4, 1e4, 1e4], [0.0, 0.0, 0.0, 1e4],
             [-1e4, 1e4, -1e4, 1e4], [800.0, 799.0, -800.0, 0.0]]
    z = np.array(rows, dtype=dtype)
    eps = np.finfo(dtype).eps
    for alpha in (None, [0.01, 0.2, 0.3, 0.49], [0.97, 0.01, 0.01, 0.01]):
        post = FocalLoss(gamma, alpha).posterior(z)
        assert post.dtype == dtype
        assert np.isfinite(post).all()
        assert ((post >= 0) & (post <= 1)).all()
        np.testing.assert_allclose(post.sum(axis=1), 1.0, rtol=0, atol=8 * eps)
    # Equal logits and equal alpha: uniform, whatever their size.
    tol = 1e-12 if dtype == np.float64 else 4 * eps
    np.testing.assert_allclose(FocalLoss(gamma).posterior(z[-5:-3]), 0.25, rtol=0, atol=tol)


@pytest.mark.parametrize("gamma", [0.0, 2.0, 20.0])
def test_float32_posterior_is_as_accurate_as_float32_allows(gamma):
    """float32 margins (XGBoost's) give the float64 answer rounded to float32, within 2 ulps.

    Holding intermediate log-probabilities in float32 would cost relative errors of |log eta| * 2^-24
    (about 4e-6 at margins of tens); the kernels must compute in float64 and round once.
    """
    rng = np.random.default_rng(5)
    tol = 2.0 * np.finfo(np.float32).eps
    for scale in (3.0, 30.0):
        z32 = rng.normal(scale=scale, size=20000).astype(np.float32)
        zz32 = rng.normal(scale=scale, size=(5000, 4)).astype(np.float32)
        for alpha, alpha_k in ((None, None), (0.25, [0.1, 0.2, 0.3, 0.4])):
            ref = FocalLoss(gamma, alpha).posterior(z32.astype(np.float64))
            got = FocalLoss(gamma, alpha).posterior(z32)
            keep = ref > 1e-30
            assert np.max(np.abs(got[keep] - ref[keep]) / ref[keep]) <= tol
            ref = FocalLoss(gamma, alpha_k).posterior(zz32.astype(np.float64))
            got = FocalLoss(gamma, alpha_k).posterior(zz32)
            keep = ref > 1e-30
            assert np.max(np.abs(got[keep] - ref[keep]) / ref[keep]) <= tol


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gamma", GAMMAS)
def test_equal_margins_give_exactly_equal_posteriors(dtype, gamma):
    """Tied logits (equal alphas) get bit-for-bit equal posteriors, so predict's argmax picks the
    first of them as decision_function's does (scikit-learn's check_classifiers_classes fits a
    constant model: every margin 0)."""
    rng = np.random.default_rng(12)
    for k in (3, 4, 7):
        for value in (0.0, 1.5, -40.0, 700.0):
            z = np.full((3, k), value, dtype=dtype)
            z[1, -1] = value - 3  # the others tied at the top
            z[2, 0] = value - 3
            z = np.concatenate([z, rng.normal(scale=5, size=(5, k)).astype(dtype)])
            z[3:, 1] = z[3:, 0]  # random rows with a tie, at or below the max
            post = FocalLoss(gamma).posterior(z)
            for row, prow in zip(z, post):
                for level in np.unique(row):
                    assert len(set(prow[row == level].tolist())) == 1, (row, prow)
            assert np.array_equal(np.argmax(post, axis=1), np.argmax(z, axis=1))
    assert FocalLoss(gamma).posterior(np.zeros(3, dtype=dtype)).tolist() == [0.5] * 3


def test_softmax_posterior_is_shift_invariant():
    rng = np.random.default_rng(6)
    z = rng.normal(scale=8, size=(500, 5))
    fl = FocalLoss(2.0, [0.1, 0.3, 0.2, 0.25, 0.15])
    base = fl.posterior(z)
    for c in (-1000.0, -3.0, 3.0, 1000.0):
        np.testing.assert_allclose(fl.posterior(z + c), base, rtol=1e-9, atol=1e-300)


# --------------------------------------------------------------------------- (4) monotone
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gamma", GAMMAS)
def test_binary_posterior_is_monotone(dtype, gamma):
    pos = np.logspace(-10, 4, 2000)
    z = np.unique(np.concatenate([-pos, np.linspace(-50, 50, 10001), pos])).astype(dtype)
    for alpha in (None, 0.05, 0.25, 0.75):
        post = FocalLoss(gamma, alpha).posterior(z)
        assert (np.diff(post) >= 0).all()
    # Strictly increasing wherever the output is not saturated (coarse grid, float64).
    zc = np.linspace(-30, 30, 601)
    post = FocalLoss(gamma, 0.25).posterior(zc)
    inside = (post > 1e-300) & (post < 1 - 1e-15)
    assert (np.diff(post[inside]) > 0).all()


def test_ranking_metrics_unchanged_binary():
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(7)
    z = np.minimum(rng.normal(scale=2.5, size=4000) - 2.0, 3.0)
    y = (rng.random(z.size) < expit(0.8 * z + rng.normal(scale=1, size=z.size))).astype(int)
    raw = expit(z)
    for gamma, alpha in ((1.0, None), (2.0, 0.25), (5.0, 0.75), (5.0, 0.5)):
        post = FocalLoss(gamma, alpha).posterior(z)
        assert np.array_equal(np.argsort(post, kind="stable"), np.argsort(raw, kind="stable"))
        assert roc_auc_score(y, post) == roc_auc_score(y, raw)
        assert average_precision_score(y, post) == average_precision_score(y, raw)


@pytest.mark.parametrize("gamma", GAMMAS)
def test_binary_posterior_ties_only_where_it_saturates(gamma):
    """Distinct margins stay distinct unless eta is within 1e-10 of 1 (float64 spacing there is 1.1e-16).

    The map is strictly increasing, but 1 - eta ~ (1 - p)^(gamma + 1) shrinks fast, so ranks can
    merge at the top of the float64 grid (e.g. gamma = 5 from p ~ 0.99); the benchmark
    (docs/calibration_posterior.md) reports PR-AUC of raw and posterior side by side for that reason.
    """
    z = np.sort(np.random.default_rng(11).normal(scale=4, size=20000))
    post = FocalLoss(gamma, 0.25).posterior(z)
    same = np.diff(post) == 0
    assert (post[1:][same] > 1.0 - 1e-10).all()
def test_softmax_posterior_keeps_class_order_without_alpha():
    """With equal alphas eta_k ~ 1/phi(p_k) is increasing in p_k: the arg-max (accuracy) is unchanged."""
    rng = np.random.default_rng(8)
    z = rng.normal(scale=3, size=(3000, 4))
    p = softmax(z, axis=1)
    for gamma in (0.5, 2.0, 5.0):
        post = FocalLoss(gamma).posterior(z)
        assert np.array_equal(np.argsort(post, axis=1), np.argsort(p, axis=1))


# --------------------------------------------------------------------------- (5) init_score
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
@pytest.mark.parametrize("alpha", [None, 0.25, 0.75, "balanced"])
@pytest.mark.parametrize("weighted", [False, True])
def test_posterior_of_binary_init_score_is_the_class_frequency(gamma, alpha, weighted):
    """init_score (a root of the summed gradient) and posterior (closed form) must agree."""
    rng = np.random.default_rng(9)
    for rate in (0.05, 0.3):
        y = (rng.random(3000) < rate).astype(int)
        w = rng.uniform(0.2, 3.0, y.size) if weighted else None
        fl = FocalLoss(gamma, alpha)
        z0 = fl.init_score(y, sample_weight=w)
        freq = np.average(y, weights=w)
        post = fl.resolve_alpha(y).posterior(np.array([z0]))[0]
        np.testing.assert_allclose(post, freq, rtol=1e-9)


@pytest.mark.parametrize("gamma", [0.0, 2.0, 5.0])
@pytest.mark.parametrize("k", [3, 4])
def test_posterior_of_softmax_init_score_is_the_class_frequency(gamma, k):
    rng = np.random.default_rng(10 + k)
    probs = rng.dirichlet(np.ones(k))
    y = rng.choice(k, size=4000, p=probs)
    for alpha in (None, rng.uniform(0.1, 1.0, k).tolist(), "balanced"):
        for w in (None, rng.uniform(0.2, 3.0, y.size)):
            fl = FocalLoss(gamma, alpha)
            z0 = fl.init_score(y, sample_weight=w)
            freq = np.bincount(y, weights=w, minlength=k) / (y.size if w is None else w.sum())
            post = fl.resolve_alpha(y).posterior(z0[None, :])[0]
            np.testing.assert_allclose(post, freq, rtol=1e-6, err_msg=f"alpha={alpha}, weighted={w is not None}")


# --------------------------------------------------------------------------- (6) bad input
@pytest.mark.parametrize("alpha, z", [(0.0, np.zeros(3)), (1.0, np.zeros(3)), ([0.5, 0.5, 0.0], np.zeros((2, 3))),
                                      ([0.0, 1.0], np.zeros((2, 2)))])
def test_zero_alpha_is_a_clear_error(alpha, z):
    with pytest.raises(ValueError, match="alpha"):
        FocalLoss(2.0, alpha).posterior(z)


def test_posterior_input_errors():
    with pytest.raises(ValueError, match="resolve_alpha"):
        FocalLoss(2.0, "balanced").posterior(np.zeros(3))
    with pytest.raises(ValueError, match="3 classes"):
        FocalLoss(2.0, [0.5, 0.5]).posterior(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="binary"):
        FocalLoss(2.0, 0.25).posterior(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        FocalLoss(2.0).posterior(np.array([0.0, np.nan]))


# --------------------------------------------------------------------------- the NumPy posterior
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(
    u=st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=1, max_size=40),
    gamma=st.one_of(st.sampled_from([0.0, 0.5, 1.0, 2.0, 20.0]), st.floats(0.0, 20.0)),
)
def test_numpy_log_phi_is_the_scalar_log_phi(u, gamma):
    """_posterior.log_phi (both branches computed, np.where picks) equals _scalar.log_phi, the
    compiled per-element form, to a few float64 ulps of the terms it sums (log phi itself can be
    near 0 where they cancel, e.g. 0.0017 at u = 0.5), at any margin."""
    from boost_focal import _posterior
    from boost_focal._scalar import log_phi as scalar_log_phi

    u = np.array(u)
    ours = _posterior.log_phi(u, gamma)
    ref = np.array([scalar_log_phi(v, gamma) for v in u])
    assert np.isfinite(ours).all()
    scale = 1.0 + np.abs(u) + abs(np.log(gamma)) if gamma > 0 else 1.0 + np.abs(u)  # size of the summed terms
    assert (np.abs(ours - ref) <= 8 * np.finfo(float).eps * (scale + gamma * np.abs(u))).all()


@settings(max_examples=300, deadline=None)
@given(
    z=st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=1, max_size=40),
    gamma=st.one_of(st.sampled_from([0.0, 0.5, 1.0, 2.0, 20.0]), st.floats(0.0, 20.0)),
    alpha=st.one_of(st.none(), st.floats(0.001, 0.999)),
)
def test_binary_posterior_is_the_scalar_formula(z, gamma, alpha):
    """The vectorised binary posterior (shared intermediates of |z|, _posterior.binary_posterior)
    is sigmoid(log(alpha_0/alpha_1) + log phi(-z) - log phi(z)) with the compiled per-element
    _scalar.log_phi, at any margin: t to a few ulps of the terms it sums, so eta within that
    relative to eta (1 - eta), plus the float64 rounding of eta itself."""
    from boost_focal._scalar import log_phi as scalar_log_phi

    z = np.array(z)
    a0, a1 = (0.5, 0.5) if alpha is None else (1.0 - alpha, alpha)
    t = np.log(a0 / a1) + np.array([scalar_log_phi(-v, gamma) - scalar_log_phi(v, gamma) for v in z])
    ref = expit(t)
    ours = FocalLoss(gamma, alpha).posterior(z)
    eps = np.finfo(float).eps
    t_tol = 16 * eps * (1.0 + (gamma + 2.0) * np.abs(z) + abs(np.log(gamma) if gamma > 0 else 0.0) + np.abs(t))
    assert (np.abs(ours - ref) <= t_tol * ref * (1.0 - ref) + 2 * eps * ref + 1e-300).all()


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(2, 5).flatmap(
        lambda k: st.lists(
            st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=k, max_size=k), min_size=1, max_size=4
        )
    ),
    gamma=st.one_of(st.sampled_from([0.0, 0.5, 1.0, 2.0, 20.0]), st.floats(0.0, 20.0)),
    weighted=st.booleans(),
)
def test_softmax_posterior_matches_mpmath_on_random_rows(rows, gamma, weighted):
    """The vectorised softmax posterior (the other classes' log phi formed from log p and
    log(1 - p) directly) against the 60-digit closed form, on random rows, gammas and alphas."""
    z = np.array(rows)
    k = z.shape[1]
    alpha = np.linspace(0.05, 0.95, k) if weighted else np.ones(k)
    post = FocalLoss(gamma, alpha.tolist() if weighted else None).posterior(z)
    with mp.workdps(60):
        for row, prow in zip(z, post):
            for pv, rv in zip(prow, _closed_form_softmax_mp(row, gamma, alpha)):
                if rv > mp.mpf("1e-290"):
                    assert abs(mp.mpf(float(pv)) - rv) <= mp.mpf("1e-10") * rv, (row, prow)
                else:
                    assert 0.0 <= pv <= 1e-280


@pytest.mark.parametrize("k", [0, 2, 5])
def test_posterior_chunks_and_threads_give_the_same_rows(k):
    """Chunks (POSTERIOR_CHUNK) and threads split rows only: every row as computed alone."""
    from boost_focal import _cpu

    rng = np.random.default_rng(k)
    z = rng.normal(scale=30, size=(3 * _cpu.POSTERIOR_CHUNK + 7, k) if k else 3 * _cpu.POSTERIOR_CHUNK + 7)
    fl = FocalLoss(2.0, alpha=None if k == 0 else np.linspace(0.2, 1.0, k) if k > 2 else 0.3)
    with _cpu.use_threads(2):
        split = fl.posterior(z)
    with _cpu.use_threads(1):
        one = fl.posterior(z)
    rows = rng.choice(z.shape[0], 25, replace=False)
    alone = np.array([fl.posterior(z[i:i + 1])[0] for i in rows])
    assert np.array_equal(split, one)
    assert np.array_equal(split[rows], alone)


def test_posterior_compiles_nothing(tmp_path):
    """The posterior is NumPy: a first prediction pays no Numba compilation (issue 17). Run in a
    fresh interpreter on an empty cache, where any compiled function would have to compile (a
    cached load raises no compile event)."""
    import json
    import os
    import subprocess
    import sys

    script = """
import json
import numpy as np
from numba.core import event
from boost_focal import FocalLoss
from boost_focal.focal import log_phi

compiled = []


class Count(event.Listener):
    def on_start(self, ev):
        compiled.append(ev.data["dispatcher"].py_func.__qualname__)

    def on_end(self, ev):
        pass


z = np.random.default_rng(0).normal(size=(100, 4))
with event.install_listener("numba:compile", Count()):
    FocalLoss(1.37).posterior(z)
    FocalLoss(0.61, alpha=0.2).posterior(z[:, 0])
    log_phi(z[:, 0], 3.3)
print(json.dumps(compiled))
"""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
