"""CPU kernels: loops over rows that call the scalar math in :mod:`boost_focal._scalar`.

Inputs are validated by the caller (:mod:`boost_focal._validation`); these kernels assume
contiguous arrays of matching length, labels already checked to be in range, and an empty
weight array meaning "all weights are 1". Outputs are written into preallocated arrays.

Two families: the reference kernels (float64 arithmetic with libm exp/log, any output dtype;
used for float64 outputs and as the accuracy reference) and, at the end of this module, the fast
float32 kernels built on :mod:`boost_focal._fastmath` (vectorised, a few float32 ulps from the
reference; used for float32 outputs).
"""

import functools
import hashlib
import math
from pathlib import Path

import numpy as np
from numba import njit, prange

from ._fastmath import (
    F32_MAX,
    FLAGS,
    NEG_INF as NEG_INF32,
    ONE,
    ZERO as ZERO32,
    binary_element_f32,
    exp_diff_f32,
    focal_terms_f32,
    is_float64,
    pow_kind,
    safeguard_f32,
    softmax_other_f32,
    split_f32,
)
from ._scalar import (
    binary_element,
    log_phi,
    log_sigmoid,
    softmax_row,
    softmax_row_loss,
)


@njit(cache=True, parallel=True)
def binary_grad_hess(z, y, w, gamma, alpha_pos, alpha_neg, mode, grad, hess):
    n = z.shape[0]
    has_w = w.shape[0] > 0
    for i in prange(n):
        wi = w[i] if has_w else 1.0
        _, g, h = binary_element(z[i], y[i], wi, gamma, alpha_pos, alpha_neg, mode)
        grad[i] = g
        hess[i] = h


@njit(cache=True, parallel=True)
def binary_loss(z, y, w, gamma, alpha_pos, alpha_neg, out):
    n = z.shape[0]
    has_w = w.shape[0] > 0
    for i in prange(n):
        wi = w[i] if has_w else 1.0
        loss, _, _ = binary_element(z[i], y[i], wi, gamma, alpha_pos, alpha_neg, 0)
        out[i] = loss


@njit(cache=True, parallel=True)
def softmax_grad_hess(z, y, w, gamma, alpha, mode, bohning, grad, hess):
    n = z.shape[0]
    has_w = w.shape[0] > 0
    for i in prange(n):
        wi = w[i] if has_w else 1.0
        yi = int(y[i])
        softmax_row(z, i, yi, wi, gamma, alpha[yi], mode, bohning, grad, hess)


@njit(cache=True, parallel=True)
def softmax_loss(z, y, w, gamma, alpha, out):
    n = z.shape[0]
    has_w = w.shape[0] > 0
    for i in prange(n):
        wi = w[i] if has_w else 1.0
        yi = int(y[i])
        out[i] = wi * softmax_row_loss(z, i, yi, gamma, alpha[yi])


@njit(cache=True, parallel=True)
def binary_posterior(z, gamma, log_alpha_ratio, out):
    """eta = sigmoid(log((1 - alpha)/alpha) + log phi(1 - p) - log phi(p)), p = sigmoid(z)."""
    for i in prange(z.shape[0]):
        t = log_alpha_ratio + log_phi(-z[i], gamma) - log_phi(z[i], gamma)
        out[i] = math.exp(log_sigmoid(t))


@njit(cache=True, parallel=True)
def softmax_posterior(z, gamma, log_alpha, out):
    """eta_k proportional to 1 / (alpha_k phi(p_k)), p = softmax(z), rows normalised to 1.

    phi needs u_k = logit(p_k) = log p_k - log(1 - p_k). For every class but the argmax,
    p_k <= 1/2, so log(1 - p_k) = log1p(-p_k) is accurate; for the argmax we form
    u = z_m - logsumexp_{j != m} z_j directly, never 1 - p_m.

    The unnormalised log posteriors v_k = -log alpha_k - log phi(u_k) are exponentiated against
    ref = -log phi(u_m) - min_j log alpha_j, an upper bound known before the loop (phi decreases
    and u_k <= u_m), so only values in [0, 1] are ever stored in ``out``: storing v_k itself in a
    float32 ``out`` would cost relative errors of |v_k| * 2^-24 (about 4e-6 at margins of tens).
    All arithmetic is float64 (``1.0 *`` promotes float32 margins).
    """
    n, k_count = z.shape
    min_log_alpha = math.inf
    for k in range(k_count):
        min_log_alpha = min(min_log_alpha, log_alpha[k])
    for i in prange(n):
        m = 0
        for k in range(1, k_count):
            if z[i, k] > z[i, m]:
                m = k
        zm = 1.0 * z[i, m]
        m2 = -math.inf  # the largest of the other logits
        for k in range(k_count):
            if k != m and z[i, k] > m2:
                m2 = 1.0 * z[i, k]
        s = 0.0
        s_other = 0.0
        for k in range(k_count):
            zk = 1.0 * z[i, k]
            s += math.exp(zk - zm)
            if k != m:
                s_other += math.exp(zk - m2)  # >= 1: never log(0)
        lse = zm + math.log(s)
        log_phi_m = log_phi(zm - m2 - math.log(s_other), gamma)
        ref = -log_phi_m - min_log_alpha  # >= every v_k below
        tot = 0.0
        for k in range(k_count):
            if k == m:
                lph = log_phi_m
            else:
                lp = 1.0 * z[i, k] - lse
                lph = log_phi(lp - math.log1p(-math.exp(lp)), gamma)
            e = math.exp(-log_alpha[k] - lph - ref)
            out[i, k] = e
            tot += e
        for k in range(k_count):
            out[i, k] = out[i, k] / tot


