"""Vectorisable exp/log1p and the focal terms built on them, for the SIMD CPU kernels.

The llvmlite that ships with Numba has no SVML, so ``math.exp``/``math.log1p`` inside a loop
compile to one scalar libm call per element and the loop cannot use SIMD. The functions here
use only +, -, *, /, min/max, selects and an integer bit operation (2^n through an
``@intrinsic`` bitcast), which LLVM's loop vectoriser turns into AVX2 code once they are
inlined into a kernel loop.

Precision: float64 arithmetic throughout, with polynomial degrees chosen for float32 outputs.
The kernels that use this module write float32 (the dtype XGBoost and LightGBM keep gradients
in); float64 outputs keep using the libm-based reference kernels. Why float64 arithmetic: the
relative error of r^gamma = e^(gamma log r) is gamma times the absolute error of log r, and a
float32 log r (ulp 4e-8 at log 2) alone puts 14 ulps into r^gamma at gamma = 20. Measured
against the float64 reference (tests/test_fastmath.py, benchmarks/run.py): exp_vec,
log1p_unit_vec and log1p_vec are within 1e-10, 1e-11 and 1e-11 relative; the float32 gradients
and Hessians within about half a float32 ulp (i.e. correctly rounded but for ties) for gamma up to 50.

The formulas are those of :func:`boost_focal._scalar.focal_terms` (the single source of truth,
see ``docs/math.md``), term for term; only how exp and log1p are evaluated differs.
"""

import math
import struct

import numpy as np

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from ._scalar import BOHNING_BINARY, CLIP_FLOOR, HESS_ABS, HESS_BOHNING, HESS_CLIP

# No "reassoc": it would fold the round-to-integer trick below ((x + MAGIC) - MAGIC) into x.
# "contract" lets LLVM fuse a * b + c into one FMA.
FLAGS = {"contract", "nsz", "arcp"}
JIT = dict(cache=True, error_model="numpy", fastmath=FLAGS, inline="always")

# exp: x = n ln2 + r with |r| <= ln2/2, e^x = 2^n e^r.
LOG2E = 1.4426950408889634
# Cody-Waite split of ln 2 (fdlibm's constants): LN2_HI has 32 significant bits, so n * LN2_HI is
# exact for |n| < 2^20 and r keeps full precision.
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
MAGIC = 6755399441055744.0  # 1.5 * 2^52: adding it rounds |x| < 2^51 to an integer
_MAGIC_BITS = struct.unpack("<q", struct.pack("<d", MAGIC))[0]
# Clamping at -708 keeps 2^n a normal float64 (one bit pattern, no subnormal scaling); e^-708 is
# so far under float32's smallest subnormal (1.4e-45) that even its square root rounds to 0.
EXP_LO = -708.0
EXP_HI = 700.0
# Polynomial coefficients: least-squares fits of the relative error at 80 Chebyshev nodes,
# computed with mpmath at 40 digits (tests/test_fastmath.py::fit_exp_poly / fit_log1p_poly refit
# them and check them against these values and the error bounds below). Fitted rather than
# Taylor coefficients: the same accuracy with fewer terms (Taylor needs degree 7 in P for exp and
# 9 terms of Q for log1p), and fewer terms is what the SIMD loop pays for.
# exp: e^r = 1 + r P(r) on |r| <= ln2/2, P of degree 6: relative error 5.4e-11.
EXP_P = (
    1.0000000003304388729, 0.50000000782738681905, 0.16666664538800366313, 0.041666269901536487681,
    0.008333659450161681215, 0.0013946043633217989825, 0.00019728198759913101398,
)
E0, E1, E2, E3, E4, E5, E6 = EXP_P
# log(1 + e) = 2 atanh(s) = 2s + 2s z Q(z), s = e / (2 + e) in [0, 1/3], z = s^2 in [0, 1/9],
# Q of degree 5 (Q(z) = 1/3 + z/5 + z^2/7 + ... fitted): relative error 2.9e-12.
LOG1P_Q = (
    0.33333333177671387, 0.20000026625697173, 0.14284195481672002, 0.11150766297707766,
    0.08573962910635649, 0.10895701686716751,
)
Q0, Q1, Q2, Q3, Q4, Q5 = LOG1P_Q


