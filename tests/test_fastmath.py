"""Accuracy of the vectorisable math (boost_focal._fastmath) and of the SIMD float32 kernels.

References: NumPy's libm exp/log1p for the primitives, and the float64 reference kernels of
boost_focal._cpu (libm, float64 outputs) for the kernels; errors of float32 outputs are in
float32 ulps of the reference. Each bound sits a little above the maximum measured on these
grids (noted next to it), well inside tests/test_reference.py's 4 ulps, so that a degraded
approximation fails here first: a polynomial term dropped (exp degree 5 gives 2e-9, 0.04 ulp,
but feeds log1p(e), which r^gamma multiplies by gamma), a float32 intermediate (14 ulps at
gamma = 20), a naive log(1 + e).
"""

import math

import numpy as np
import pytest
from numba import njit

from boost_focal import FocalLoss
from boost_focal import _fastmath as fm

RNG = np.random.default_rng(20261128)
TINY32 = float(np.finfo(np.float32).tiny)


# --------------------------------------------------------------------------- helpers
def ulp_errors(x32, ref, scale=None):
    """|x32 - ref| in float32 ulps of |ref| (or of max(|ref|, scale)).

    Below float32's normal range an ulp is taken as that of the smallest normal, so that
    subnormal results count their absolute error (as in tests/test_reference.py).
    """
    ref = np.asarray(ref, dtype=np.float64)
    mag = np.abs(ref) if scale is None else np.maximum(np.abs(ref), scale)
    spacing = np.maximum(np.spacing(mag.astype(np.float32)).astype(np.float64), TINY32 * 2.0**-23)
    return np.abs(np.asarray(x32, dtype=np.float64) - ref) / spacing


def max_ulps(x32, ref, scale=None):
    return float(np.max(ulp_errors(x32, ref, scale), initial=0.0))


@njit(cache=True, error_model="numpy")
def _map_exp(x, out):
    for i in range(x.shape[0]):
        out[i] = fm.exp_vec(x[i])


@njit(cache=True, error_model="numpy")
def _map_log1p(x, out):
    for i in range(x.shape[0]):
        out[i] = fm.log1p_unit_vec(x[i])


@njit(cache=True, error_model="numpy")
def _map_log1p_any(x, out):
    for i in range(x.shape[0]):
        out[i] = fm.log1p_vec(x[i])


@njit(cache=True, error_model="numpy")
def _map_pow(r, gamma, out_half, out_general):
    # every half-integer kind up to 3 and the general form, at the same gamma
    for i in range(r.shape[0]):
        log_r = np.log(r[i])
        if gamma == 0.5:
            out_half[i] = fm.focal_pow(r[i], log_r, gamma, 1)
        elif gamma == 2.5:
            out_half[i] = fm.focal_pow(r[i], log_r, gamma, 5)
        else:
            out_half[i] = fm.focal_pow(r[i], log_r, gamma, 6)
        out_general[i] = fm.focal_pow(r[i], log_r, gamma, fm.POW_GENERAL)


# --------------------------------------------------------------------------- primitives
def test_exp_vec_relative_error():
    x = np.concatenate([RNG.uniform(-708.0, 700.0, 300_000), RNG.uniform(-1.0, 1.0, 100_000), [0.0, -0.0]])
    out = np.empty_like(x)
    _map_exp(x, out)
    assert np.max(np.abs(out / np.exp(x) - 1.0)) < 1e-10  # measured 5.4e-11
    assert out[-2:].tolist() == [1.0, 1.0]


def test_exp_vec_clamps_instead_of_overflowing():
    x = np.array([-1e300, -1e4, -709.0, 701.0, 1e300, -np.inf])
    out = np.empty_like(x)
    _map_exp(x, out)
    assert np.all(np.isfinite(out))
    assert np.all(out[[0, 1, 2, 5]] <= math.exp(-707.0))  # its square root is still 0 in float32
    assert out[3] == out[4] == pytest.approx(math.exp(700.0), rel=1e-9)