@njit(cache=True)
def log_phi_array(u, gamma):
    out = np.empty(u.shape[0])
    for i in range(u.shape[0]):
        out[i] = log_phi(u[i], gamma)
    return out


# ---------------------------------------------------------------------------------------------
# Fast float32 kernels (boost_focal._fastmath), used whenever grad/hess are float32: the dtype
# XGBoost and LightGBM keep gradients in. One compiled kernel per (r^gamma kind, Hessian mode):
# both are closure constants, so LLVM folds every branch on them and the loop vectorises (a
# runtime code inside the loop blocks vectorisation, and numba.literally costs ~15 ms a call).
# Each variant is compiled on first use only. Numba's cache tells the variants apart by their
# closure values; SOURCE_KEY (a hash of the inlined scalar-math sources) is one of them, because
# the cache does not notice edits to an inlined callee in another module.


def _source_key():
    digest = hashlib.sha256()
    for name in ("_fastmath.py", "_scalar.py"):
        digest.update(Path(__file__).with_name(name).read_bytes())
    return digest.hexdigest()[:16]


SOURCE_KEY = _source_key()


@functools.lru_cache(maxsize=None)
def binary_fast_kernel(kind, mode, parallel=False):
    """kernel(z, y, w, gamma, alpha_pos, alpha_neg, grad, hess) writing float32 grad/hess.

    z and w may be float32 or float64, y any real dtype; w empty means unweighted.
    """
    source_key = SOURCE_KEY

    @njit(cache=True, parallel=parallel, nogil=True, error_model="numpy", fastmath=FLAGS)
    def kernel(z, y, w, gamma, alpha_pos, alpha_neg, grad, hess):
        source_key, parallel  # noqa: B018 (part of the cache key, see above)
        g32 = np.float32(gamma)
        g_lo = np.float32(gamma - g32)
        ap = np.float32(alpha_pos)
        an = np.float32(alpha_neg)
        n = z.shape[0]
        if w.shape[0] > 0:
            for i in prange(n):
                zh, zl = split_f32(z[i])
                g, h = binary_element_f32(zh, zl, np.float32(y[i]), np.float32(w[i]), g32, g_lo, kind, ap, an, mode)
                grad[i] = g
                hess[i] = h
        else:  # a separate loop: a weight load under a condition would not vectorise
            for i in prange(n):
                zh, zl = split_f32(z[i])
                g, h = binary_element_f32(zh, zl, np.float32(y[i]), ONE, g32, g_lo, kind, ap, an, mode)
                grad[i] = g
                hess[i] = h

    return kernel


# Rows per block of the softmax kernel: its loops run over the rows of a block (classes outer),
# so every step vectorises across rows whatever K is, and the block's scratch stays in L1/L2.
SOFTMAX_BLOCK = 256


