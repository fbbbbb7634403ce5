"""Properties of the focal loss that must hold everywhere (hypothesis, reproducible).

- gamma = 0 with alpha = None is exactly cross-entropy (binary and softmax), alpha scales it;
- K = 2 softmax equals the binary loss on the margin difference, in every Hessian mode;
- sample weights multiply loss, gradient and Hessian;
- softmax is invariant to adding a constant to a row;
- no NaN or inf for any finite margin (float32 and float64, |margin| <= 1e4), gamma in [0, 20];
- Hessian modes: bohning >= exact (binary: = max(exact, alpha_t (1 - p_t)^gamma B); softmax: that
  floor on l''(u), through the chain rule), abs = |exact|,
  clip = max(exact, 1e-16); all equal exact where exact is large and positive; the gradient is
  identical in every mode;
- alpha="balanced" is the inverse class frequency normalised to sum 1; resolve_alpha fixes it.

The cross-entropy references are written with scipy.special (expit, log_expit, softmax,
logsumexp), independently of the package's focal formulas.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.special import expit, log_expit, logsumexp, softmax

from boost_focal import FocalLoss

MODES = ("exact", "bohning", "abs", "clip")

HYP = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

gamma_st = st.floats(0.0, 20.0) | st.sampled_from([0.0, 0.5, 1.0, 2.0, 5.0, 20.0])
alpha_st = st.none() | st.floats(0.0, 1.0)
mode_st = st.sampled_from(MODES)


@st.composite
def binary_batch(draw, lo=-700.0, hi=700.0, weights=True):
    n = draw(st.integers(1, 30))
    z = draw(st.lists(st.floats(lo, hi) | st.sampled_from([0.0, lo, hi, 36.8, -36.8]), min_size=n, max_size=n))
    y = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    w = draw(st.none() | st.lists(st.floats(0.0, 100.0), min_size=n, max_size=n)) if weights else None
    return np.array(z, dtype=np.float64), np.array(y, dtype=np.int64), None if w is None else np.array(w)


@st.composite
def softmax_batch(draw, k_min=2, k_max=12, lo=-700.0, hi=700.0, weights=True):
    k = draw(st.integers(k_min, k_max))
    n = draw(st.integers(1, 12))
    scale = draw(st.sampled_from([1.0, 10.0, 100.0, hi]))
    z = draw(
        st.lists(
            st.lists(st.floats(max(lo, -scale), min(hi, scale)), min_size=k, max_size=k), min_size=n, max_size=n
        )
    )
    y = draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))
    w = draw(st.none() | st.lists(st.floats(0.0, 100.0), min_size=n, max_size=n)) if weights else None
    return np.array(z, dtype=np.float64), np.array(y, dtype=np.int64), None if w is None else np.array(w)


def _w(w, n):
    return np.ones(n) if w is None else w


# ------------------------------------------------------------------------ gamma = 0: cross-entropy
@HYP
@given(batch=binary_batch(), alpha=alpha_st)
def test_gamma0_binary_is_cross_entropy(batch, alpha):
    z, y, w = batch
    fl = FocalLoss(gamma=0.0, alpha=alpha, hessian="exact")
    grad, hess = fl.grad_hess(z, y, w)
    loss = fl.loss(z, y, w)
    p, s = expit(z), 2 * y - 1
    at = np.ones(z.size) if alpha is None else np.where(y == 1, alpha, 1.0 - alpha)
    scale = at * _w(w, z.size)
    np.testing.assert_allclose(loss, scale * -log_expit(s * z), rtol=1e-13, atol=1e-300)
    # p - y: the naive difference has absolute error eps, hence the absolute tolerance
    np.testing.assert_allclose(grad, scale * (p - y), rtol=1e-13, atol=4e-16 * scale.max())
    # p (1 - p) = expit(z) expit(-z) with no cancellation: a pure relative tolerance
    np.testing.assert_allclose(hess, scale * expit(z) * expit(-z), rtol=1e-13, atol=1e-300)


@HYP
@given(batch=softmax_batch(), data=st.data())
def test_gamma0_softmax_is_cross_entropy(batch, data):
    z, y, w = batch
    n, k = z.shape
    alpha = data.draw(st.none() | st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k))
    fl = FocalLoss(gamma=0.0, alpha=alpha, hessian="exact")
    grad, hess = fl.grad_hess(z, y, w)
    loss = fl.loss(z, y, w)
    p = softmax(z, axis=1)
    onehot = np.eye(k)[y]
    # 1 - p_j as the sum of the other probabilities (no cancellation)
    one_minus_p = np.array([[np.delete(row, j).sum() for j in range(k)] for row in p])
    at = np.ones(n) if alpha is None else np.asarray(alpha)[y]
    scale = at * _w(w, n)
    # -log p_y = log(1 + sum_{k != y} e^(z_k - z_y)), as logaddexp(0, .) so small losses keep
    # their digits (scipy's log_softmax forms log(1 + tiny) and loses them)
    lse_other = np.array([logsumexp(np.delete(row, t)) for row, t in zip(z, y)])
    ce = np.logaddexp(0.0, lse_other - z[np.arange(n), y])
    np.testing.assert_allclose(loss, scale * ce, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(grad, scale[:, None] * (p - onehot), rtol=1e-12, atol=4e-16 * max(scale.max(), 1e-300))
    np.testing.assert_allclose(hess, scale[:, None] * p * one_minus_p, rtol=1e-12, atol=1e-300)


# ------------------------------------------------------------------------ K = 2 softmax = binary
@HYP
@given(batch=softmax_batch(k_min=2, k_max=2), gamma=gamma_st, alpha=alpha_st, mode=mode_st)
def test_softmax_k2_equals_binary_on_margin_difference(batch, gamma, alpha, mode):
    z, y, w = batch
    d = z[:, 1] - z[:, 0]
    soft = FocalLoss(gamma, None if alpha is None else [1.0 - alpha, alpha], mode)
    binary = FocalLoss(gamma, alpha, mode)
    g2, h2 = soft.grad_hess(z, y, w)
    g1, h1 = binary.grad_hess(d, y, w)
    tol = dict(rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(soft.loss(z, y, w), binary.loss(d, y, w), **tol)
    np.testing.assert_allclose(g2[:, 1], g1, **tol)
    np.testing.assert_allclose(g2[:, 0], -g1, **tol)
    np.testing.assert_allclose(h2[:, 1], h1, **tol)
    np.testing.assert_allclose(h2[:, 0], h1, **tol)


# ------------------------------------------------------------------------ sample weights
@HYP
@given(
    batch=binary_batch(weights=False) | softmax_batch(weights=False),
    gamma=gamma_st,
    mode=mode_st,
    data=st.data(),
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_weights_multiply_loss_grad_hess(batch, gamma, mode, data, dtype):
    z, y, _ = batch
    z = z.astype(dtype)
    n = z.shape[0]
    w = np.array(data.draw(st.lists(st.floats(0.0, 1e3) | st.just(0.0), min_size=n, max_size=n)))
    k = 2 if z.ndim == 1 else z.shape[1]
    alpha = data.draw(st.none() | st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k))
    fl = FocalLoss(gamma, alpha, mode)
    g, h = fl.grad_hess(z, y)
    gw, hw = fl.grad_hess(z, y, w)
    l, lw = fl.loss(z, y), fl.loss(z, y, w)
    ww = w if z.ndim == 1 else w[:, None]
    # float32: the reference w * round32(x) is rounded twice, ours round32(w * x) once, so allow
    # 3 eps32 relative (2.5 ulps) and, for subnormal results, 2 w subnormal steps absolute.
    # float64: the kernels multiply w in at a different point of the product than the reference,
    # which is the same up to rounding, except in the subnormal range, where one step of 5e-324
    # is a large relative error (hypothesis found 1.1e-310 off by one step): 2 w steps absolute.
    tol = dict(rtol=1e-14, atol=2 * w.max() * float(np.finfo(np.float64).smallest_subnormal))
    if dtype == np.float32:
        tol = dict(rtol=3e-7, atol=2 * w.max() * float(np.finfo(np.float32).smallest_subnormal))
    np.testing.assert_allclose(lw, (w * l.astype(np.float64)).astype(dtype), **tol)
    np.testing.assert_allclose(gw, (ww * g.astype(np.float64)).astype(dtype), **tol)
    np.testing.assert_allclose(hw, (ww * h.astype(np.float64)).astype(dtype), **tol)
    assert np.all(gw[w == 0] == 0) and np.all(hw[w == 0] == 0)


def test_weighted_subnormal_gradient_is_within_a_step():
    """The case hypothesis found: a float64 gradient of 1.1e-310 (subnormal), weighted by 2, one
    subnormal step (5e-324) away from 2 x the unweighted gradient; the sign and size are right."""
    z = np.zeros((12, 11))
    z[11, 9], z[11, 10] = 28.0, -685.0
    y = np.array([0] * 11 + [6])
    w = np.array([0.0] * 11 + [2.0])
    fl = FocalLoss(0.0, [0, 0, 0, 0, 0, 0, 0.25, 0, 0, 0, 0], "exact")
    g, _ = fl.grad_hess(z, y)
    gw, _ = fl.grad_hess(z, y, w)
    tiny = float(np.finfo(np.float64).smallest_subnormal)
    assert 0 < gw[11, 10] < 1e-300
    assert abs(gw[11, 10] - 2.0 * g[11, 10]) <= 2 * tiny
    np.testing.assert_array_equal(gw[:11], 0.0)


def test_integer_and_bool_weights_are_used():
    z = np.array([0.3, -1.0, 2.0])
    y = np.array([1, 0, 1])
    fl = FocalLoss(2.0, 0.25, "exact")
    g, h = fl.grad_hess(z, y)
    for w in ([2, 0, 3], np.array([True, False, True])):
        gw, hw = fl.grad_hess(z, y, w)
        np.testing.assert_array_equal(gw, np.asarray(w, dtype=float) * g)
        np.testing.assert_array_equal(hw, np.asarray(w, dtype=float) * h)


# ------------------------------------------------------------------------ shift invariance
@HYP
@given(
    batch=softmax_batch(k_max=8, weights=False),
    shift=st.integers(-10_000, 10_000),
    gamma=gamma_st,
    mode=mode_st,
)
def test_softmax_is_shift_invariant(batch, shift, gamma, mode):
    z, y, _ = batch
    z = np.round(z * 256.0) / 256.0  # multiples of 2^-8: z + shift is exact in float64
    fl = FocalLoss(gamma, None, mode)
    g0, h0 = fl.grad_hess(z, y)
    g1, h1 = fl.grad_hess(z + shift, y)
    tol = dict(rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(fl.loss(z + shift, y), fl.loss(z, y), **tol)
    np.testing.assert_allclose(g1, g0, **tol)
    np.testing.assert_allclose(h1, h0, **tol)


@HYP
@given(batch=softmax_batch(k_max=8, weights=False), shift=st.floats(-1e4, 1e4), gamma=gamma_st)
def test_softmax_shift_by_any_float_changes_only_rounding(batch, shift, gamma):
    """A shift that rounds the logits moves each logit difference by at most eps * 2e4 (absolute);
    the derivatives move by that times the next derivative, relatively at most (gamma + 2) times."""
    z, y, _ = batch
    fl = FocalLoss(gamma, None, "exact")
    zs = z + shift
    g0, h0 = fl.grad_hess(z, y)
    g1, h1 = fl.grad_hess(zs, y)
    delta = 4 * np.finfo(float).eps * (np.abs(z).max() + abs(shift) + 1.0)
    rtol = 4 * (gamma + 2.0) ** 2 * delta
    np.testing.assert_allclose(g1, g0, rtol=rtol, atol=rtol * np.abs(g0).max())
    np.testing.assert_allclose(h1, h0, rtol=rtol, atol=rtol * (np.abs(h0).max() + np.abs(g0).max()))


# ------------------------------------------------------------------------ finite everywhere
def _assert_all_finite(fl, z, y, w=None):
    g, h = fl.grad_hess(z, y, w)
    l = fl.loss(z, y, w)
    assert g.dtype == h.dtype == l.dtype == z.dtype
    for name, a in (("loss", l), ("grad", g), ("hess", h)):
        assert np.all(np.isfinite(a)), f"{name} not finite for {fl} at {z[~np.isfinite(a)] if a.ndim == 1 else z}"


@HYP
@given(
    batch=binary_batch(lo=-1e4, hi=1e4) | softmax_batch(lo=-1e4, hi=1e4),
    gamma=gamma_st,
    alpha=alpha_st,
    mode=mode_st,
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_no_nan_or_inf_for_margins_up_to_1e4(batch, gamma, alpha, mode, dtype):
    z, y, w = batch
    if z.ndim == 2 and alpha is not None:
        alpha = [alpha] * z.shape[1]
    _assert_all_finite(FocalLoss(gamma, alpha, mode), z.astype(dtype), y, w)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gamma", [0.0, 1e-3, 0.5, 1.0, 1.5, 2.0, 5.0, 20.0])
def test_no_nan_on_extreme_grid(dtype, gamma):
    big = float(np.finfo(dtype).max)
    zb = np.array([-1e4, -745.2, -709.0, -103.0, -88.8, -36.8, -1e-30, 0.0, 1e-30, 36.8, 88.8, 103.0, 709.0, 745.2, 1e4])
    zb = np.concatenate([zb, [-big, big, -big / 4, big / 4]]).astype(dtype)
    shifted = np.array(
        [[1e4, 0.0, -1e4], [1e4, 1e4 - 1, 1e4 - 800], [-1e4, -1e4, -1e4], [-1e4, 1e4, 0.0], [800.0, 0.0, 0.0]]
    )
    # float32 margins: the whole float32 range; float64 margins: up to 1e307 (differences must stay finite)
    extreme = np.array([[big / 2, -big / 2, 0.0], [-big / 2, big / 2, 1.0]]) if dtype == np.float32 else np.array(
        [[1e307, -1e307, 0.0], [-1e307, 1e307, 1.0]]
    )
    zs = np.vstack([shifted, extreme]).astype(dtype)
    for mode in MODES:
        for alpha in (None, 0.0, 0.3, 1.0):
            for y in (0, 1):
                _assert_all_finite(FocalLoss(gamma, alpha, mode), zb, np.full(zb.size, y))
            a3 = None if alpha is None else [alpha, 1.0 - alpha, 0.5]
            for y in (0, 1, 2):
                _assert_all_finite(FocalLoss(gamma, a3, mode), zs, np.full(zs.shape[0], y))


# ------------------------------------------------------------------------ Hessian modes
def _alpha_t(alpha, y, k):
    if alpha is None:
        return np.ones(y.size)
    return np.asarray(alpha if k > 2 or np.ndim(alpha) else [1.0 - alpha, alpha], dtype=float)[y]


@HYP
@given(
    batch=binary_batch(lo=-60.0, hi=60.0) | softmax_batch(k_max=8, lo=-60.0, hi=60.0),
    gamma=gamma_st,
    data=st.data(),
)
def test_hessian_modes(batch, gamma, data):
    z, y, w = batch
    n = z.shape[0]
    binary = z.ndim == 1
    k = 2 if binary else z.shape[1]
    alpha = data.draw(st.none() | (st.floats(0.0, 1.0) if binary else st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k)))
    out = {m: FocalLoss(gamma, alpha, m).grad_hess(z, y, w) for m in MODES}
    g, exact = out["exact"]
    for m in MODES:  # the gradient never depends on the mode
        np.testing.assert_array_equal(out[m][0], g)
    np.testing.assert_array_equal(out["abs"][1], np.abs(exact))
    assert np.all(out["bohning"][1] >= exact)

    # clip, unweighted: max(exact, 1e-16)
    _, exact1 = FocalLoss(gamma, alpha, "exact").grad_hess(z, y)
    _, clip1 = FocalLoss(gamma, alpha, "clip").grad_hess(z, y)
    np.testing.assert_array_equal(clip1, np.maximum(exact1, 1e-16))

    # The Boehning floor, independently: F = w alpha_t (1 - p_t)^gamma B with B = 1/4 (binary) or
    # (1 - 1/K)/2 (softmax), p_t the probability of the true class (scipy). Binary: max(exact, F).
    # Softmax: the floor is on l''(u), the curvature along u = z_y - logsumexp_{k != y} z_k, and
    # enters class j through the chain rule (docs/math.md, section 4): the label's column is
    # max(l'', F); class j's is exact_j + pi_j^2 (max(l'', F) - l''), pi_j = p_j / (1 - p_t).
    a_t = _alpha_t(alpha, y, k) * _w(w, n)
    rows = np.arange(n)
    if binary:
        floor = a_t * expit(-(2 * y - 1) * z) ** gamma * 0.25
        expected = np.maximum(exact, floor)
        floored = exact >= floor
    else:
        p = softmax(z, axis=1)
        one_minus_pt = np.array([np.delete(row, t).sum() for row, t in zip(p, y)])
        floor = a_t * one_minus_pt**gamma * (1.0 - 1.0 / k) / 2.0
        d2 = exact[rows, y]  # w l''(u)
        pi = p / one_minus_pt[:, None]
        expected = exact + pi**2 * (np.maximum(d2, floor) - d2)[:, None]
        expected[rows, y] = np.maximum(d2, floor)
        floored = np.repeat((d2 >= floor)[:, None], k, axis=1)
    np.testing.assert_allclose(out["bohning"][1], expected, rtol=1e-11, atol=1e-300)

    # where the exact Hessian is large and positive (l'' above every floor), all modes agree with it
    ceiling = 0.25 if binary else 0.5  # B never exceeds it, nor does (1 - p_t)^gamma exceed 1
    big_t = exact[rows] >= a_t * ceiling if binary else exact[rows, y] >= a_t * ceiling
    big = (big_t if binary else np.repeat(big_t[:, None], k, axis=1)) & floored & (exact1 > 1e-16) & (exact > 0)
    for m in MODES:
        np.testing.assert_array_equal(out[m][1][big], exact[big])


def test_clip_floor_and_negative_exact_hessian():
    """Unweighted: clip >= 1e-16 everywhere; the exact Hessian is negative where theory says
    (binary, y = 1, gamma = 2, margin below about -2.8), and every safeguard is positive there."""
    z = np.linspace(-30.0, 30.0, 601)
    y = np.ones_like(z, dtype=np.int64)
    _, exact = FocalLoss(2.0, None, "exact").grad_hess(z, y)
    assert np.any(exact < 0) and np.all(exact[z < -3.0] < 0) and np.all(exact[(z > -2.7) & (z < 30)] > 0)
    for mode in ("bohning", "abs", "clip"):
        _, h = FocalLoss(2.0, None, mode).grad_hess(z, y)
        assert np.all(h > 0), mode
    _, clip = FocalLoss(2.0, None, "clip").grad_hess(z, y)
    assert clip.min() >= 1e-16


# ------------------------------------------------------------------------ alpha = "balanced"
labels_st = st.lists(st.integers(0, 5), min_size=2, max_size=60).filter(lambda v: len(set(v)) >= 2)


@HYP
@given(labels=labels_st, gamma=gamma_st, data=st.data())
def test_balanced_alpha_is_normalised_inverse_frequency(labels, gamma, data):
    y = np.array(labels)
    k = int(y.max()) + 1
    counts = np.bincount(y, minlength=k).astype(float)
    present = counts > 0
    inv = np.where(present, 1.0 / np.where(present, counts, 1.0), 0.0)
    inv[~present] = inv[present].max()  # documented: an absent class gets the rarest present weight
    expected = inv / inv.sum()

    fl = FocalLoss(gamma, "balanced", "exact")
    np.testing.assert_allclose(fl.class_alpha(k, y), expected, rtol=1e-14)
    assert abs(fl.class_alpha(k, y).sum() - 1.0) < 1e-14

    resolved = fl.resolve_alpha(y)
    assert resolved is not fl and fl.alpha == "balanced"  # the original is untouched
    assert resolved.gamma == fl.gamma and resolved.hessian == fl.hessian
    np.testing.assert_allclose(resolved.class_alpha(k), expected, rtol=1e-14)

    # "balanced" at call time uses the labels of the call; the resolved copy matches it on full data
    z = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).normal(scale=5.0, size=(y.size, k))
    if k == 2:
        z = z[:, 1] - z[:, 0]
    g_bal, h_bal = fl.grad_hess(z, y)
    g_res, h_res = resolved.grad_hess(z, y)
    explicit = FocalLoss(gamma, expected.tolist(), "exact").grad_hess(z, y)
    np.testing.assert_allclose(g_bal, g_res, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(h_bal, h_res, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(g_bal, explicit[0], rtol=1e-14, atol=1e-300)


def test_balanced_binary_convention_and_resolve_on_subsets():
    y = np.array([0] * 90 + [1] * 10)
    fl = FocalLoss(2.0, "balanced")
    # binary: alpha of class 1 is n0 / n (Lin et al.'s convention), class 0 gets n1 / n
    np.testing.assert_allclose(fl.class_alpha(2, y), [0.1, 0.9])
    resolved = fl.resolve_alpha(y)
    np.testing.assert_allclose(resolved.class_alpha(2), [0.1, 0.9])
    # a resolved loss keeps the full-data weights on a subset; "balanced" would re-estimate them
    sub = y[80:]
    z = np.zeros(sub.size)
    g_res, _ = resolved.grad_hess(z, sub)
    g_sub, _ = fl.grad_hess(z, sub)
    assert not np.allclose(g_res, g_sub)
    np.testing.assert_allclose(g_res, FocalLoss(2.0, [0.1, 0.9]).grad_hess(z, sub)[0])
    # other alphas resolve to themselves
    for alpha in (None, 0.3, [0.2, 0.8]):
        same = FocalLoss(2.0, alpha)
        assert same.resolve_alpha(y) is same
    # n_classes given explicitly: an absent class gets the rarest present weight
    np.testing.assert_allclose(fl.resolve_alpha(y, n_classes=3).class_alpha(3), np.array([1 / 90, 1 / 10, 1 / 10]) / (1 / 90 + 2 / 10))