def test_log1p_unit_vec_relative_error_down_to_tiny_arguments():
    e = np.concatenate([RNG.uniform(0.0, 1.0, 300_000), 10.0 ** RNG.uniform(-300, 0, 200_000), [1.0, 1e-17]])
    out = np.empty_like(e)
    _map_log1p(e, out)
    assert np.max(np.abs(out / np.log1p(e) - 1.0)) < 1e-11  # measured 2.8e-12
    _map_log1p(np.zeros(1), out[:1])
    assert out[0] == 0.0


def test_log1p_vec_relative_error_over_the_softmax_range():
    """log(1 + rest) of the softmax kernel (rest in [0, K - 2], any K): below 1 it is
    log1p_unit_vec itself, above it f 2^n with f - 1 in [0, 1); checked up to 1e300 and at the
    powers of two, where n steps."""
    e = np.concatenate([
        RNG.uniform(0.0, 1.0, 100_000), RNG.uniform(1.0, 20.0, 200_000), 10.0 ** RNG.uniform(-300, 300, 200_000),
        2.0 ** np.arange(1, 60) - 1.0, np.nextafter(2.0 ** np.arange(1, 60) - 1.0, 0.0), [1e-17, 0.5, 1.0, 3.0],
    ])
    out = np.empty_like(e)
    _map_log1p_any(e, out)
    assert np.max(np.abs(out / np.log1p(e) - 1.0)) < 1e-11  # measured 2.8e-12
    below = e < 1.0
    ref = np.empty_like(e[below])
    _map_log1p(e[below], ref)
    assert np.array_equal(out[below], ref)  # the same function below 1
    _map_log1p_any(np.zeros(1), out[:1])
    assert out[0] == 0.0


def test_log1p_vec_against_mpmath():
    import mpmath as mp

    e = np.concatenate([np.linspace(0.0, 12.0, 1201)[1:], 10.0 ** np.linspace(-20, 20, 161)])
    out = np.empty_like(e)
    _map_log1p_any(e, out)
    worst = max(abs(float(mp.mpf(float(o)) / mp.log1p(mp.mpf(float(x)))) - 1) for x, o in zip(e, out))
    assert worst < 1e-11


@pytest.mark.parametrize("gamma", [0.5, 2.5, 3.0])
def test_focal_pow_multiplication_and_general_forms(gamma):
    r = np.concatenate([RNG.uniform(0.0, 1.0, 50_000), 10.0 ** RNG.uniform(-80, 0, 50_000)])
    half, general = np.empty_like(r), np.empty_like(r)
    _map_pow(r, gamma, half, general)
    ref = r**gamma
    assert np.max(np.abs(half / ref - 1.0)) < 1e-15 * (gamma + 2)
    keep = ref > 1e-300  # exp_vec stops at e^-708, far below float32's range
    assert np.max(np.abs(general[keep] / ref[keep] - 1.0)) < 1e-9  # e^(gamma log r): exp_vec's error
    assert np.all(general[~keep] < 1e-300)


def test_pow_kind():
    assert [fm.pow_kind(g) for g in (0, 0.5, 1.0, 2, 2.5, 8.0)] == [0, 1, 2, 4, 5, 16]
    assert [fm.pow_kind(g) for g in (1.7, 8.5, 20.0, 0.25)] == [fm.POW_GENERAL] * 4


def test_math_constants_are_what_the_comments_say():
    assert fm.LN2_HI + fm.LN2_LO == pytest.approx(math.log(2.0), abs=1e-17)
    assert fm.LN2_HI * 2**32 == int(fm.LN2_HI * 2**32)  # 32 significant bits: n * LN2_HI exact
    assert fm.MAGIC == 1.5 * 2**52


# --------------------------------------------------------------------------- binary kernel
GAMMAS = [0.0, 0.5, 1.0, 1.7, 2.0, 2.5, 3.0, 5.0, 8.0, 20.0, 50.0]
Z_GRID = np.concatenate([np.linspace(-60.0, 60.0, 120_001), RNG.normal(0.0, 4.0, 60_000)]).astype(np.float32)


def terms_scale(u, gamma, a):
    """Sum of |terms| of l''(u) = a r^g ((2g+1) q r + g (q log q) (r - g q)), float64.

    The exact Hessian changes sign, so its float32 error is measured against the size of the
    terms it cancels from, not against its own (possibly tiny) value.
    """
    log_q, log_r = -np.logaddexp(0.0, -u), -np.logaddexp(0.0, u)
    q, r = np.exp(log_q), np.exp(log_r)
    arg = a * np.exp(gamma * log_r)
    return arg * ((2 * gamma + 1) * q * r + gamma * q * np.abs(log_q) * (r + gamma * q))