@njit(cache=True, error_model="numpy", fastmath=FLAGS, inline="always")
def _softmax_block(z, y, w, gamma, gamma_lo, kind, alpha, mode, bohning, grad, hess):
    """The softmax kernel on one block of rows (views of the full arrays), in passes.

    The math of _scalar.softmax_row: m = max_{k != y} z_k (the first such k is the top class),
    t_k = e^(z_k - m), s = 1 + rest with rest = sum over k not in {y, top} of t_k (float64),
    u = (z_y - m) - log s (float64, handed to focal_terms_f32 as two float32s), pi_k = t_k / s,
    1 - pi_top = rest / s. ``w`` is the block's weights or an empty array.

    Layout: the block is transposed into (K, rows) scratch so that every pass is a loop over
    rows with unit stride, which vectorises whatever K is (a loop over K = 10 classes would
    leave most of the work to scalar remainders, and strided gathers are slow on AMD cores).
    Per-row sums still run over k in order, so no floating-point reassociation is needed.
    """
    nb, k_count = z.shape
    t = np.empty((k_count, nb), dtype=np.float32)  # margins, then e^(z_k - m), then grad
    lo = np.zeros((k_count, nb) if is_float64(z) else (0, 0), dtype=np.float32)  # float64 z only
    for j in range(nb):
        for k in range(k_count):
            hi_part, lo_part = split_f32(z[j, k])
            t[k, j] = hi_part
            if is_float64(z):
                lo[k, j] = lo_part
    label = np.empty(nb, dtype=np.int32)
    for j in range(nb):
        label[j] = np.int32(y[j])
    # the largest other logit and its class (int32 lanes: 8 per AVX2 vector)
    m = np.full(nb, NEG_INF32)
    top = np.full(nb, -1, dtype=np.int32)
    for k in range(k_count):
        k32 = np.int32(k)
        for j in range(nb):
            v = t[k, j]
            better = (k32 != label[j]) & (v > m[j])
            m[j] = v if better else m[j]
            top[j] = k32 if better else top[j]
    # exponentials; float64 sum of those other than y and top; z_y picked on the way
    rest = np.zeros(nb)
    zy = np.zeros(nb, dtype=np.float32)
    zy_lo = np.zeros(nb, dtype=np.float32)
    m_lo = np.zeros(nb, dtype=np.float32)  # the low part of the top class's float64 margin
    if is_float64(z):
        for k in range(k_count):
            k32 = np.int32(k)
            for j in range(nb):
                zy_lo[j] = lo[k, j] if k32 == label[j] else zy_lo[j]
                m_lo[j] = lo[k, j] if k32 == top[j] else m_lo[j]
    for k in range(k_count):
        k32 = np.int32(k)
        for j in range(nb):
            v = t[k, j]
            if is_float64(z):
                e = exp_diff_f32(v, m[j], lo[k, j] - m_lo[j])
            else:
                e = exp_diff_f32(v, m[j], ZERO32)
            t[k, j] = e
            rest[j] += np.float64(e) if (k32 != label[j]) & (k32 != top[j]) else 0.0
            zy[j] = v if k32 == label[j] else zy[j]
    # u per row: one libm log per row, in float64
    u_hi = np.empty(nb, dtype=np.float32)
    u_lo = np.empty(nb, dtype=np.float32)
    for j in range(nb):
        # z_y - m of two float32s is exact in float64 (and cannot overflow there). np.float64, not
        # float(): Numba types float(float32) as float32.
        f64 = np.float64
        u64 = ((f64(zy[j]) - f64(m[j])) - math.log(1.0 + rest[j])) + (f64(zy_lo[j]) - f64(m_lo[j]))
        u64 = min(max(u64, -F32_MAX), F32_MAX)
        u_hi[j] = np.float32(u64)
        u_lo[j] = np.float32(u64 - f64(u_hi[j]))
    # focal terms, vectorised across rows (kept free of float64 work, which would halve the width)
    a_row = np.empty(nb, dtype=np.float32)
    for j in range(nb):
        a_row[j] = alpha[label[j]]
    d1 = np.empty(nb, dtype=np.float32)
    d2 = np.empty(nb, dtype=np.float32)
    floor = np.empty(nb, dtype=np.float32)
    for j in range(nb):
        _, a1, a2, arg = focal_terms_f32(u_hi[j], u_lo[j], gamma, gamma_lo, kind, a_row[j])
        d1[j] = a1
        d2[j] = a2
        floor[j] = arg * bohning
    inv_s = np.empty(nb, dtype=np.float32)
    top_rest = np.empty(nb, dtype=np.float32)
    for j in range(nb):
        s = 1.0 + rest[j]
        inv_s[j] = np.float32(1.0 / s)
        top_rest[j] = np.float32(rest[j] / s)  # 1 - pi_top without cancellation
    weight = np.ones(nb, dtype=np.float32)
    if w.shape[0] > 0:
        for j in range(nb):
            weight[j] = np.float32(w[j])
    # outputs, then back to the caller's (rows, K) layout
    ht = np.empty((k_count, nb), dtype=np.float32)
    for k in range(k_count):
        k32 = np.int32(k)
        for j in range(nb):
            pi = t[k, j] * inv_s[j]
            one_minus_pi = top_rest[j] if k32 == top[j] else ONE - pi
            g, h = softmax_other_f32(pi, one_minus_pi, d1[j], d2[j], floor[j], mode)
            is_y = k32 == label[j]
            t[k, j] = weight[j] * (d1[j] if is_y else g)
            ht[k, j] = weight[j] * (safeguard_f32(d2[j], floor[j], mode) if is_y else h)
    for j in range(nb):
        for k in range(k_count):
            grad[j, k] = t[k, j]
            hess[j, k] = ht[k, j]


