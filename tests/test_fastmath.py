"""Accuracy of the vectorisable float32 math (boost_focal._fastmath) and of the fast kernels.

References are float64 (NumPy's exp/log1p, and the float64 reference kernels of
boost_focal._cpu). Errors are in float32 ulps of the reference. Each bound sits a little above
the maximum measured on these grids (noted next to it), so a degraded approximation fails: a
polynomial term dropped, a correction term (TwoSum/TwoProd low parts, the float64 gamma
remainder, the 1 + e rounding fix) lost, or a naive log(1 + e).
"""

import math

import numpy as np
import pytest
from numba import njit

from boost_focal import FocalLoss, _cpu
from boost_focal import _fastmath as fm

F32_MIN_NORMAL = float(np.finfo(np.float32).tiny)


# --------------------------------------------------------------------------- helpers
def ulp_errors(x32, ref, scale=None):
    """|x32 - ref| in float32 ulps of |ref| (or of max(|ref|, scale)), normal range only."""
    ref = np.asarray(ref, dtype=np.float64)
    mag = np.abs(ref) if scale is None else np.maximum(np.abs(ref), scale)
    keep = mag >= 1e-30  # below, float32 intermediates go subnormal: checked in absolute terms
    spacing = np.spacing(mag[keep].astype(np.float32)).astype(np.float64)
    return np.abs(np.asarray(x32, dtype=np.float64)[keep] - ref[keep]) / spacing


def max_ulps(x32, ref, scale=None):
    return float(np.max(ulp_errors(x32, ref, scale), initial=0.0))


@njit(error_model="numpy")
def _map_exp(x, out):
    for i in range(x.shape[0]):
        out[i] = fm.exp_f32(x[i])


@njit(error_model="numpy")
def _map_exp2(hi, lo, out):
    for i in range(hi.shape[0]):
        out[i] = fm.exp2_f32(hi[i], lo[i])


@njit(error_model="numpy")
def _map_log1p(x, out):
    for i in range(x.shape[0]):
        out[i] = fm.log1p_unit_f32(x[i])


@njit(error_model="numpy")
def _map_exp_diff(a, b, out):
    for i in range(a.shape[0]):
        out[i] = fm.exp_diff_f32(a[i], b[i], fm.ZERO)


@njit(error_model="numpy")
def _map_two_sum_prod(a, b, s, s_err, p, p_err):
    for i in range(a.shape[0]):
        s[i], s_err[i] = fm.two_sum_f32(a[i], b[i])
        p[i], p_err[i] = fm.two_prod_f32(a[i], b[i])


@njit(error_model="numpy")
def _map_split(x, hi, lo):
    for i in range(x.shape[0]):
        hi[i], lo[i] = fm.split_f32(x[i])


RNG = np.random.default_rng(20261128)


# --------------------------------------------------------------------------- primitives
def test_exp_f32_within_one_and_a_half_ulps():
    x = np.concatenate([
        RNG.uniform(-103.0, 88.7, 400_000), RNG.uniform(-1.0, 1.0, 100_000),
        [0.0, -0.0, 1e-30, -1e-30, 88.7, -87.3, -87.4, -100.0, -103.9],
    ]).astype(np.float32)
    out = np.empty_like(x)
    _map_exp(x, out)
    ref = np.exp(x.astype(np.float64))
    normal = ref >= F32_MIN_NORMAL
    assert max_ulps(out[normal], ref[normal]) <= 1.5  # measured 1.11
    # gradual underflow: subnormal results within one subnormal step
    assert np.max(np.abs(out[~normal] - ref[~normal])) <= 2.0**-149
    assert out[x == 0].tolist() == [1.0, 1.0]


def test_exp_f32_clamps_instead_of_overflowing():
    x = np.array([-1e30, -200.0, -104.5, 89.0, 1e30, -np.inf], dtype=np.float32)
    out = np.empty_like(x)
    _map_exp(x, out)
    assert np.all(np.isfinite(out))
    assert np.all(out[:3] <= 2.0**-149) and out[5] <= 2.0**-149
    assert out[3] == out[4] and out[3] > 3e38  # e^88.7, the largest value produced