def _pair(z, y, gamma, hessian, alpha=0.25, w=None, z_ref=None):
    """(float32 SIMD outputs, float64 reference outputs) of the same call."""
    fl = FocalLoss(gamma, alpha=alpha, hessian=hessian)
    k = 2 if z.ndim == 1 else z.shape[1]
    a = fl.class_alpha(k)
    w = np.empty(0) if w is None else w
    g32, h32 = fl._grad_hess_checked(z, y, w, a, dtype=np.float32)
    z_ref = z.astype(np.float64) if z_ref is None else z_ref
    g64, h64 = fl._grad_hess_checked(z_ref, y, w, a, dtype=np.float64)
    assert g32.dtype == np.float32 and h32.dtype == np.float32
    return g32, h32, g64, h64


@pytest.mark.parametrize("gamma", GAMMAS)
def test_binary_kernel_within_a_float32_ulp_of_the_reference(gamma):
    for label in (0.0, 1.0):
        y = np.full(Z_GRID.shape, label, np.float32)
        g32, h32, g64, h64 = _pair(Z_GRID, y, gamma, "bohning")
        assert max_ulps(g32, g64) <= 0.75  # measured <= 0.53
        assert max_ulps(h32, h64) <= 0.75
        g32, h32, g64, h64 = _pair(Z_GRID, y, gamma, "exact")
        u = np.where(y > 0.5, Z_GRID, -Z_GRID).astype(np.float64)
        scale = terms_scale(u, gamma, 0.25 if label else 0.75)
        assert max_ulps(h32, h64, scale) <= 0.75


@pytest.mark.parametrize("hessian", ["abs", "clip"])
def test_binary_kernel_other_hessian_modes(hessian):
    y = (RNG.random(Z_GRID.size) < 0.3).astype(np.float32)
    g32, h32, g64, h64 = _pair(Z_GRID, y, 1.7, hessian)
    assert max_ulps(g32, g64) <= 0.75
    u = np.where(y > 0.5, Z_GRID, -Z_GRID).astype(np.float64)
    assert max_ulps(h32, h64, terms_scale(u, 1.7, np.where(y > 0.5, 0.25, 0.75))) <= 0.75
    assert np.all(h32 >= 0)


def test_binary_kernel_weights_and_integer_labels():
    n = 50_000
    z = RNG.normal(0.0, 5.0, n).astype(np.float32)
    y = (RNG.random(n) < 0.1).astype(np.int64)
    w = RNG.uniform(0.0, 3.0, n)
    g32, h32, g64, h64 = _pair(z, y, 2.5, "bohning", alpha=0.6, w=w)
    assert max_ulps(g32, g64) <= 1.25  # rounded twice (before and after the weight): <= 1 ulp
    assert max_ulps(h32, h64) <= 1.25


def test_binary_float64_margins_to_float32_outputs():
    """LightGBM hands float64 margins: the result is that of the float64 margin, rounded once."""
    z = RNG.normal(0.0, 10.0, 100_000)
    y = (RNG.random(z.size) < 0.5).astype(np.float64)
    g32, h32, g64, h64 = _pair(z, y, 2.0, "bohning", z_ref=z)
    assert max_ulps(g32, g64) <= 0.75
    assert max_ulps(h32, h64) <= 0.75


def test_binary_extreme_margins_stay_finite_and_right():
    z = np.array([0.0, 1e-30, 30.0, 88.0, 104.0, 200.0, 1e4, 1e30, 3e38], dtype=np.float32)
    z = np.concatenate([z, -z])
    for gamma in (0.5, 2.0, 1.7, 20.0):
        for label in (0.0, 1.0):
            y = np.full(z.shape, label, np.float32)
            for hessian in ("bohning", "exact"):
                g32, h32, g64, h64 = _pair(z, y, gamma, hessian)
                assert np.all(np.isfinite(g32)) and np.all(np.isfinite(h32))
                assert max_ulps(g32, g64) <= 0.75 and max_ulps(h32, h64) <= 0.75


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
    scale = pi * pi * diag + pi * (1.0 - pi) * np.abs(g64[rows, yi])[:, None]
    scale[rows, yi] = diag[:, 0]
    return scale


