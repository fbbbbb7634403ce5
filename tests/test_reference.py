"""Gradient and Hessian against an independent high-precision reference.

The reference differentiates the focal loss *definition* numerically with mpmath
(``mpmath.diffs``), never our closed forms:

    binary      FL(z) = -alpha_t (1 - p_t)^gamma log p_t,  p = 1 / (1 + exp(-z)),
                p_t = p (y = 1) or 1 - p (y = 0), alpha_t = alpha (y = 1) or 1 - alpha (y = 0)
    multiclass  FL(z) = -alpha_y (1 - p_y)^gamma log p_y,  p = exp(z) / sum(exp(z))

The working precision is 60 decimal digits *plus* the digits the definition itself cancels:
``1 - p`` at margin 700 is ``1 - (1 - 1e-304)``, and the effect of a logit whose probability is
``e^-1400`` on the loss is 1400 / ln 10 digits below the loss. ``mpmath.diffs`` then works at
three times that precision for the second derivative.

Contract (issue 2): with hessian="exact" and float64 input, loss, gradient and Hessian agree with
the reference to relative error 1e-8, or absolute 1e-13 near zero, for |margin| <= 700,
gamma in [0, 20], alpha in [0, 1], K = 2..50. float32 input gives float32 output within a few
float32 ulps of the float64 result at the same (float32) input.
"""

import functools
import math

import mpmath
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boost_focal import FocalLoss

RTOL = 1e-8
ATOL = 1e-13
EXTRA_DIGITS = 60

HYP = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# ---------------------------------------------------------------------------------- reference
# alpha_t multiplies the definition, so the reference differentiates the unweighted loss
# -(1 - p_t)^gamma log p_t once per (margin, label, gamma) and the callers scale by alpha_t and w.


@functools.lru_cache(maxsize=None)
def mp_binary(z, y, gamma):
    """(loss, d/dz, d2/dz2) of -(1 - p_t)^gamma log p_t at the float z, to ~60 significant digits."""
    with mpmath.workdps(EXTRA_DIGITS + int(abs(z) / math.log(10))):
        g = mpmath.mpf(gamma)

        def fl(t):
            p = 1 / (1 + mpmath.exp(-t))
            pt = p if y == 1 else 1 - p
            return -((1 - pt) ** g) * mpmath.log(pt)

        return tuple(float(v) for v in mpmath.diffs(fl, mpmath.mpf(z), 2))


@functools.lru_cache(maxsize=None)
def mp_softmax(z, y, gamma):
    """(loss, grad (K,), diag Hessian (K,)) of -(1 - p_y)^gamma log p_y at the float tuple z.

    Each partial derivative differentiates FL along one coordinate: with e_k = exp(z_k) the
    other coordinates are constants, so FL(t) = -(1 - p_y)^gamma log p_y with
    p_y = e^t / (e^t + sum_{k != y} e_k) (j = y) or e_y / (e^t + sum_{k != j} e_k) (j != y).
    """
    k_count = len(z)
    digits = EXTRA_DIGITS + int((max(z) - min(z)) / math.log(10) + math.log10(k_count))
    with mpmath.workdps(digits):
        g = mpmath.mpf(gamma)
        e = [mpmath.exp(mpmath.mpf(v)) for v in z]
        loss, grad, hess = None, [], []
        for j in range(k_count):
            rest = mpmath.fsum(e[k] for k in range(k_count) if k != j)

            def fl(t, j=j, rest=rest):
                et = mpmath.exp(t)
                py = et / (et + rest) if j == y else e[y] / (et + rest)
                return -((1 - py) ** g) * mpmath.log(py)

            d0, d1, d2 = mpmath.diffs(fl, mpmath.mpf(z[j]), 2)
            loss = float(d0)
            grad.append(float(d1))
            hess.append(float(d2))
        return loss, np.array(grad), np.array(hess)


def binary_reference(z, y, gamma, alpha, w=None):
    """Reference (loss, grad, hess) arrays: alpha_t * w * mp_binary."""
    y = np.asarray(y).astype(int)
    ref = np.array([mp_binary(float(zi), int(yi), float(gamma)) for zi, yi in zip(z, y)])
    scale = np.ones(len(y)) if alpha is None else np.where(y == 1, float(alpha), 1.0 - float(alpha))
    if w is not None:
        scale = scale * np.asarray(w, dtype=np.float64)
    ref = ref * scale[:, None]
    return ref[:, 0], ref[:, 1], ref[:, 2]