def test_exp2_f32_uses_the_low_part():
    hi = RNG.uniform(-100.0, 0.0, 200_000).astype(np.float32)
    spacing = np.spacing(np.abs(hi)).astype(np.float64)
    lo = (RNG.uniform(-0.5, 0.5, hi.size) * spacing).astype(np.float32)
    out = np.empty_like(hi)
    _map_exp2(hi, lo, out)
    ref = np.exp(hi.astype(np.float64) + lo.astype(np.float64))
    assert max_ulps(out, ref) <= 1.5  # measured 1.1
    # the same call without the low part would be off by up to |hi| * 2^-24 relative: this grid
    # is sensitive enough to notice (so the bound above is a real check of the low part)
    _map_exp2(hi, np.zeros_like(lo), out)
    assert max_ulps(out, ref) > 10


def test_log1p_unit_f32_relative_accuracy_down_to_tiny_arguments():
    e = np.concatenate([
        RNG.uniform(0.0, 1.0, 300_000), 10.0 ** RNG.uniform(-38, 0, 200_000), [1.0, 0.5, 1e-8, 6e-8, 1e-30],
    ]).astype(np.float32)
    out = np.empty_like(e)
    _map_log1p(e, out)
    assert max_ulps(out, np.log1p(e.astype(np.float64))) <= 1.5  # measured 1.11
    zero = np.zeros(1, np.float32)
    _map_log1p(zero, out[:1])
    assert out[0] == 0.0


def test_exp_diff_f32_is_exact_in_the_difference():
    a = RNG.normal(0.0, 20.0, 200_000).astype(np.float32)
    b = (a + np.abs(RNG.normal(0.0, 20.0, a.size))).astype(np.float32)  # a <= b
    out = np.empty_like(a)
    _map_exp_diff(a, b, out)
    ref = np.exp(a.astype(np.float64) - b.astype(np.float64))
    assert max_ulps(out, ref) <= 1.5  # measured 1.1; rounding a - b first gives ~25 ulps here


def test_two_sum_and_two_prod_are_error_free():
    a = (RNG.normal(size=100_000) * 10.0 ** RNG.uniform(-10, 10, 100_000)).astype(np.float32)
    b = (RNG.normal(size=100_000) * 10.0 ** RNG.uniform(-10, 10, 100_000)).astype(np.float32)
    s, s_err, p, p_err = (np.empty_like(a) for _ in range(4))
    _map_two_sum_prod(a, b, s, s_err, p, p_err)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    assert np.array_equal(s.astype(np.float64) + s_err, a64 + b64)  # exact in float64
    prod = a64 * b64  # exact: 24 + 24 bits fit in 53
    normal = np.abs(prod) > 1e-30  # away from subnormal products, whose low part underflows
    assert np.array_equal((p.astype(np.float64) + p_err)[normal], prod[normal])


def test_split_f32_of_float64():
    x = RNG.normal(0.0, 50.0, 100_000)
    hi, lo = np.empty(x.size, np.float32), np.empty(x.size, np.float32)
    _map_split(x, hi, lo)
    assert np.array_equal(hi, x.astype(np.float32))
    assert np.max(np.abs(hi.astype(np.float64) + lo - x) / np.abs(x)) < 2.0**-46
    _map_split(np.array([1e300, -1e300]), hi[:2], lo[:2])  # beyond float32: clamped, finite
    assert np.all(np.isfinite(hi[:2])) and np.all(np.isfinite(lo[:2]))


# --------------------------------------------------------------------------- binary kernel
GAMMAS = [0.0, 0.5, 1.0, 1.7, 2.0, 2.5, 3.0, 5.0]
Z_GRID = np.concatenate([np.linspace(-60.0, 60.0, 120_001), RNG.normal(0.0, 4.0, 60_000)]).astype(np.float32)