# ------------------------------------------------------------------ exp / log1p
@intrinsic
def _times_pow2(typingctx, p, t):
    """p * 2^n for float64 p, where t = n + MAGIC (n integral, -1022 <= n <= 1023).

    t's low mantissa bits hold n in two's complement, so 2^n's bit pattern is
    (bits(t) - bits(MAGIC) + 1023) << 52: integer adds and a shift, which AVX2 has for 64-bit
    lanes (a float-to-int64 conversion, which it lacks, would be done one lane at a time).
    """
    if p != types.float64 or t != types.float64:
        return None

    def codegen(context, builder, sig, args):
        i64 = ir.IntType(64)
        bias = ir.Constant(i64, _MAGIC_BITS - 1023)
        bits = builder.shl(builder.sub(builder.bitcast(args[1], i64), bias), ir.Constant(i64, 52))
        return builder.fmul(args[0], builder.bitcast(bits, ir.DoubleType()))

    return types.float64(types.float64, types.float64), codegen


def _minmax_intrinsic(op, doc):
    """An intrinsic for min or max of two float64 by Python's rule (the first argument unless the
    second compares below / above it, as Numba's builtins do): one compare and a select, emitted
    in place. The builtins compile a function of their own for every signature (about 0.1 s of
    the first fit); branches written out in Python made the binary kernel compile slower."""

    @intrinsic
    def minmax(typingctx, a, b):
        if a != types.float64 or b != types.float64:
            return None

        def codegen(context, builder, sig, args):
            first, second = args
            return builder.select(builder.fcmp_ordered(op, second, first), second, first)

        return types.float64(types.float64, types.float64), codegen

    minmax.__doc__ = doc
    return minmax


fmin = _minmax_intrinsic("<", "min(a, b) for float64 a, b (see _minmax_intrinsic).")
fmax = _minmax_intrinsic(">", "max(a, b) for float64 a, b (see _minmax_intrinsic).")


@intrinsic
def to_float32_round21(typingctx, x):
    """float32(x) (round to nearest), then rounded to 21 significant bits, ties away from zero:
    the float32 bit pattern b becomes (b + 4) & ~7 (a carry into the exponent is the correct
    result). The estimators' frequency-weight rounding (``estimators._base.round_to_21_bits``,
    ``make_objective``), done in the kernels' stores: integer lane operations, so a loop storing
    through it still vectorises.
    """
    if x != types.float64:
        return None

    def codegen(context, builder, sig, args):
        i32 = ir.IntType(32)
        f32 = ir.FloatType()
        bits = builder.bitcast(builder.fptrunc(args[0], f32), i32)
        bits = builder.and_(builder.add(bits, ir.Constant(i32, 4)), ir.Constant(i32, 0xFFFFFFF8))
        return builder.bitcast(bits, f32)

    return types.float32(types.float64), codegen


@njit(**JIT)
def store32(x, round21):
    """x as the float32 a kernel stores: float32(x), or to_float32_round21(x) when ``round21`` (a
    compile-time constant of the kernel variant, so the other branch is folded away)."""
    return to_float32_round21(x) if round21 else np.float32(x)


@njit(**JIT)
def exp_vec(x):
    """e^x for float64 x, relative error < 1e-10 (x clamped to [-708, 700]).

    Range reduction x = n ln2 + r, n = round(x / ln2), with a two-part ln2 so that r is exact;
    e^r = 1 + r P(r), P the fitted polynomial EXP_P (degree 6) in Estrin's scheme (independent
    pairs combined with r^2 and r^4: a shorter dependency chain than Horner's, same accuracy).
    """
    x = fmin(fmax(x, EXP_LO), EXP_HI)
    t = x * LOG2E + MAGIC  # rounds x / ln2 to the integer n, held in t's low bits
    n = t - MAGIC
    r = (x - n * LN2_HI) - n * LN2_LO
    r2 = r * r
    r4 = r2 * r2
    p = ((E0 + r * E1) + r2 * (E2 + r * E3)) + r4 * ((E4 + r * E5) + r2 * E6)
    return _times_pow2(1.0 + r * p, t)