def softmax_reference(z, y, gamma, alpha, w=None):
    """Reference (loss (n,), grad (n, K), hess (n, K)): alpha_y * w * mp_softmax."""
    y = np.asarray(y).astype(int)
    rows = [mp_softmax(tuple(map(float, zi)), int(yi), float(gamma)) for zi, yi in zip(z, y)]
    scale = np.ones(len(y)) if alpha is None else np.asarray(alpha, dtype=np.float64)[y]
    if w is not None:
        scale = scale * np.asarray(w, dtype=np.float64)
    loss = np.array([r[0] for r in rows]) * scale
    grad = np.array([r[1] for r in rows]) * scale[:, None]
    hess = np.array([r[2] for r in rows]) * scale[:, None]
    return loss, grad, hess


def assert_matches(ours, ref, what, rtol=RTOL, atol=ATOL, context=None):
    """|ours - ref| <= rtol |ref| + atol elementwise, reporting the worst offender."""
    ours = np.asarray(ours, dtype=np.float64)
    assert ours.shape == ref.shape, (what, ours.shape, ref.shape)
    assert np.all(np.isfinite(ours)), f"{what}: non-finite values {ours[~np.isfinite(ours)]}"
    err = np.abs(ours - ref)
    bad = err > rtol * np.abs(ref) + atol
    if bad.any():
        i = np.unravel_index(np.argmax(np.where(bad, err / (np.abs(ref) + atol), 0)), ref.shape)
        raise AssertionError(
            f"{what}: {bad.sum()} of {bad.size} values off; worst at {i}: ours={ours[i]!r} "
            f"reference={ref[i]!r} (rel {err[i] / max(abs(ref[i]), 1e-300):.3g}); context={context}"
        )


# ---------------------------------------------------------------------------------- the grid
GRID_Z = np.array(
    [-700.0, -300.0, -36.8, -10.0, -2.8, -1.0, -0.3, -1e-6, 0.0, 1e-6, 0.3, 1.0, 2.8, 10.0, 36.8, 37.5, 300.0, 700.0]
)
GAMMAS = [0.0, 0.25, 1.0, 2.0, 3.7, 20.0]


def _check_binary(z, y, gamma, alpha, w=None):
    fl = FocalLoss(gamma=gamma, alpha=alpha, hessian="exact")
    loss_ref, grad_ref, hess_ref = binary_reference(z, y, gamma, alpha, w)
    grad, hess = fl.grad_hess(z, y, sample_weight=w)
    loss = fl.loss(z, y, sample_weight=w)
    ctx = dict(gamma=gamma, alpha=alpha)
    assert grad.dtype == hess.dtype == loss.dtype == np.float64
    assert_matches(loss, loss_ref, "binary loss", context=ctx)
    assert_matches(grad, grad_ref, "binary gradient", context=ctx)
    assert_matches(hess, hess_ref, "binary Hessian", context=ctx)


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("alpha", [None, 0.25])
def test_binary_grid_matches_mpmath(gamma, alpha):
    z = np.concatenate([GRID_Z, GRID_Z])
    y = np.repeat([0, 1], GRID_Z.size)
    _check_binary(z, y, gamma, alpha)


@pytest.mark.parametrize("alpha", [0.0, 1.0, 0.9])
def test_binary_alpha_edges_match_mpmath(alpha):
    z = np.concatenate([GRID_Z, GRID_Z])
    y = np.repeat([0, 1], GRID_Z.size)
    _check_binary(z, y, 2.0, alpha)


def test_binary_weighted_matches_mpmath():
    rng = np.random.default_rng(7)
    z = np.concatenate([GRID_Z, GRID_Z])
    y = np.repeat([0, 1], GRID_Z.size)
    w = rng.uniform(0.0, 5.0, size=z.size)
    w[3] = 0.0
    _check_binary(z, y, 2.0, 0.25, w)
    _check_binary(z, y, 0.5, None, w)


finite_margin = st.floats(-700.0, 700.0, allow_nan=False) | st.sampled_from([0.0, 36.8, -36.8, 700.0, -700.0])
gamma_st = st.floats(0.0, 20.0) | st.sampled_from([0.0, 0.5, 1.0, 2.0, 20.0])
alpha_st = st.none() | st.floats(0.0, 1.0)


@HYP
@given(
    z=st.lists(finite_margin, min_size=1, max_size=4),
    data=st.data(),
    gamma=gamma_st,
    alpha=alpha_st,
)
def test_binary_random_matches_mpmath(z, data, gamma, alpha):
    y = data.draw(st.lists(st.integers(0, 1), min_size=len(z), max_size=len(z)))
    w = data.draw(st.none() | st.lists(st.floats(0.0, 10.0), min_size=len(z), max_size=len(z)))
    _check_binary(np.array(z), np.array(y), gamma, alpha, w)