@functools.lru_cache(maxsize=None)
def softmax_fast_kernel(kind, mode, parallel=False):
    """kernel(z, y, w, gamma, alpha, bohning, grad, hess) writing float32 (n, K) grad/hess.

    z (n, K) float32 or float64 in C or F order (LightGBM's margins are an F-ordered view);
    grad/hess may be either order too.
    """
    source_key = SOURCE_KEY

    @njit(cache=True, parallel=parallel, nogil=True, error_model="numpy", fastmath=FLAGS)
    def kernel(z, y, w, gamma, alpha, bohning, grad, hess):
        source_key, parallel  # noqa: B018 (part of the cache key, see above)
        n = z.shape[0]
        g32 = np.float32(gamma)
        g_lo = np.float32(gamma - g32)
        b32 = np.float32(bohning)
        a32 = alpha.astype(np.float32)
        has_w = w.shape[0] > 0
        for b in prange((n + SOFTMAX_BLOCK - 1) // SOFTMAX_BLOCK):
            lo = b * SOFTMAX_BLOCK
            hi = min(lo + SOFTMAX_BLOCK, n)
            wb = w[lo:hi] if has_w else w
            _softmax_block(z[lo:hi], y[lo:hi], wb, g32, g_lo, kind, a32, mode, b32, grad[lo:hi], hess[lo:hi])

    return kernel


import os
from concurrent.futures import ThreadPoolExecutor
import numba

_MODE = os.environ.get("BF_THREADING", "pool")
MIN_ROWS_PER_THREAD = 16_384
_POOL = [None, None]


def _pool():
    if _POOL[0] is None or _POOL[1] != os.getpid():
        _POOL[0] = ThreadPoolExecutor(max_workers=max(numba.config.NUMBA_NUM_THREADS - 1, 1), thread_name_prefix="boost-focal")
        _POOL[1] = os.getpid()
    return _POOL[0]


def _chunked(kernel, n, args_for):
    threads = min(numba.get_num_threads(), n // MIN_ROWS_PER_THREAD)
    if threads <= 1:
        kernel(*args_for(0, n))
        return
    bounds = [n * t // threads for t in range(threads + 1)]
    futures = [_pool().submit(kernel, *args_for(bounds[t], bounds[t + 1])) for t in range(1, threads)]
    kernel(*args_for(bounds[0], bounds[1]))
    for f in futures:
        f.result()


def binary_grad_hess_f32(z, y, w, gamma, alpha_pos, alpha_neg, mode, grad, hess):
    """binary_grad_hess through the fast float32 kernel (grad/hess float32; z may be float64)."""
    if _MODE == "prange":
        binary_fast_kernel(pow_kind(gamma), mode, True)(z, y, w, gamma, alpha_pos, alpha_neg, grad, hess)
        return
    kernel = binary_fast_kernel(pow_kind(gamma), mode)
    if _MODE == "serial":
        kernel(z, y, w, gamma, alpha_pos, alpha_neg, grad, hess)
        return

    def args_for(lo, hi):
        return z[lo:hi], y[lo:hi], (w[lo:hi] if w.shape[0] else w), gamma, alpha_pos, alpha_neg, grad[lo:hi], hess[lo:hi]

    _chunked(kernel, z.shape[0], args_for)


def softmax_grad_hess_f32(z, y, w, gamma, alpha, mode, bohning, grad, hess):
    """softmax_grad_hess through the fast float32 kernel (grad/hess float32; z may be float64)."""
    if _MODE == "prange":
        softmax_fast_kernel(pow_kind(gamma), mode, True)(z, y, w, gamma, alpha, bohning, grad, hess)
        return
    kernel = softmax_fast_kernel(pow_kind(gamma), mode)
    if _MODE == "serial":
        kernel(z, y, w, gamma, alpha, bohning, grad, hess)
        return

    def args_for(lo, hi):
        return z[lo:hi], y[lo:hi], (w[lo:hi] if w.shape[0] else w), gamma, alpha, bohning, grad[lo:hi], hess[lo:hi]

    _chunked(kernel, z.shape[0], args_for)