@njit(**JIT)
def log1p_unit_vec(e):
    """log(1 + e) for e in [0, 1], relative error < 1e-11 (also for tiny e).

    log(1 + e) = 2 atanh(s), s = e / (2 + e) in [0, 1/3], written as e - s (e - 2 z Q(z)) with
    z = s^2 (2s = e - e s): no rounding of 1 + e, which would lose e below 1e-16. Q is the
    fitted polynomial LOG1P_Q (degree 5).
    """
    s = e / (2.0 + e)
    z = s * s
    z2 = z * z
    q = ((Q0 + z * Q1) + z2 * (Q2 + z * Q3)) + (z2 * z2) * (Q4 + z * Q5)
    return e - s * (e - 2.0 * z * q)


@intrinsic
def _split_pow2(typingctx, s):
    """(f, n) with s = f * 2^n, f in [1, 2) and n integral (a float64), for a normal float64 s > 0.

    Bit operations only, as in _times_pow2: f is s's mantissa under the exponent of 1, and n is
    read through MAGIC (bits(MAGIC) + n is the pattern of MAGIC + n), because AVX2 has 64-bit
    integer adds and shifts but no int64-to-float64 conversion.
    """
    if s != types.float64:
        return None

    def codegen(context, builder, sig, args):
        i64 = ir.IntType(64)
        f64 = ir.DoubleType()
        bits = builder.bitcast(args[0], i64)
        mant = builder.or_(builder.and_(bits, ir.Constant(i64, (1 << 52) - 1)), ir.Constant(i64, 1023 << 52))
        expo = builder.lshr(bits, ir.Constant(i64, 52))
        t = builder.add(expo, ir.Constant(i64, _MAGIC_BITS - 1023))
        n = builder.fsub(builder.bitcast(t, f64), ir.Constant(f64, MAGIC))
        return context.make_tuple(builder, sig.return_type, (builder.bitcast(mant, f64), n))

    return types.UniTuple(types.float64, 2)(types.float64), codegen


@njit(**JIT)
def log1p_vec(e):
    """log(1 + e) for 0 <= e < 2^1000, relative error < 1e-11: 1 + e = f 2^n with f in [1, 2),
    log(1 + e) = n ln 2 + log1p_unit_vec(f - 1); below e = 1, log1p_unit_vec(e) itself (no
    rounding of 1 + e, so tiny e keeps its precision)."""
    f, n = _split_pow2(1.0 + e)
    small = e < 1.0
    x = e if small else f - 1.0
    n = 0.0 if small else n
    return (n * LN2_HI + log1p_unit_vec(x)) + n * LN2_LO


# ------------------------------------------------------------------ focal terms
# How r^gamma is evaluated, as a code picked once per call from gamma (kernels are compiled per
# code, so that the choice costs nothing inside the loop). A gamma that is a multiple of 1/2 up
# to MAX_HALVES / 2 (0, 0.5, 1, ..., 8: every value seen in practice) gets r^n or r^n sqrt(r) by
# multiplication, which is exact to float64 rounding and cheaper than e^(gamma log r); any other
# gamma uses the latter (POW_GENERAL).
MAX_HALVES = 16
POW_GENERAL = -1


def pow_kind(gamma):
    """The r^gamma code of a gamma: 2 gamma if that is an integer <= MAX_HALVES, else POW_GENERAL."""
    halves = 2.0 * float(gamma)
    if halves == int(halves) and 0 <= halves <= MAX_HALVES:
        return int(halves)
    return POW_GENERAL


@njit(**JIT)
def focal_pow(r, log_r, gamma, kind):
    """r^gamma by the method of ``kind``: e^(gamma log r) for POW_GENERAL, else focal_pow_halves.

    The kernels branch on kind outside their loops, so inside a loop it is either the constant
    POW_GENERAL or a value known not to be it."""
    if kind == POW_GENERAL:
        return exp_vec(gamma * log_r)
    return focal_pow_halves(r, kind)