# ---------------------------------------------------------------------------------- softmax
def _check_softmax(z, y, gamma, alpha, w=None):
    fl = FocalLoss(gamma=gamma, alpha=alpha, hessian="exact")
    loss_ref, grad_ref, hess_ref = softmax_reference(z, y, gamma, alpha, w)
    grad, hess = fl.grad_hess(z, y, sample_weight=w)
    loss = fl.loss(z, y, sample_weight=w)
    ctx = dict(gamma=gamma, alpha=alpha, K=z.shape[1])
    assert grad.dtype == hess.dtype == loss.dtype == np.float64
    assert_matches(loss, loss_ref, "softmax loss", context=ctx)
    assert_matches(grad, grad_ref, "softmax gradient", context=ctx)
    assert_matches(hess, hess_ref, "softmax Hessian", context=ctx)


def _softmax_rows(k_count, seed):
    """Fixed rows: ordinary, spread out, true class far ahead/behind, all near +-700."""
    rng = np.random.default_rng(seed)
    # the reference's cost grows with K times the spread (digits): full range only for small K
    spread = 700.0 if k_count <= 3 else 300.0 if k_count <= 7 else 100.0 if k_count <= 20 else 40.0
    rows = [
        rng.normal(size=k_count),
        rng.normal(size=k_count) * 5.0,
        rng.uniform(-spread, spread, size=k_count),
        700.0 - rng.uniform(0.0, 20.0, size=k_count),  # large logits, moderate differences
        -700.0 + rng.uniform(0.0, 20.0, size=k_count),
        np.zeros(k_count),
    ]
    z = np.array(rows)
    y = rng.integers(0, k_count, size=z.shape[0])
    z[2, y[2]] = spread  # true class far ahead: p_y rounds to 1
    z[2, (y[2] + 1) % k_count] = -spread
    # a row where the true class is far behind
    extra = rng.normal(size=k_count)
    extra_y = int(rng.integers(k_count))
    extra[extra_y] = -spread
    return np.vstack([z, extra]), np.append(y, extra_y)


@pytest.mark.parametrize("k_count", [2, 3, 7, 20, 50])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 20.0])
def test_softmax_grid_matches_mpmath(k_count, gamma):
    z, y = _softmax_rows(k_count, seed=k_count)
    alpha = np.random.default_rng(k_count + 100).uniform(0.0, 1.0, size=k_count)
    _check_softmax(z, y, gamma, None)
    _check_softmax(z, y, gamma, alpha)


def test_softmax_weighted_matches_mpmath():
    z, y = _softmax_rows(5, seed=11)
    w = np.linspace(0.0, 3.0, z.shape[0])
    _check_softmax(z, y, 2.0, [0.1, 0.2, 0.3, 0.25, 1.0], w)


def test_softmax_many_classes_wide_range_matches_mpmath():
    """K = 50 with logits spread over [0, 700] in one row (the slowest reference, ~2 s)."""
    rng = np.random.default_rng(3)
    z = rng.uniform(0.0, 700.0, size=(1, 50))
    z[0, :3] = [0.0, 700.0, 350.0]
    _check_softmax(z, np.array([2]), 2.0, None)


@st.composite
def softmax_case(draw):
    k_count = draw(st.integers(2, 8) | st.sampled_from([20, 50]))
    # the reference's cost grows with K times the spread of the logits: keep their product bounded
    spread = draw(st.floats(0.0, min(700.0, 1000.0 / k_count)))
    center = draw(st.floats(-700.0 + spread, 700.0 - spread))
    n = draw(st.integers(1, 3))
    z = draw(
        st.lists(
            st.lists(st.floats(center - spread, center + spread), min_size=k_count, max_size=k_count),
            min_size=n,
            max_size=n,
        )
    )
    y = draw(st.lists(st.integers(0, k_count - 1), min_size=n, max_size=n))
    alpha = draw(st.none() | st.lists(st.floats(0.0, 1.0), min_size=k_count, max_size=k_count))
    w = draw(st.none() | st.lists(st.floats(0.0, 10.0), min_size=n, max_size=n))
    return np.array(z), np.array(y), alpha, w


@settings(HYP, max_examples=25)
@given(case=softmax_case(), gamma=gamma_st)
def test_softmax_random_matches_mpmath(case, gamma):
    z, y, alpha, w = case
    _check_softmax(z, y, gamma, alpha, w)


# ---------------------------------------------------------------------------------- float32
EPS32 = float(np.finfo(np.float32).eps)
TINY32 = float(np.finfo(np.float32).tiny)