def terms_scale(u, gamma, a):
    """Sum of |terms| of l''(u) = a r^g ((2g+1) q r + g q log q (r - g q)), float64 (docs/math.md).

    The exact Hessian changes sign, so its float32 error is measured against the size of the
    terms it cancels from, not against its own (possibly tiny) value.
    """
    log_q, log_r = -np.logaddexp(0.0, -u), -np.logaddexp(0.0, u)
    q, r = np.exp(log_q), np.exp(log_r)
    arg = a * np.exp(gamma * log_r)
    return arg * ((2 * gamma + 1) * q * r + gamma * q * np.abs(log_q) * (r + gamma * q))


def exact_hessian_scale(z, y, gamma, alpha):
    """terms_scale of the binary exact Hessian at margins z, labels y, alpha of class 1."""
    return terms_scale(np.where(y > 0.5, z, -z), gamma, np.where(y > 0.5, alpha, 1.0 - alpha))


def _binary_pair(z, y, gamma, hessian, alpha=0.25, w=None, z_ref=None):
    fl = FocalLoss(gamma, alpha=alpha, hessian=hessian)
    a = fl.class_alpha(2)
    w = np.empty(0) if w is None else w
    g32, h32 = fl._grad_hess_checked(z, y, w, a, dtype=np.float32)
    z_ref = z.astype(np.float64) if z_ref is None else z_ref
    g64, h64 = fl._grad_hess_checked(z_ref, y, w, a, dtype=np.float64)
    assert g32.dtype == np.float32 and h32.dtype == np.float32
    return g32, h32, g64, h64


def gamma_allowance(gamma):
    """Extra ulps for large gamma: r^gamma = e^(gamma log r) scales the error of log r by gamma."""
    return 0.7 * max(gamma - 3.0, 0.0)


@pytest.mark.parametrize("gamma", GAMMAS)
def test_binary_float32_kernel_matches_float64_reference(gamma):
    extra = gamma_allowance(gamma)
    for label in (0.0, 1.0):
        y = np.full(Z_GRID.shape, label, np.float32)
        g32, h32, g64, h64 = _binary_pair(Z_GRID, y, gamma, "bohning")
        assert max_ulps(g32, g64) <= 6.0 + extra  # measured <= 5.4 (gamma <= 3), 7.3 (gamma = 5)
        assert max_ulps(h32, h64) <= 7.5 + extra  # measured <= 6.9 (gamma <= 3), 8.3 (gamma = 5)
        g32, h32, g64, h64 = _binary_pair(Z_GRID, y, gamma, "exact")
        scale = exact_hessian_scale(Z_GRID.astype(np.float64), y, gamma, 0.25)
        assert max_ulps(h32, h64, scale) <= 7.0 + extra  # measured <= 6.2 (gamma <= 3), 7.7 (gamma = 5)
        # where float32 intermediates are subnormal, errors stay at the subnormal scale
        tiny = np.abs(h64) < 1e-30
        assert np.max(np.abs(h32[tiny] - h64[tiny]), initial=0.0) < 1e-35


@pytest.mark.parametrize("hessian", ["abs", "clip"])
def test_binary_float32_kernel_other_hessian_modes(hessian):
    y = (RNG.random(Z_GRID.size) < 0.3).astype(np.float32)
    g32, h32, g64, h64 = _binary_pair(Z_GRID, y, 2.5, hessian)
    assert max_ulps(g32, g64) <= 6.0
    scale = exact_hessian_scale(Z_GRID.astype(np.float64), y, 2.5, 0.25)
    assert max_ulps(h32, h64, scale) <= 7.0
    assert np.all(h32 >= 0)