@njit(**JIT)
def focal_pow_halves(r, kind):
    """r^(kind / 2) for ``kind`` in 0..MAX_HALVES: r multiplied in kind // 2 times, then sqrt(r)
    for odd kinds (exact to float64 rounding), written as selects over a constant trip count so
    that a loop calling it vectorises although kind is a runtime value (one compiled kernel then
    serves every gamma)."""
    n = kind // 2
    r_gamma = 1.0
    for i in range(MAX_HALVES // 2):  # a constant trip count: unrolled
        r_gamma = r_gamma * r if i < n else r_gamma
    return r_gamma * math.sqrt(r) if kind % 2 == 1 else r_gamma


@njit(**JIT)
def focal_terms_vec(u, gamma, kind, a):
    """(l, l', l'', a r^gamma) at the signed margin u: _scalar.focal_terms, vectorisable.

        l   = a r^gamma softplus(-u)
        l'  = a r^gamma (gamma q log q - r)
        l'' = a r^gamma ((2 gamma + 1) q r + gamma (q log q) (r - gamma q))

    with q = sigmoid(u), r = 1 - q, both formed from e = e^-|u| (never 1 - something near 1),
    and r^gamma from r or from log r = min(-u, 0) - log1p(e) (focal_pow; never 0^(gamma - 1)).
    Selects instead of branches, so that the loop calling it vectorises. Composed of
    :func:`focal_base_vec`, :func:`focal_pow` and :func:`focal_derivs_vec`, which the softmax
    kernel calls separately, with :func:`focal_pow_halves` for a gamma known only at run time
    (``_cpu._softmax_focal_stage``).
    """
    q, r, log_q, log_r = focal_base_vec(u)
    arg = a * focal_pow(r, log_r, gamma, kind)
    loss, d1, d2 = focal_derivs_vec(q, r, log_q, arg, gamma)
    return loss, d1, d2, arg


@njit(**JIT)
def focal_base_vec(u):
    """(q, r, log q, log r) at the signed margin u, q = sigmoid(u), r = 1 - q (see focal_terms_vec)."""
    e = exp_vec(-abs(u))  # in (0, 1]: never overflows
    inv = 1.0 / (1.0 + e)
    small = e * inv
    pos = u >= 0.0
    q = inv if pos else small
    r = small if pos else inv
    l1p = log1p_unit_vec(e)
    # log sigmoid(u) and log(1 - sigmoid(u)); never -inf for finite u
    return q, r, fmin(u, 0.0) - l1p, fmin(-u, 0.0) - l1p


@njit(**JIT)
def focal_derivs_vec(q, r, log_q, arg, gamma):
    """(l, l', l'') of focal_terms_vec from q, r, log q and arg = a r^gamma."""
    loss = -arg * log_q
    d1 = arg * (gamma * q * log_q - r)
    # q log q first, as in _scalar.focal_terms: gamma * log q overflows where q = 0.
    d2 = arg * ((2.0 * gamma + 1.0) * q * r + gamma * (q * log_q) * (r - gamma * q))
    return loss, d1, d2


@njit(**JIT)
def safeguard_vec(h, floor_scale, mode):
    """_scalar.safeguard written as selects, so that it vectorises."""
    clip = fmax(h, CLIP_FLOOR)
    out = fmax(h, floor_scale) if mode == HESS_BOHNING else h
    out = abs(h) if mode == HESS_ABS else out
    return clip if mode == HESS_CLIP else out


@njit(**JIT)
def binary_element_vec(z, y, gamma, kind, alpha_pos, alpha_neg, mode):
    """Unweighted (grad, hess) of _scalar.binary_element at float64 margin z, label y.

    u = (2y - 1) z, so d/dz = (2y - 1) d/du and d2/dz2 = d2/du2; written with selects.
    """
    pos = y > 0.5
    u = z if pos else -z
    a = alpha_pos if pos else alpha_neg
    _, d1, d2, arg = focal_terms_vec(u, gamma, kind, a)
    g = d1 if pos else -d1
    return g, safeguard_vec(d2, arg * BOHNING_BINARY, mode)


@njit(**JIT)
def softmax_other_vec(pi, one_minus_pi, d1, d2, floor_scale, mode):
    """Unweighted (grad, hess) of a class j other than the label (_scalar.softmax_row):

        grad_j = -pi_j l'(u),    hess_j = pi_j^2 l''(u) - pi_j (1 - pi_j) l'(u)

    with 1 - pi_j passed in (for the top class it is rest / s, never 1 - pi). The Boehning mode
    floors l''(u) before this (``_cpu._softmax_output_stage``, as ``_scalar.softmax_row``) and
    calls it with the exact mode.
    """
    return -pi * d1, safeguard_vec(pi * pi * d2 - pi * one_minus_pi * d1, floor_scale, mode)