def _ulps32(ours32, ref64):
    """|ours - ref| in float32 ulps of the reference (values below float32's normal range count
    their distance from the reference in units of the smallest normal)."""
    ulp = np.maximum(np.spacing(np.abs(ref64).astype(np.float32)).astype(np.float64), TINY32 * EPS32)
    return np.abs(ours32.astype(np.float64) - ref64) / ulp


def assert_float32_close(fl, z32, y, max_ulps=4.0):
    """float32 output within ``max_ulps`` float32 ulps of the float64 result at the same input.

    Absolute floor for the Hessian near its zero crossings: every Hessian is a sum of terms each
    bounded by (3 gamma + 3) |gradient| (binary: (2g+1) q |l'| and max(1, g) |l'|; softmax adds
    pi (1 - pi) |l'|), so float32 rounding of those terms may leave an absolute error of a few
    eps32 (3 gamma + 3) |grad| even where the Hessian itself is ~0. The floor is
    4 eps32 (3 gamma + 3) |grad64|.
    """
    z64 = z32.astype(np.float64)
    g32, h32 = fl.grad_hess(z32, y)
    l32 = fl.loss(z32, y)
    g64, h64 = fl.grad_hess(z64, y)
    l64 = fl.loss(z64, y)
    assert g32.dtype == h32.dtype == l32.dtype == np.float32
    for name, a, b in (("loss", l32, l64), ("gradient", g32, g64)):
        e = _ulps32(a, b)
        row = z32.reshape(len(z32), -1)[np.unravel_index(e.argmax(), e.shape)[0]]
        assert e.max() <= max_ulps, f"float32 {name} ({fl}): {e.max():.2f} ulps at margin {row}"
    floor = 4.0 * EPS32 * (3.0 * fl.gamma + 3.0) * np.abs(g64)
    err = np.abs(h32.astype(np.float64) - h64)
    ulp = np.maximum(np.spacing(np.abs(h64).astype(np.float32)).astype(np.float64), TINY32 * EPS32)
    bad = err > max_ulps * ulp + floor
    assert not bad.any(), f"float32 Hessian ({fl}): {bad.sum()} values beyond {max_ulps} ulps + floor"
    return float(_ulps32(g32, g64).max()), float((err / ulp).max())


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0, 20.0])
def test_float32_binary_within_few_ulps(gamma):
    rng = np.random.default_rng(int(gamma * 10))
    n = 20000
    z = (rng.normal(size=n) * rng.choice([0.1, 1.0, 10.0, 100.0], size=n)).astype(np.float32)
    y = rng.integers(0, 2, size=n)
    assert_float32_close(FocalLoss(gamma, 0.3, "exact"), z, y)


@pytest.mark.parametrize("gamma", [0.0, 2.0, 20.0])
@pytest.mark.parametrize("k_count", [2, 5, 30])
def test_float32_softmax_within_few_ulps(gamma, k_count):
    rng = np.random.default_rng(k_count)
    n = 2000
    z = (rng.normal(size=(n, k_count)) * rng.choice([0.1, 1.0, 10.0, 100.0], size=(n, 1))).astype(np.float32)
    y = rng.integers(0, k_count, size=n)
    assert_float32_close(FocalLoss(gamma, None, "exact"), z, y)


def test_float32_matches_mpmath_on_grid():
    """The float32 path against the mpmath reference itself (at the float32 inputs)."""
    z32 = GRID_Z.astype(np.float32)
    z32 = np.concatenate([z32, z32])
    y = np.repeat([0, 1], GRID_Z.size)
    for gamma in (0.0, 2.0, 20.0):
        fl = FocalLoss(gamma, 0.25, "exact")
        loss_ref, grad_ref, hess_ref = binary_reference(z32.astype(np.float64), y, gamma, 0.25)
        g32, h32 = fl.grad_hess(z32, y)
        assert g32.dtype == np.float32
        assert _ulps32(g32, grad_ref).max() <= 4
        floor = 4.0 * EPS32 * (3.0 * gamma + 3.0) * np.abs(grad_ref)
        assert np.all(np.abs(h32 - hess_ref) <= 4 * np.spacing(np.abs(hess_ref).astype(np.float32)) + floor + TINY32)