def test_binary_float32_kernel_weights_and_int_labels():
    n = 50_000
    z = RNG.normal(0.0, 5.0, n).astype(np.float32)
    y = (RNG.random(n) < 0.1).astype(np.int64)
    w = RNG.uniform(0.0, 3.0, n)
    g32, h32, g64, h64 = _binary_pair(z, y, 1.7, "bohning", alpha=0.6, w=w)
    assert max_ulps(g32, g64) <= 7.0
    assert max_ulps(h32, h64) <= 8.5


def test_binary_float64_margins_to_float32_outputs():
    """LightGBM hands float64 margins; their low part must not be lost (it would be ~90 ulps)."""
    z = RNG.normal(0.0, 10.0, 100_000)
    y = (RNG.random(z.size) < 0.5).astype(np.float64)
    g32, h32, g64, h64 = _binary_pair(z, y, 2.0, "bohning", z_ref=z)
    assert max_ulps(g32, g64) <= 6.0  # measured 4.1
    assert max_ulps(h32, h64) <= 7.5  # measured 6.9


def test_gamma_low_part_matters():
    """gamma = 1.7 is not a float32: without its float64 remainder r^gamma is off by ~26 ulps."""
    z = np.linspace(20.0, 50.0, 30_001).astype(np.float32)
    y = np.zeros_like(z)  # u = -z: misclassified rows, r -> 1; and y = 1, r -> e^-z
    for label in (0.0, 1.0):
        y[:] = label
        g32, _, g64, _ = _binary_pair(z, y, 1.7, "bohning")
        assert max_ulps(g32, g64) <= 6.0


def test_binary_extreme_margins_stay_finite_and_right():
    z = np.array([0.0, 1e-30, 30.0, 88.0, 104.0, 200.0, 1e4, 1e30, 3e38], dtype=np.float32)
    z = np.concatenate([z, -z])
    for gamma in (0.5, 2.0, 2.5, 7.0):
        for label in (0.0, 1.0):
            y = np.full(z.shape, label, np.float32)
            for hessian in ("bohning", "exact"):
                g32, h32, g64, h64 = _binary_pair(z, y, gamma, hessian)
                assert np.all(np.isfinite(g32)) and np.all(np.isfinite(h32))
                assert np.allclose(g32, g64, rtol=1e-6, atol=1e-37)
                assert np.allclose(h32, h64, rtol=1e-6, atol=1e-37)


# --------------------------------------------------------------------------- softmax kernel
def softmax_exact_scale(z, y, g64, gamma, alpha):
    """Per entry: terms_scale(u) on the label's column, pi^2 terms_scale(u) + pi (1 - pi) |l'(u)|
    elsewhere (the terms the exact softmax Hessian is made of)."""
    n, k = z.shape
    rows, yi = np.arange(n), y.astype(np.intp)
    others = z.astype(np.float64).copy()
    others[rows, yi] = -np.inf
    m = others.max(axis=1, keepdims=True)
    t = np.exp(others - m)
    s = t.sum(axis=1, keepdims=True)
    pi = t / s
    u = z[rows, yi].astype(np.float64) - m[:, 0] - np.log(s[:, 0])
    diag = terms_scale(u, gamma, alpha[yi])[:, None]
    d1 = np.abs(g64[rows, yi])[:, None]
    scale = pi * pi * diag + pi * (1.0 - pi) * d1
    scale[rows, yi] = diag[:, 0]
    return scale


@pytest.mark.parametrize("k", [2, 3, 10])
@pytest.mark.parametrize("gamma", [0.0, 2.0, 2.5])
def test_softmax_float32_kernel_matches_float64_reference(k, gamma):
    n = 20_000
    for sd in (1.0, 5.0, 20.0):
        z = RNG.normal(0.0, sd, (n, k)).astype(np.float32)
        y = RNG.integers(0, k, n).astype(np.float32)
        alpha = RNG.uniform(0.2, 1.0, k)
        for hessian in ("bohning", "exact"):
            fl = FocalLoss(gamma, alpha=alpha.tolist(), hessian=hessian)
            g32, h32 = fl._grad_hess_checked(z, y, np.empty(0), alpha, dtype=np.float32)
            g64, h64 = fl._grad_hess_checked(z.astype(np.float64), y, np.empty(0), alpha, dtype=np.float64)
            assert max_ulps(g32, g64) <= 7.0  # measured <= 6.3
            if hessian == "bohning":
                assert max_ulps(h32, h64) <= 7.5  # measured <= 6.8
            else:
                scale = softmax_exact_scale(z, y, g64, gamma, alpha)
                assert max_ulps(h32, h64, scale) <= 7.5