@pytest.mark.parametrize("k", [2, 3, 10, 50])
@pytest.mark.parametrize("gamma", [0.0, 2.0, 1.7, 20.0])
def test_softmax_kernel_within_a_float32_ulp_of_the_reference(k, gamma):
    n = 6_000
    for sd in (1.0, 5.0, 20.0):
        z = RNG.normal(0.0, sd, (n, k)).astype(np.float32)
        y = RNG.integers(0, k, n).astype(np.float32)
        alpha = RNG.uniform(0.2, 1.0, k)
        for hessian in ("bohning", "exact"):
            g32, h32, g64, h64 = _pair(z, y, gamma, hessian, alpha=alpha.tolist())
            assert max_ulps(g32, g64) <= 0.75  # measured <= 0.51
            if hessian == "bohning":
                assert max_ulps(h32, h64) <= 0.75
            else:
                assert max_ulps(h32, h64, softmax_exact_scale(z, y, g64, gamma, alpha)) <= 0.75


def test_softmax_float64_fortran_margins_and_weights():
    """LightGBM's multiclass margins: a float64, Fortran-ordered view; outputs in the same order."""
    n, k = 30_000, 5
    z = np.asfortranarray(RNG.normal(0.0, 6.0, (n, k)))
    y = RNG.integers(0, k, n).astype(np.float32)
    w = RNG.uniform(0.1, 2.0, n)
    g32, h32, g64, h64 = _pair(z, y, 2.5, "bohning", alpha=None, w=w, z_ref=np.ascontiguousarray(z))
    assert g32.flags.f_contiguous  # np.empty_like keeps the caller's order
    assert max_ulps(g32, g64) <= 0.75
    assert max_ulps(h32, h64) <= 0.75


def test_softmax_extreme_rows():
    """Dominant, hopeless and tied rows, huge logits, the top class with pi -> 1."""
    rows = np.array([
        [0.0, 0.0, 0.0],
        [1e4, -1e4, 0.0],
        [-100.0, 0.0, -40.0],  # y = 0: pi_top -> 1, where 1 - pi would cancel
        [60.0, 0.0, 0.0],
        [-60.0, 0.0, 0.0],
        [3e38, -3e38, 0.0],
        [1.0, 1.0, -1e30],
    ], dtype=np.float32)
    for y0 in (0, 1, 2):
        y = np.full(rows.shape[0], y0, np.float32)
        for hessian in ("bohning", "exact"):
            g32, h32, g64, h64 = _pair(rows, y, 2.0, hessian, alpha=None)
            assert np.all(np.isfinite(g32)) and np.all(np.isfinite(h32))
            assert max_ulps(g32, g64) <= 0.75 and max_ulps(h32, h64) <= 0.75


# --------------------------------------------------------------------------- polynomial fits
def _fit(func, weight, lo, hi, degree, x_power, nodes=80):
    """Least-squares fit of func on [lo, hi]: minimises sum_i (weight(x_i) x_i^x_power (func - P))^2
    over the Chebyshev nodes x_i, with mpmath at 40 digits (how _fastmath's coefficients were made)."""
    import mpmath as mp

    with mp.workdps(40):
        lo, hi = mp.mpf(lo), mp.mpf(hi)
        xs = [(lo + hi) / 2 + (hi - lo) / 2 * mp.cos(mp.pi * (i + mp.mpf(1) / 2) / nodes) for i in range(nodes)]
        a = mp.matrix([[weight(x) * x**x_power * x**k for k in range(degree + 1)] for x in xs])
        b = mp.matrix([weight(x) * x**x_power * func(x) for x in xs])
        return [float(c) for c in mp.lu_solve(a.T * a, a.T * b)]


def fit_exp_poly():
    """P with e^r = 1 + r P(r) on |r| <= ln2/2, relative error of e^r minimised."""
    import mpmath as mp

    half_ln2 = float(mp.log(2) / 2)
    return _fit(lambda r: (mp.exp(r) - 1) / r, lambda r: 1 / mp.exp(r), -half_ln2, half_ln2, 6, 1)