# ---------------------------------------------------------------------------------- peer bugs
def test_regression_hessian_uses_one_minus_p_not_one_minus_y():
    """Peer bug: (1 - y)^gamma in the Hessian, which vanishes for every positive (y = 1) row.

    The true Hessian of a positive row depends on p through (1 - p)^gamma: it must match the
    reference, be clearly non-zero, and change with the margin.
    """
    z = np.array([-3.0, -1.0, 0.0, 0.5, 2.0])
    y = np.ones(5, dtype=np.int64)
    for gamma in (0.5, 2.0, 5.0):
        _, hess = FocalLoss(gamma, None, "exact").grad_hess(z, y)
        _, _, ref = binary_reference(z, y, gamma, None)
        assert_matches(hess, ref, "positive-row Hessian")
        assert np.all(np.abs(hess) > 1e-5)  # (1 - y)^gamma = 0 would give exactly 0
        assert np.unique(np.round(hess, 12)).size == z.size


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 1.5, 2.0, 20.0])
def test_regression_no_nan_once_sigmoid_rounds_to_one(gamma):
    """Peer bug: NaN from 0^(gamma - 1) or 1/p_t once sigmoid(z) == 1.0 (z >= 36.8)."""
    z = np.array([36.0, 36.8, 37.0, 40.0, 100.0, 700.0])
    assert np.all(1.0 / (1.0 + np.exp(-z[1:])) == 1.0)  # the regime the bug lives in
    for y in (0, 1):
        yy = np.full(z.size, y)
        for sign in (1.0, -1.0):
            _check_binary(sign * z, yy, gamma, 0.25)


def test_regression_softmax_no_nan_near_logit_800():
    """Peer bug: softmax without max-subtraction overflows exp(800) to inf and returns NaN."""
    z = np.array([[800.0, 0.0, 0.0], [800.0, 799.0, -5.0], [0.0, 800.0, 810.0], [-800.0, 0.0, 3.0]])
    for gamma in (0.0, 2.0):
        for y in range(3):
            yy = np.full(z.shape[0], y)
            grad, hess = FocalLoss(gamma, None, "exact").grad_hess(z, yy)
            assert np.all(np.isfinite(grad)) and np.all(np.isfinite(hess))
            _check_softmax(z, yy, gamma, None)  # mpmath has no overflow: the exact values


def test_regression_multiclass_gradient_includes_softmax_jacobian():
    """Peer bug: multiclass gradients that ignore the softmax Jacobian (e.g. treat each class
    as an independent sigmoid, or differentiate only through z_y).

    The full gradient must equal the reference in every coordinate, the non-true coordinates
    must be non-zero, and the gradient must sum to zero across classes (shift invariance).
    """
    z = np.array([[0.3, -1.2, 2.0, 0.1], [1.0, 1.0, 1.0, 1.0], [-2.0, 3.0, 0.5, 0.0]])
    y = np.array([0, 2, 3])
    for gamma in (0.5, 2.0):
        grad, _ = FocalLoss(gamma, None, "exact").grad_hess(z, y)
        _, grad_ref, _ = softmax_reference(z, y, gamma, None)
        assert_matches(grad, grad_ref, "multiclass gradient")
        others = np.ones_like(z, dtype=bool)
        others[np.arange(3), y] = False
        assert np.all(np.abs(grad[others]) > 1e-4)
        np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-15)
        # the check has teeth: an independent-sigmoid gradient (sigmoid(z_j) - onehot) is far off
        naive = 1.0 / (1.0 + np.exp(-z)) - np.eye(4)[y]
        assert np.abs(naive - grad_ref).max() > 0.1


# ---------------------------------------------------------------------------------- tiny Hessians
def test_tiny_softmax_hessians_are_relatively_accurate():
    """Where one other class dominates (pi_j -> 1), d2FL/dz_j^2 ~ p_j (1 - p_j) is tiny but has no
    zero crossing nearby: it must be *relatively* accurate, not just within 1e-13.

    Forming 1 - pi_j by subtraction loses all digits there (z = [-100, 0, -40], y = 0 gave
    1 - pi_1 = 0 and a Hessian e^60 times too small). At gamma = 0 the Hessian p (1 - p) is
    positive everywhere, so a pure relative tolerance applies to every coordinate.
    """
    z = np.array(
        [
            [-30.0, 0.0, -25.0],
            [-100.0, 0.0, -36.0],
            [-100.0, 0.0, -40.0],
            [-100.0, 3.0, -60.0, -61.0],
            [-700.0, 0.0, -300.0, -310.0],
        ],
        dtype=object,
    )
    for gamma in (0.0, 2.0):
        for row in z:
            zz = np.array([row], dtype=np.float64)
            y = np.array([0])
            _, grad_ref, hess_ref = softmax_reference(zz, y, gamma, None)
            grad, hess = FocalLoss(gamma, None, "exact").grad_hess(zz, y)
            assert_matches(grad, grad_ref, "gradient", rtol=1e-12, atol=1e-300, context=row)
            assert_matches(hess, hess_ref, "tiny Hessian", rtol=1e-12, atol=1e-300, context=row)
