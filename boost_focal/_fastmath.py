"""Vectorisable float32 scalar math for the fast CPU kernels.

The llvmlite that ships with Numba has no SVML, so ``math.exp``/``math.log1p`` inside a
``prange`` loop compile to one scalar libm call per element and the loop cannot use SIMD.
The functions here are written only with +, -, *, /, sqrt, min/max and integer bit
operations on the float representation, which LLVM's loop vectoriser turns into 8-wide AVX2
code once they are inlined into a kernel loop.

Accuracy (measured by ``tests/test_fastmath.py`` and ``benchmarks/run.py``): ``exp_f32``,
``log1p_unit_f32`` and ``log_f32`` are within 2 float32 ulps of the correctly rounded value;
the focal-loss terms built from them are within a few float32 ulps of the float64 reference
:func:`boost_focal._scalar.focal_terms`, except the exact Hessian next to its sign change,
where any float32 evaluation has a large *relative* error (the error stays a few ulps of the
size of the terms that cancel).

The formulas are those of :mod:`boost_focal._scalar` (the single source of truth, see
``docs/math.md``); only how exp/log/pow are evaluated differs. Nothing here is used for
float64 inputs.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

from ._scalar import BOHNING_BINARY, CLIP_FLOOR, HESS_ABS, HESS_BOHNING, HESS_CLIP

# No "reassoc": the round-to-integer trick below ((x + MAGIC) - MAGIC) and the error-free
# TwoSum must not be "simplified" away. "contract" lets LLVM fuse a*b + c into an FMA.
FLAGS = {"contract", "nsz", "arcp"}
JIT = dict(cache=True, error_model="numpy", fastmath=FLAGS, inline="always")

F32 = np.float32
ZERO = F32(0.0)
HALF = F32(0.5)
ONE = F32(1.0)
TWO = F32(2.0)
NEG_INF = F32(-np.inf)
F32_MAX = float(np.finfo(np.float32).max)

# exp: x = n ln2 + r, |r| <= ln2 / 2, e^x = 2^n e^r.
LOG2E = F32(1.4426950408889634)
# Cody-Waite split of ln 2: LN2_HI has 10 significant bits, so n * LN2_HI is exact for |n| < 2^14.
LN2_HI = F32(0.693359375)
LN2_LO = F32(0.6931471805599453 - 0.693359375)
# Adding 1.5 * 2^23 rounds a float32 of magnitude < 2^22 to an integer (round to nearest even).
MAGIC = F32(12582912.0)
# e^x underflows to 0 in float32 below about -103.97 and overflows above 88.72.
EXP_LO = F32(-104.0)
EXP_HI = F32(88.7)
# Taylor coefficients 1/k! of e^r; degree 7 leaves |r|^8 / 8! < 5.2e-9 (0.09 ulp) on |r| <= ln2/2.
C2 = F32(1.0 / 2)
C3 = F32(1.0 / 6)
C4 = F32(1.0 / 24)
C5 = F32(1.0 / 120)
C6 = F32(1.0 / 720)
C7 = F32(1.0 / 5040)
# log(1 + f) = 2 atanh(s), s = f / (2 + f) = 2 (s + s^3/3 + s^5/5 + ...): coefficients 1/(2k+1).
A3 = F32(1.0 / 3)
A5 = F32(1.0 / 5)
A7 = F32(1.0 / 7)
A9 = F32(1.0 / 9)
A11 = F32(1.0 / 11)
A13 = F32(1.0 / 13)


# ------------------------------------------------------------------ bit-level helpers
@intrinsic
def _ldexp_f32(typingctx, p, n):
    """p * 2^n for float32 p and an integral float32 n in [-150, 128], with gradual underflow.

    2^n is built from its bit pattern ((n + 127) << 23) in two halves, n = n1 + n2, so that
    each half stays a normal float32 even when 2^n itself is subnormal.
    """
    if p != types.float32 or n != types.float32:
        return None

    def codegen(context, builder, sig, args):
        pv, nv = args
        i32 = ir.IntType(32)
        f32 = ir.FloatType()
        ni = builder.fptosi(nv, i32)
        n1 = builder.ashr(ni, ir.Constant(i32, 1))
        n2 = builder.sub(ni, n1)
        bias = ir.Constant(i32, 127)
        shift = ir.Constant(i32, 23)
        s1 = builder.bitcast(builder.shl(builder.add(n1, bias), shift), f32)
        s2 = builder.bitcast(builder.shl(builder.add(n2, bias), shift), f32)
        return builder.fmul(builder.fmul(pv, s1), s2)

    return types.float32(types.float32, types.float32), codegen


@intrinsic
def fma_f32(typingctx, a, b, c):
    """a * b + c with a single rounding (the hardware FMA; AVX2 machines have it)."""
    if a != types.float32 or b != types.float32 or c != types.float32:
        return None

    def codegen(context, builder, sig, args):
        return builder.fma(*args)

    return types.float32(types.float32, types.float32, types.float32), codegen


def split_f32(x):
    """(hi, lo) float32 with hi + lo = x to float32 precision of lo (Numba-only, see overload).

    A float32 x gives (x, 0) and costs nothing; a float64 x (LightGBM's margins) gives its float32
    rounding and the remainder, so that e.g. the derivatives at a margin of 30 are not off by
    the 30 * 2^-25 absolute rounding of the margin (~90 ulps of relative error at gamma = 2).
    """
    raise NotImplementedError("split_f32 is only callable from Numba-compiled code")


@overload(split_f32, inline="always")
def _split_f32_overload(x):
    if x == types.float64:

        def impl(x):
            x = min(max(x, -F32_MAX), F32_MAX)  # beyond, float32 rounding would give inf
            hi = np.float32(x)
            return hi, np.float32(x - hi)

        return impl
    if isinstance(x, types.Float):
        return lambda x: (np.float32(x), ZERO)
    return None


def is_float64(arr):
    """Whether an array holds float64, as a compile-time constant (Numba-only, see overload)."""
    raise NotImplementedError("is_float64 is only callable from Numba-compiled code")


@overload(is_float64, inline="always")
def _is_float64_overload(arr):
    answer = isinstance(arr, types.Array) and arr.dtype == types.float64
    return lambda arr: answer


# ------------------------------------------------------------------ exp / log
@njit(**JIT)
def _exp_poly(r):
    """e^r for |r| <= ln2/2: 1 + r Q(r), Q = 1 + r/2! + r^2/3! + ... + r^6/7!.

    Q is evaluated by Estrin's scheme (independent pairs combined with r^2, r^4) rather than
    Horner's: the same accuracy with about half the dependent-latency chain, which is what bounds
    the kernels' speed. The final 1 + r Q is one FMA, rounded once.
    """
    r2 = r * r
    r4 = r2 * r2
    lo = (ONE + r * C2) + r2 * (C3 + r * C4)
    hi = (C5 + r * C6) + r2 * C7
    return ONE + r * (lo + r4 * hi)


@njit(**JIT)
def exp2_f32(hi, lo):
    """e^(hi + lo) in float32 for an unevaluated sum with |lo| <= ulp(hi) (e.g. from TwoSum).

    Range reduction hi = n ln2 + r with n = round(hi / ln2) and a two-part ln2, so that r is
    exact to float32 rounding; the low part is added to r, where it is no longer lost to
    rounding; then e^x = 2^n e^r. hi is clamped to [-104, 88.7] (e^-104 is below the smallest
    float32 and the result is 0 or the smallest subnormal).
    """
    lo = lo if hi > EXP_LO else ZERO  # hi = -inf (gamma * u overflowed) can make lo NaN
    hi = min(max(hi, EXP_LO), EXP_HI)
    n = (hi * LOG2E + MAGIC) - MAGIC
    r = ((hi - n * LN2_HI) - n * LN2_LO) + lo
    return _ldexp_f32(_exp_poly(r), n)


@njit(**JIT)
def exp_f32(x):
    """e^x in float32 (see exp2_f32)."""
    return exp2_f32(x, ZERO)


@njit(**JIT)
def two_sum_f32(a, b):
    """(s, err) with s = fl(a + b) and s + err = a + b exactly (Knuth's TwoSum, no branches)."""
    s = a + b
    bb = s - a
    err = (a - (s - bb)) + (b - bb)
    return s, err


@njit(**JIT)
def two_prod_f32(a, b):
    """(p, err) with p = fl(a * b) and p + err = a * b exactly (one FMA)."""
    p = a * b
    return p, fma_f32(a, b, -p)


@njit(**JIT)
def _atanh_tail(z):
    """Q(z) with 2 atanh(s) = 2s + 2s z Q(z), z = s^2: Q = 1/3 + z/5 + z^2/7 + ... (to z^5/13).

    For |s| <= 1/3 the next term, z^6/15, is below 4e-8 of Q. Estrin's scheme, as in _exp_poly.
    """
    z2 = z * z
    z4 = z2 * z2
    return ((A3 + z * A5) + z2 * (A7 + z * A9)) + z4 * (A11 + z * A13)


@njit(**JIT)
def _log1p_reduced(f):
    """log(1 + f) for f in [-0.3, 1] from the exact f: log(1 + f) = 2 atanh(s), s = f / (2 + f).

    Written as f - s (f - 2 z Q(z)) (2s = f - f s): the leading term f is exact and the
    rounding errors of s only touch the correction, which is at most a third of the result.
    """
    s = f / (TWO + f)
    z = s * s
    return f - s * (f - TWO * z * _atanh_tail(z))


@njit(**JIT)
def log1p_unit_f32(e):
    """log(1 + e) for e in [0, 1], to relative accuracy also for tiny e.

    The naive log(1 + e) rounds 1 + e first and loses e entirely below 6e-8.
    """
    return _log1p_reduced(e)


# ------------------------------------------------------------------ focal terms
# How r^gamma is evaluated; chosen once per call from gamma (kernels branch on it outside or,
# loop-invariantly, inside their loops).
POW_ZERO = 0  # gamma == 0: r^0 = 1 (alpha-weighted cross-entropy)
POW_ONE = 1  # gamma == 1: r
POW_GENERAL = 2  # any other gamma, integers included: e^(gamma log r), see focal_pow_f32


def pow_kind(gamma):
    """The POW_* code for a gamma (plain Python, called once per kernel call)."""
    return {0.0: POW_ZERO, 1.0: POW_ONE}.get(float(gamma), POW_GENERAL)


@njit(**JIT)
def focal_pow_f32(r, neg_hi, neg_lo, l1p, gamma, gamma_lo, kind):
    """r^gamma for r = sigmoid(-u), given log r = (neg_hi + neg_lo) - l1p, neg = min(-u, 0).

    gamma = 0 and 1 are exact. Any other gamma, integers included, uses
    r^gamma = e^(gamma neg - gamma l1p); r * r for gamma = 2 would compound the errors of e,
    1/(1 + e) and the product to ~8 ulps of the gradient, against ~5 this way (measured), at
    about half the kernel time. Rounding gamma * neg to float32 would cost up to |gamma u| / 2
    ulps (25 ulps at gamma u = 50), so the exponent is carried as an unevaluated sum, exact to
    float32 rounding of its small parts (TwoProd, TwoSum), into exp2_f32. gamma_lo is the float64
    gamma minus its float32 rounding: a float32 gamma alone would be off by up to 3e-8
    relative, 26 ulps of r^gamma at gamma u = 50.
    """
    if kind == POW_ZERO:
        return ONE
    if kind == POW_ONE:
        return r
    p, p_err = two_prod_f32(gamma, neg_hi)  # gamma neg_hi = p + p_err exactly
    hi, lo = two_sum_f32(p, -(gamma * l1p))
    return exp2_f32(hi, lo + (p_err + (gamma * neg_lo + gamma_lo * neg_hi)))


@njit(**JIT)
def focal_terms_f32(u, u_lo, gamma, gamma_lo, kind, a):
    """float32 (l, l', l'', a r^gamma) at the signed margin u + u_lo (u_lo: an optional low part).

    The formulas of _scalar.focal_terms (docs/math.md):

        l   = a r^gamma softplus(-u)
        l'  = a r^gamma (gamma q log q - r)
        l'' = a q r^gamma ((2 gamma + 1) r + gamma log q (r - gamma q))

    with q = sigmoid(u), r = 1 - q, both formed from e = e^-|u| (never 1 - something near 1).
    The derivatives decay like e^-(gamma + 1) u, so an absolute error d in u is a relative
    error (gamma + 1) d in them: the binary kernels pass the exact u (u_lo = 0), the softmax
    kernel a u computed in float64 and split into two float32s.
    """
    pos = u >= ZERO
    e = exp2_f32(-abs(u), -u_lo if pos else u_lo)  # e^-|u|, in (0, 1]
    one_e = ONE + e
    one_e_err = e - (one_e - ONE)  # 1 + e = one_e + one_e_err exactly (Fast2Sum, 1 >= e)
    inv = ONE / one_e
    inv = inv - inv * inv * one_e_err  # 1 / (1 + e) to first order in the rounding of 1 + e
    small = e * inv
    q = inv if pos else small
    r = small if pos else inv
    l1p = log1p_unit_f32(e)
    log_q = min(u, ZERO) - l1p
    neg_hi = -u if pos else ZERO
    neg_lo = -u_lo if pos else ZERO
    arg = a * focal_pow_f32(r, neg_hi, neg_lo, l1p, gamma, gamma_lo, kind)
    loss = -arg * log_q
    d1 = arg * (gamma * q * log_q - r)
    # q log q first, as in _scalar.focal_terms: gamma * log q can overflow where q = 0.
    d2 = arg * ((TWO * gamma + ONE) * q * r + gamma * (q * log_q) * (r - gamma * q))
    return loss, d1, d2, arg


@njit(**JIT)
def safeguard_f32(h, floor_scale, mode):
    """_scalar.safeguard in float32, written as selects so that it vectorises."""
    clip = max(h, F32(CLIP_FLOOR))
    out = max(h, floor_scale) if mode == HESS_BOHNING else h
    out = abs(h) if mode == HESS_ABS else out
    return clip if mode == HESS_CLIP else out


@njit(**JIT)
def binary_element_f32(z, z_lo, y, w, gamma, gamma_lo, kind, alpha_pos, alpha_neg, mode):
    """float32 (grad, hess) of _scalar.binary_element (weighted binary focal loss) at z + z_lo.

    All arguments float32 except the integer codes kind (POW_*) and mode (HESS_*); gamma_lo is
    the float64 gamma minus gamma, z_lo the low part of a float64 margin (see split_f32).
    u = (2y - 1) z, so d/dz = (2y - 1) d/du and d2/dz2 = d2/du2; written with selects.
    """
    pos = y > HALF
    u = z if pos else -z
    u_lo = z_lo if pos else -z_lo
    a = alpha_pos if pos else alpha_neg
    _, d1, d2, arg = focal_terms_f32(u, u_lo, gamma, gamma_lo, kind, a)
    g = d1 if pos else -d1
    h = safeguard_f32(d2, arg * F32(BOHNING_BINARY), mode)
    return w * g, w * h


@njit(**JIT)
def exp_diff_f32(a, b, lo):
    """e^(a - b + lo) for float32 a <= b and a small correction lo, from the exact difference.

    a - b is split exactly (TwoSum); rounding it first would cost |a - b| / 2 ulps of relative
    error (10 ulps at a - b = -20). lo carries the low parts of float64 margins (0 otherwise).
    """
    d, d_err = two_sum_f32(a, -b)
    return exp2_f32(min(d, ZERO), d_err + lo)


@njit(**JIT)
def softmax_other_f32(pi, one_minus_pi, d1, d2, floor_scale, mode):
    """Unweighted (grad, hess) of a class j other than the label (_scalar.softmax_row):

        grad_j = -pi_j l'(u),    hess_j = pi_j^2 l''(u) - pi_j (1 - pi_j) l'(u)

    with 1 - pi_j passed in (for the top class it is rest / s, never 1 - pi).
    """
    return -pi * d1, safeguard_f32(pi * pi * d2 - pi * one_minus_pi * d1, floor_scale, mode)