def fit_log1p_poly():
    """Q with log(1 + e) = 2s + 2s z Q(z) on z in [0, 1/9] (the error of z Q relative to 1)."""
    import mpmath as mp

    def q_exact(z):
        s = mp.sqrt(z)
        return (mp.atanh(s) / s - 1) / z

    return _fit(q_exact, lambda z: 1, mp.mpf(1) / 10**30, mp.mpf(1) / 9, 5, 1)


def test_polynomial_coefficients_are_the_documented_fits():
    np.testing.assert_allclose(fm.EXP_P, fit_exp_poly(), rtol=1e-12, atol=0)
    np.testing.assert_allclose(fm.LOG1P_Q, fit_log1p_poly(), rtol=1e-12, atol=0)


def test_polynomials_against_mpmath():
    """Errors of the fits themselves (float64 evaluation, mpmath reference): the bounds quoted."""
    import mpmath as mp

    half_ln2 = math.log(2.0) / 2
    worst_exp = 0.0
    for r in np.linspace(-half_ln2, half_ln2, 2001):
        p = sum(c * r**k for k, c in enumerate(fm.EXP_P))
        worst_exp = max(worst_exp, abs(float(mp.mpf(1 + r * p) / mp.exp(r)) - 1))
    worst_log = 0.0
    for e in np.concatenate([np.linspace(0.0, 1.0, 2001)[1:], 10.0 ** np.linspace(-20, 0, 200)]):
        s = e / (2 + e)
        z = s * s
        q = sum(c * z**k for k, c in enumerate(fm.LOG1P_Q))
        worst_log = max(worst_log, abs(float(mp.mpf(e - s * (e - 2 * z * q)) / mp.log1p(e)) - 1))
    assert worst_exp < 1e-10  # fit: 5.4e-11
    assert worst_log < 1e-11  # fit: 2.9e-12


def test_runtime_pow_is_repeated_multiplication_bit_for_bit():
    """focal_pow_halves (r^gamma of every kernel, kind known at run time) is r multiplied in
    kind // 2 times, then sqrt(r) for odd kinds, in that order, for every kind 0..MAX_HALVES;
    and focal_pow with a compile-time constant kind folds to the same bits."""

    @njit
    def runtime(r, kind):
        out = np.empty(r.shape[0])
        for i in range(r.shape[0]):
            out[i] = fm.focal_pow_halves(r[i], kind)
        return out

    def constant(kind):
        @njit
        def f(r):
            out = np.empty(r.shape[0])
            for i in range(r.shape[0]):
                out[i] = fm.focal_pow(r[i], math.log(r[i]), 0.5 * kind, kind)
            return out

        return f

    r = np.concatenate([np.geomspace(1e-300, 1.0, 2000), np.random.default_rng(0).random(2000)])
    for kind in range(fm.MAX_HALVES + 1):
        want = np.array([_focal_pow_const(x, kind) for x in r])
        np.testing.assert_array_equal(runtime(r, kind), want)
        if kind in (0, 1, 4, 5, 16):
            np.testing.assert_array_equal(constant(kind)(r), want)


def _focal_pow_const(r, kind):
    """r^(kind / 2) by repeated multiplication, evaluated in Python float64."""
    out = 1.0
    for _ in range(kind // 2):
        out *= r
    if kind % 2 == 1:
        out *= math.sqrt(r)
    return out


def test_fmin_fmax_follow_pythons_min_and_max():
    """fmin/fmax (compare-and-select intrinsics standing in for Numba's builtin min/max) return
    what Python's min/max return, bit for bit, NaNs, signed zeros and infinities included: the
    first argument unless the second compares below (fmin) / above (fmax) it."""

    @njit
    def both(a, b):
        return fm.fmin(a, b), fm.fmax(a, b)

    values = [math.nan, -math.inf, -1e300, -1.5, -0.0, 0.0, 5e-324, 2.0, math.inf]
    for a in values:
        for b in values:
            got = both(a, b)
            want = (min(a, b), max(a, b))
            for g, w in zip(got, want):
                assert np.float64(g).tobytes() == np.float64(w).tobytes(), (a, b, got, want)