def test_softmax_float64_fortran_margins_and_weights():
    """LightGBM's multiclass margins: a float64, Fortran-ordered view; outputs in the same order."""
    n, k = 30_000, 5
    z = np.asfortranarray(RNG.normal(0.0, 6.0, (n, k)))
    y = RNG.integers(0, k, n).astype(np.float32)
    w = RNG.uniform(0.1, 2.0, n)
    fl = FocalLoss(2.5)
    a = fl.class_alpha(k)
    g32, h32 = fl._grad_hess_checked(z, y, w, a, dtype=np.float32)
    g64, h64 = fl._grad_hess_checked(np.ascontiguousarray(z), y, w, a, dtype=np.float64)
    assert g32.flags.f_contiguous  # np.empty_like keeps the caller's order
    assert max_ulps(g32, g64) <= 7.5
    assert max_ulps(h32, h64) <= 8.5


def test_softmax_extreme_rows():
    """Dominant, hopeless and tied rows, huge logits, the top class with pi -> 1."""
    rows = np.array([
        [0.0, 0.0, 0.0],
        [1e4, -1e4, 0.0],
        [-100.0, 0.0, -40.0],  # y = 0: pi_top -> 1, where 1 - pi cancels
        [60.0, 0.0, 0.0],
        [-60.0, 0.0, 0.0],
        [3e38, -3e38, 0.0],
        [1.0, 1.0, -1e30],
    ], dtype=np.float32)
    for y0 in (0, 1, 2):
        y = np.full(rows.shape[0], y0, np.float32)
        for hessian in ("bohning", "exact"):
            fl = FocalLoss(2.0, hessian=hessian)
            a = fl.class_alpha(3)
            g32, h32 = fl._grad_hess_checked(rows, y, np.empty(0), a, dtype=np.float32)
            g64, h64 = fl._grad_hess_checked(rows.astype(np.float64), y, np.empty(0), a, dtype=np.float64)
            assert np.all(np.isfinite(g32)) and np.all(np.isfinite(h32))
            assert np.allclose(g32, g64, rtol=2e-6, atol=1e-37)
            assert np.allclose(h32, h64, rtol=2e-6, atol=1e-37)


def test_fast_path_is_what_float32_callers_get():
    """FocalLoss.grad_hess on float32 margins uses the float32 kernels (and float64 the reference)."""
    z = RNG.normal(0.0, 3.0, 1000).astype(np.float32)
    y = (RNG.random(1000) < 0.5).astype(np.int8)
    fl = FocalLoss(1.7)
    g, h = fl.grad_hess(z, y)
    a = fl.class_alpha(2)
    g_fast, h_fast = fl._grad_hess_checked(z, y, np.empty(0), a, dtype=np.float32)
    assert g.dtype == np.float32 and np.array_equal(g, g_fast) and np.array_equal(h, h_fast)
    g64, _ = fl.grad_hess(z.astype(np.float64), y)
    assert g64.dtype == np.float64
    assert max_ulps(g, g64) <= 6.0


def test_math_constants_are_what_the_comments_say():
    assert float(fm.LN2_HI) + float(fm.LN2_LO) == pytest.approx(math.log(2.0), abs=1e-11)
    assert float(fm.LN2_HI) * 1024 == int(float(fm.LN2_HI) * 1024)  # 10 significant bits
    assert float(fm.MAGIC) == 1.5 * 2**23
