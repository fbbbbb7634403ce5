"""CPU kernels: loops over rows that call the scalar math in :mod:`boost_focal._scalar`.

Inputs are validated by the caller (:mod:`boost_focal._validation`); these kernels assume
contiguous arrays of matching length and an empty weight array meaning "all weights are 1".
Outputs are written into preallocated arrays. The reference kernels also assume labels already
checked to be in range and finite margins; the float32 (SIMD) gradient kernels check both in
their own pass instead and return how many rows failed (a label that is not a class index is
read as class 0, so nothing is indexed out of range), and the caller raises the clear error
(``FocalLoss._grad_hess_checked``): one pass over the data instead of three.

Two families: the reference kernels (float64 arithmetic with libm exp/log, any output dtype;
used for float64 outputs and as the accuracy reference) and, at the end of this module, the
SIMD kernels for float32 outputs, built on :mod:`boost_focal._fastmath` (float64 arithmetic with
vectorisable exp/log1p; about half a float32 ulp from the reference). The class posterior is
NumPy (:mod:`boost_focal._posterior`), split over the same threads.
"""

import contextlib
import contextvars
import functools
import hashlib
import itertools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numba
import numpy as np
from numba import njit

from . import _native, _posterior
from ._fastmath import (
    FLAGS,
    POW_GENERAL,
    binary_element_vec,
    exp_vec,
    fmin,
    focal_base_vec,
    focal_derivs_vec,
    fmax,
    focal_pow_halves,
    log1p_vec,
    pow_kind,
    safeguard_vec,
    softmax_other_vec,
    store32,
)
from ._scalar import (
    HESS_BOHNING,
    HESS_EXACT,
    binary_element,
    softmax_row,
    softmax_row_loss,
)


# ---------------------------------------------------------------------------------------------
# Threads: every kernel is compiled serial and nogil, and split across a small pool of Python
# threads (run_split), not with prange. Inside xgb.train (1M rows, 20 rounds, measured on a busy
# 2-core machine), prange on Numba's OpenMP layer made training 1.24x the built-in objective
# against 1.09x for the pool and 1.14x for one thread: XGBoost ships its own libgomp, whose idle
# threads spin while ours run and the other way round; idle pool threads block instead.

# How many threads: the innermost use_threads(n) of the calling context (the estimators pass
# their n_jobs), else Numba's setting (numba.set_num_threads, NUMBA_NUM_THREADS). Numba's is
# read without starting Numba's threading layer, and the estimators never set it: Numba's OpenMP
# layer shares the system libgomp with LightGBM, and numba.set_num_threads calls around a fit
# slowed LightGBM's own 2-thread training (1k rows, K=5: 417 ms a fit against 318 ms without
# them, measured 2026-12-02).
_THREADS = contextvars.ContextVar("boost_focal_kernel_threads", default=None)


def thread_count():
    """The number of threads the kernels may use in this context (see above)."""
    limit = _THREADS.get()
    if limit is not None:
        return limit
    from numba.np.ufunc import parallel

    if getattr(parallel, "_is_initialized", True):  # the user (or anyone) started Numba's layer
        return numba.get_num_threads()
    return numba.config.NUMBA_NUM_THREADS


@contextlib.contextmanager
def use_threads(count):
    """Run the kernels called in this context on up to ``count`` threads."""
    token = _THREADS.set(max(1, int(count)))
    try:
        yield
    finally:
        _THREADS.reset(token)


# Inside a library's training loop (the objectives of the framework adapters and of the
# estimators), calls below this many margin entries run on one thread unless the caller chose a
# count. Right after each boosting round the library's OpenMP workers keep spinning for a few
# milliseconds, so a second kernel thread shares a core with a spinning one for all of a short
# call. In whole estimator fits (200 rounds, 2 threads, 2-core VM, 11-15 pairs in turns, medians
# of the ratios to the library's classifier, 2026-12-03): K=5 at 50k rows (250k entries)
# 1.11x -> 1.05x (LightGBM) and 1.14x -> 1.03x (XGBoost) on one kernel thread; the objective's
# own time in the loop at 200k x 5 was 9.6 ms on two threads against 11.2 ms on one, and at 1M
# binary 6.4-6.7 ms against 6.9-7.5 ms, so larger calls keep the threads. (Binary calls under
# 80k rows run on one thread anyway: MIN_ROWS_PER_THREAD.)
TRAINING_SERIAL_BELOW = 500_000


@contextlib.contextmanager
def training_threads(size):
    """Context for a kernel call of ``size`` margin entries inside a library's training loop: one
    thread below TRAINING_SERIAL_BELOW, unless an enclosing use_threads chose the count."""
    if size < TRAINING_SERIAL_BELOW and _THREADS.get() is None:
        with use_threads(1):
            yield
    else:
        yield


# Below this many rows per thread (about 0.3 ms of work) a call runs on the calling thread only.
MIN_ROWS_PER_THREAD = 40_000
_POOL = {}  # pid -> (ThreadPoolExecutor, workers); a forked child must not reuse its parent's


def _pool(workers):
    pool, size = _POOL.get(os.getpid(), (None, 0))
    if size < workers:
        if pool is not None:
            pool.shutdown(wait=False)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="boost-focal")
        _POOL.clear()
        _POOL[os.getpid()] = (pool, workers)
    return pool


def run_split(kernel, n_rows, min_rows, args_for):
    """kernel(*args_for(lo, hi)) over row ranges covering 0..n_rows, on up to thread_count() threads.

    Returns the sum of the kernel's return values over the ranges (the float32 kernels return
    how many rows had invalid inputs), or None for kernels that return nothing.

    Work is handed out in chunks of about ``min_rows`` rows from a shared counter, the calling
    thread taking part (the kernels are nogil). Dynamic rather than one equal share per thread:
    right after a boosting round XGBoost's OpenMP workers keep spinning for a few milliseconds
    and occupy a core, and an equal split would wait for the thread stuck behind them
    (measured inside xgb.train, 1M rows: 5.8 ms per call with two equal shares, 5.4 ms with
    chunks, 5.5 ms on one thread; 3.1-3.4 ms for the same call outside training).
    """
    if n_rows < 2 * min_rows:  # one thread whatever the setting (skips the thread-count query)
        return kernel(*args_for(0, n_rows))
    threads = min(thread_count(), n_rows // min_rows)
    if threads <= 1:
        return kernel(*args_for(0, n_rows))
    n_chunks = n_rows // min_rows
    bounds = [n_rows * c // n_chunks for c in range(n_chunks + 1)]
    counter = itertools.count()
    lock = threading.Lock()

    def drain():
        total = None
        while True:
            with lock:
                c = next(counter)
            if c >= n_chunks:
                return total
            result = kernel(*args_for(bounds[c], bounds[c + 1]))
            if result is not None:
                total = result if total is None else total + result

    pool = _pool(threads - 1)
    futures = [pool.submit(drain) for _ in range(threads - 1)]
    results = []
    try:
        results.append(drain())
    finally:
        results += [future.result() for future in futures]
    counts = [r for r in results if r is not None]
    return sum(counts) if counts else None


def _slicer(sliced_front, params, sliced_back):
    """args_for(lo, hi) -> (*rows of sliced_front, *params, *rows of sliced_back).

    An empty array (the "unweighted" weights) is passed whole.
    """
    def rows(a, lo, hi):
        return a[lo:hi] if a.shape[0] else a

    whole = (*sliced_front, *params, *sliced_back)
    n_rows = sliced_back[0].shape[0] if sliced_back else None

    def args_for(lo, hi):
        if lo == 0 and hi == n_rows:  # one range: the arrays themselves (small inputs, every round)
            return whole
        return (*(rows(a, lo, hi) for a in sliced_front), *params, *(a[lo:hi] for a in sliced_back))

    return args_for


# ---------------------------------------------------------------------------------------------
# Reference kernels: float64 arithmetic with libm exp/log, any output dtype.


def _source_key():
    """A hash of the scalar-math sources the compiled kernels inline (_fastmath, _scalar)."""
    digest = hashlib.sha256()
    for name in ("_fastmath.py", "_scalar.py"):
        digest.update(Path(__file__).with_name(name).read_bytes())
    return digest.hexdigest()[:16]


# Numba's cache checks the source file of a cached function only, not of the functions it inlines
# from other modules: after an edit of _scalar.py alone, the cached kernels of this module would
# still run the old formulas (seen 2026-12-07 with an editable install). Every cached kernel here
# holds SOURCE_KEY as a closure constant, which Numba's cache keys on, so such an edit compiles anew.
SOURCE_KEY = _source_key()


def _reference_kernels(source_key):
    """The row loops of the reference kernels, with ``source_key`` in their cache key."""

    @njit(cache=True, nogil=True)
    def binary_grad_hess_rows(z, y, w, gamma, alpha_pos, alpha_neg, mode, grad, hess):
        source_key  # noqa: B018 (part of the cache key, see SOURCE_KEY)
        n = z.shape[0]
        has_w = w.shape[0] > 0
        for i in range(n):
            wi = w[i] if has_w else 1.0
            _, g, h = binary_element(z[i], y[i], wi, gamma, alpha_pos, alpha_neg, mode)
            grad[i] = g
            hess[i] = h

    @njit(cache=True, nogil=True)
    def binary_loss_rows(z, y, w, gamma, alpha_pos, alpha_neg, out):
        source_key  # noqa: B018
        n = z.shape[0]
        has_w = w.shape[0] > 0
        for i in range(n):
            wi = w[i] if has_w else 1.0
            loss, _, _ = binary_element(z[i], y[i], wi, gamma, alpha_pos, alpha_neg, 0)
            out[i] = loss

    @njit(cache=True, nogil=True)
    def softmax_grad_hess_rows(z, y, w, gamma, alpha, mode, bohning, grad, hess):
        source_key  # noqa: B018
        n = z.shape[0]
        has_w = w.shape[0] > 0
        for i in range(n):
            wi = w[i] if has_w else 1.0
            yi = int(y[i])
            softmax_row(z, i, yi, wi, gamma, alpha[yi], mode, bohning, grad, hess)

    @njit(cache=True, nogil=True)
    def softmax_loss_rows(z, y, w, gamma, alpha, out):
        source_key  # noqa: B018
        n = z.shape[0]
        has_w = w.shape[0] > 0
        for i in range(n):
            wi = w[i] if has_w else 1.0
            yi = int(y[i])
            out[i] = wi * softmax_row_loss(z, i, yi, gamma, alpha[yi])

    return binary_grad_hess_rows, binary_loss_rows, softmax_grad_hess_rows, softmax_loss_rows


_binary_grad_hess_rows, _binary_loss_rows, _softmax_grad_hess_rows, _softmax_loss_rows = _reference_kernels(SOURCE_KEY)


# The reference kernels over all rows, split across threads by run_split (defined below) like
# the SIMD kernels: serial row loops compile in a fraction of the time of prange loops (parfor
# lowering costs about a second per kernel and variant), and one threading scheme serves both.
# Rows per chunk: the libm kernels take about 30 ns a row (binary), 3 ns an entry for softmax.
MIN_ROWS_REFERENCE = 8_000


def _ref_rows(z):
    return MIN_ROWS_REFERENCE if z.ndim == 1 else max(MIN_ROWS_REFERENCE // z.shape[1], 64)


def binary_grad_hess(z, y, w, gamma, alpha_pos, alpha_neg, mode, grad, hess):
    """(grad, hess) of the binary focal loss into grad/hess (float64 arithmetic, any out dtype)."""
    args = _slicer((z, y, w), (gamma, alpha_pos, alpha_neg, mode), (grad, hess))
    run_split(_binary_grad_hess_rows, z.shape[0], _ref_rows(z), args)


def binary_loss(z, y, w, gamma, alpha_pos, alpha_neg, out):
    """Per-row (weighted) binary focal loss into out."""
    run_split(_binary_loss_rows, z.shape[0], _ref_rows(z), _slicer((z, y, w), (gamma, alpha_pos, alpha_neg), (out,)))


def softmax_grad_hess(z, y, w, gamma, alpha, mode, bohning, grad, hess):
    """(grad, hess) of the softmax focal loss, (n, K), into grad/hess."""
    args = _slicer((z, y, w), (gamma, alpha, mode, bohning), (grad, hess))
    run_split(_softmax_grad_hess_rows, z.shape[0], _ref_rows(z), args)


def softmax_loss(z, y, w, gamma, alpha, out):
    """Per-row (weighted) softmax focal loss into out."""
    run_split(_softmax_loss_rows, z.shape[0], _ref_rows(z), _slicer((z, y, w), (gamma, alpha), (out,)))


# The posterior is NumPy (boost_focal/_posterior.py: it compiles nothing), in chunks of about
# this many entries: a chunk's float64 temporaries stay small (128 kB each, whatever the input
# size), and NumPy's ufuncs release the GIL, so two threads share the chunks like the kernels'.
POSTERIOR_CHUNK = 16_384


def binary_posterior(z, gamma, log_alpha_ratio, out):
    """Binary class posterior (see _posterior.binary_posterior) into out."""
    run_split(_posterior.binary_posterior, z.shape[0], POSTERIOR_CHUNK,
              _slicer((z,), (gamma, log_alpha_ratio), (out,)))


def softmax_posterior(z, gamma, log_alpha, out):
    """Multiclass class posterior (see _posterior.softmax_posterior) into out (n, K)."""
    run_split(_posterior.softmax_posterior, z.shape[0], max(POSTERIOR_CHUNK // z.shape[1], 64),
              _slicer((z,), (gamma, log_alpha), (out,)))


@njit(cache=True, nogil=True)
def labels_in_range(y, top):
    """True when every y is an integer in [0, top] (NaN and inf fail): one pass, no temporaries,
    for :func:`boost_focal._validation.check_labels` on large float label arrays."""
    bad = False
    for i in range(y.shape[0]):
        v = y[i]
        bad |= (v != math.floor(v)) | (v < 0) | (v > top)  # NaN != NaN; +-inf fail the range
    return not bad


# ---------------------------------------------------------------------------------------------
# SIMD kernels for float32 outputs (the dtype XGBoost and LightGBM keep gradients in), built on
# boost_focal._fastmath: float64 arithmetic with vectorisable exp/log1p, about half a float32 ulp
# from the float64 reference for any gamma.
#
# Specialisation: the binary kernel is compiled per (Hessian mode, weighted, round21), the softmax
# kernel once (its output stage per (Hessian mode, round21), called by address; round21 is the
# estimators' variant, which rounds the stored values to 21 bits); the r^gamma method (pow_kind) is
# a runtime argument of both, a loop-invariant branch that LLVM unswitches into one SIMD loop per
# method (see binary_fast_kernel, _softmax_focal_stage), so one compiled kernel serves every gamma.
# (Written as one loop since
# 2026-12-03: a loop per method made Numba type the loop body twice, about 1.2 s more compilation
# for the binary kernel and 0.4 s for softmax stage 3; same bits, same speed.) (Until 2026-12-02 the binary kernel was compiled per gamma kind too: a gamma x
# hessian grid of 8 binary fits then compiled 8 kernels, 6.9-13.9 s in all on a 2-core VM, against
# 3.7-4.9 s now; the runtime selects cost the gamma-2 kernel 9-11%, other gammas nothing.) The variants are
# closure constants, so LLVM folds every branch on them before vectorising the loop
# (numba.literally would do the same but costs ~15 ms per call). Each variant is compiled on first
# use only. Numba's cache tells the variants apart by their closure values; SOURCE_KEY (a hash of
# the inlined scalar-math sources, defined above) is one of them, because the cache does not notice
# edits to an inlined callee in another module.

# Compile options of the fast kernels. Numba builds two wrappers around every compiled function by
# default, one for calls from Python and one for calls from C; each is more IR to optimise and
# machine code to emit in the first fit. The kernels are called from Python only (no C wrapper);
# the softmax stages only from the softmax kernel (neither wrapper). The softmax stages and kernel
# also run without NRT (no reference counting of their array arguments: they allocate nothing, and
# the caller holds every array). Same machine code in the loops, same bits (a cold K = 5 first fit,
# five and four runs in turns on 2026-12-03: compilation 6.15 -> 5.40 s without the wrappers,
# 5.54 -> 4.91 s without NRT as well). The binary kernel keeps NRT: without it, it ran ~30% slower
# (measured 2026-12-03).
_KERNEL = dict(cache=True, nogil=True, error_model="numpy", fastmath=FLAGS, no_cfunc_wrapper=True)
_SOFTMAX_KERNEL = dict(_KERNEL, _nrt=False)
_STAGE = dict(_SOFTMAX_KERNEL, no_cpython_wrapper=True)


def binary_fast_kernel(mode, weighted, round21=False):
    """The kernel variant for (Hessian mode, weighted, round21): see _binary_fast_kernel. One
    object per variant however it is asked for (lru_cache keys on the arguments as written)."""
    return _binary_fast_kernel(int(mode), bool(weighted), bool(round21))


@functools.lru_cache(maxsize=None)
def _binary_fast_kernel(mode, weighted, round21):
    """kernel(z, y, w, gamma, kind, alpha_pos, alpha_neg, grad, hess) for float32 grad/hess.

    z and w may be float32 or float64, y any real dtype; ``kind`` is pow_kind(gamma);
    ``round21``: every stored value rounded to 21 significant bits (the estimators' variant,
    _fastmath.to_float32_round21). One
    compiled kernel per (Hessian mode, weighted, round21) serves every gamma: the branch on kind is
    loop-invariant (LLVM makes a loop for e^(gamma log r) and one for r^n sqrt(r)^(kind % 2) as
    selects).
    ``weighted`` is a variant of its own (w is ignored without it): a weight load under a
    runtime condition would not vectorise, and applying weights in a second pass would round
    twice.
    """
    source_key = SOURCE_KEY

    @njit(**_KERNEL)
    def kernel(z, y, w, gamma, kind, alpha_pos, alpha_neg, grad, hess):
        source_key  # noqa: B018 (part of the cache key, see above)
        # Validation (the caller raises the clear error when bad > 0): a margin that is NaN or
        # infinite, a label other than 0 or 1 (NaN included). A loop of its own: counted inside
        # the arithmetic loop it cost 20-25% of the call (50k rows, float32, measured 2026-12-05),
        # on its own about 0.35 ns a row (memory speed; the rows stay in cache for the next loop).
        bad = 0
        for i in range(z.shape[0]):
            zi = np.float64(z[i])
            yi = np.float64(y[i])
            bad += np.int64((not (abs(zi) < np.inf)) | ((yi != 0.0) & (yi != 1.0)))
        # One loop for every kind: focal_pow's branch on kind is loop-invariant, so LLVM unswitches
        # the loop into an e^(gamma log r) and an r^n sqrt(r) version and vectorises both, while
        # Numba types the body once (the loop written out per kind typed it twice).
        for i in range(z.shape[0]):
            zi = np.float64(z[i])
            yi = np.float64(y[i])
            g, h = binary_element_vec(zi, yi, gamma, kind, alpha_pos, alpha_neg, mode)
            if weighted:
                g *= w[i]
                h *= w[i]
            grad[i] = store32(g, round21)
            hess[i] = store32(h, round21)
        return bad

    return kernel


# ---------------------------------------------------------------------------------------------
# The softmax kernel works on blocks of rows, in stages over the block's rows. The math is that
# of _scalar.softmax_row: m = max_{k != y} z_k (the first such k is the top class),
# t_k = e^(z_k - m), s = 1 + rest with rest = sum over k not in {y, top} of t_k,
# u = (z_y - m) - log s, pi_k = t_k / s, 1 - pi_top = rest / s.
#
# Layout: each block is transposed into (K, rows) scratch, so that every stage is a loop over
# rows with unit stride, which vectorises whatever K is (a loop over K = 10 classes would leave
# most of the work to scalar remainders, and strided gathers are slow on AMD cores). Per-row
# sums still run over k in order: no floating-point reassociation.
#
# Compile time: the stages are separate functions with one signature each, shared by every gamma,
# mode and input dtype except the output stage (one variant per Hessian mode), and the kernel
# calls them by address (see _stage_addresses). The focal terms (stage 3) were once inline in a
# kernel per gamma kind, about 1 s of compilation for every new gamma; they are now one stage
# for all gammas. One function holding everything took ~10 s to compile (Numba's inlining and
# typing grow faster than linearly with size); the stages take well under 1 s each.

SOFTMAX_BLOCK = 256  # rows per block: the (K, rows) float64 scratch stays in L1/L2


@functools.lru_cache(maxsize=None)
def _softmax_exps_stage():
    """Stage 1 as a closure holding SOURCE_KEY (it inlines _fastmath.exp_vec; see _softmax_focal_stage)."""
    source_key = SOURCE_KEY

    @njit(**_STAGE)
    def stage(nb, t, label, m, top, rest, zy, u, inv_s, top_rest):
        """Stages 1-2 on a block of nb rows whose margins the kernel has transposed into t (K, nb)
        and whose labels it has read into label (a label that is not a class index read as 0 and
        flagged by inv_s = 0): t = e^(z_k - m); m, top, rest, z_y; then u = (z_y - m) - log s,
        1/s and 1 - pi_top.

        Returns how many rows of the block have a non-finite margin or an invalid label
        (validation folded into the pass; the caller raises the clear error). Compiled for one
        signature (_EXPS_ARGS) whatever the margins' and labels' dtypes: the kernel reads those.
        """
        source_key  # noqa: B018 (part of the cache key, see SOURCE_KEY)
        k_count = t.shape[0]
        for j in range(nb):
            m[j] = -np.inf
            top[j] = -1
            rest[j] = 0.0
            zy[j] = 0.0
            u[j] = 0.0  # a count of non-finite margins here (u at the end)
        # the largest other logit and its class; non-finite margins counted on the way (folded
        # into this pass: each loop nest costs compilation time in the first fit)
        for k in range(k_count):
            k32 = np.int32(k)
            for j in range(nb):
                v = t[k, j]
                better = (k32 != label[j]) & (v > m[j])
                m[j] = v if better else m[j]
                top[j] = k32 if better else top[j]
                u[j] += 0.0 if abs(v) < np.inf else 1.0
        # exponentials (every exponent <= 0 but the label's, which is not used); the sum of those
        # other than y and top; z_y picked on the way
        for k in range(k_count):
            k32 = np.int32(k)
            for j in range(nb):
                v = t[k, j]
                e = exp_vec(fmin(v - m[j], 0.0))
                t[k, j] = e
                rest[j] += e if (k32 != label[j]) & (k32 != top[j]) else 0.0
                zy[j] = v if k32 == label[j] else zy[j]
        # stage 2 (once a function of its own: every compiled function costs ~0.25 s of fixed
        # compilation overhead on a 2-core VM); the bad-row count read before u is written
        bad = 0
        for j in range(nb):
            bad += np.int64(not ((u[j] == 0.0) & (inv_s[j] != 0.0)))
            # log s = log(1 + rest) by _fastmath.log1p_vec, not libm's log: the call kept this loop
            # scalar, about 10 ns a row (a third of the stage at K = 5; measured 2026-12-03)
            u[j] = (zy[j] - m[j]) - log1p_vec(rest[j])
        for j in range(nb):
            s = 1.0 + rest[j]
            inv_s[j] = 1.0 / s
            top_rest[j] = rest[j] / s  # 1 - pi_top without cancellation
        return bad

    return stage


@functools.lru_cache(maxsize=None)
def _softmax_focal_stage():
    """Stage 3 (one variant for every gamma), as a closure holding SOURCE_KEY: it inlines
    _fastmath's focal terms, and a module-level function's cache entry is keyed by its own
    file only (see SOURCE_KEY)."""
    source_key = SOURCE_KEY

    @njit(**_STAGE)
    def stage(nb, u, gamma, kind, bohning, d1, d2, floor):
        """Stage 3: focal terms of u across the block; d2 holds alpha_y on entry.

        Out: d1 = l'(u), d2 = l''(u), floor = alpha_y r^gamma * bohning. ``kind`` (pow_kind)
        is a runtime value here, so that one compiled stage serves every gamma: the branch on
        it is loop-invariant (LLVM unswitches the loop; Numba types the body once), and r^gamma
        is e^(gamma log r) or _fastmath.focal_pow_halves (multiplications as selects). Per row
        these are the operations of _fastmath.focal_terms_vec in the same order (the binary
        kernel's form), so the results are the same bit for bit.
        """
        source_key  # noqa: B018 (part of the cache key, see above)
        general = kind == POW_GENERAL
        for j in range(nb):
            q, r, log_q, log_r = focal_base_vec(u[j])
            if general:  # loop-invariant: LLVM unswitches the loop, Numba types its body once
                r_gamma = exp_vec(gamma * log_r)
            else:
                r_gamma = focal_pow_halves(r, kind)
            arg = d2[j] * r_gamma
            _, a1, a2 = focal_derivs_vec(q, r, log_q, arg, gamma)
            d1[j] = a1
            d2[j] = a2
            floor[j] = arg * bohning

    return stage


@functools.lru_cache(maxsize=None)
def _softmax_output_stage(mode, round21):
    """Stage 4 for one Hessian mode: grad/hess of every class, back in (nb, K) order; with
    ``round21`` every stored value rounded to 21 significant bits (_fastmath.to_float32_round21)."""
    source_key = SOURCE_KEY
    # the Boehning floor is on l''(u) (as in _scalar.softmax_row): every class then gets the chain
    # rule's exact Hessian of the floored curvature
    floored = mode == HESS_BOHNING
    class_mode = HESS_EXACT if floored else mode

    @njit(**_STAGE)
    def stage(nb, t, ht, label, top, inv_s, top_rest, d1, d2, floor, w, class_major, start, grad, hess):
        """grad/hess (and w) are whole arrays; rows start..start+nb are written, grad/hess being
        (n, K), or (K, n) when ``class_major`` (see stage 1)."""
        source_key  # noqa: B018 (part of the cache key, see above)
        k_count = t.shape[0]
        for k in range(k_count):
            k32 = np.int32(k)
            for j in range(nb):
                pi = t[k, j] * inv_s[j]
                one_minus_pi = top_rest[j] if k32 == top[j] else 1.0 - pi
                d2j = fmax(d2[j], floor[j]) if floored else d2[j]
                g, h = softmax_other_vec(pi, one_minus_pi, d1[j], d2j, floor[j], class_mode)
                is_y = k32 == label[j]
                t[k, j] = d1[j] if is_y else g
                ht[k, j] = safeguard_vec(d2j, floor[j], class_mode) if is_y else h
        if class_major:
            if w.shape[0] > 0:
                for k in range(k_count):
                    for j in range(nb):
                        grad[k, start + j] = store32(w[start + j] * t[k, j], round21)
                        hess[k, start + j] = store32(w[start + j] * ht[k, j], round21)
            else:
                for k in range(k_count):
                    for j in range(nb):
                        grad[k, start + j] = store32(t[k, j], round21)
                        hess[k, start + j] = store32(ht[k, j], round21)
        elif w.shape[0] > 0:
            for j in range(nb):
                for k in range(k_count):
                    grad[start + j, k] = store32(w[start + j] * t[k, j], round21)
                    hess[start + j, k] = store32(w[start + j] * ht[k, j], round21)
        else:
            for j in range(nb):
                for k in range(k_count):
                    grad[start + j, k] = store32(t[k, j], round21)
                    hess[start + j, k] = store32(ht[k, j], round21)

    return stage


# The stages are compiled once each, for one signature, and the kernel calls them through their
# addresses (boost_focal._native): it links none of their code, so LLVM neither optimises nor
# emits it again for every kernel variant (a cold K = 5 first fit, six runs in turns on the 2-core
# VM, 2026-12-03: compilation 3.18 -> 2.33 s, median; same bits). The stages' work per call is a
# block of SOFTMAX_BLOCK rows; the kernel is 1-4% slower (calls LLVM can no longer inline).
_F8_1 = numba.types.Array(numba.types.float64, 1, "C")
_F8_2 = numba.types.Array(numba.types.float64, 2, "C")
_I4_1 = numba.types.Array(numba.types.int32, 1, "C")
_F4_2 = numba.types.Array(numba.types.float32, 2, "C")
_i8, _f8 = numba.types.int64, numba.types.float64
_EXPS_ARGS = (_i8, _F8_2, _I4_1, _F8_1, _I4_1, _F8_1, _F8_1, _F8_1, _F8_1, _F8_1)
_FOCAL_ARGS = (_i8, _F8_1, _f8, _i8, _f8, _F8_1, _F8_1, _F8_1)
_OUTPUT_ARGS = (_i8, _F8_2, _F8_2, _I4_1, _I4_1, _F8_1, _F8_1, _F8_1, _F8_1, _F8_1, _F8_1,
                numba.types.boolean, _i8, _F4_2, _F4_2)
_call_exps = _native.caller("softmax stage 1", _EXPS_ARGS, _i8)
_call_focal = _native.caller("softmax stage 3", _FOCAL_ARGS, numba.types.none)
_call_output = _native.caller("softmax stage 4", _OUTPUT_ARGS, numba.types.none)


def _stage_addresses(mode, round21=False):
    """(stage 1, stage 3, stage 4 for ``mode`` and ``round21``) compiled (or loaded from the
    cache) in this process, as the addresses the softmax kernel calls."""
    return _stage_addresses_of(int(mode), bool(round21))


@functools.lru_cache(maxsize=None)
def _stage_addresses_of(mode, round21):
    return (
        _native.address(_softmax_exps_stage(), _EXPS_ARGS),
        _native.address(_softmax_focal_stage(), _FOCAL_ARGS),
        _native.address(_softmax_output_stage(mode, round21), _OUTPUT_ARGS),
    )


@functools.lru_cache(maxsize=None)
def softmax_fast_kernel():
    """kernel(z, y, w, lo, hi, z_major, gamma, kind, alpha, bohning, grad, hess, out_major,
    *softmax_scratch(hi - lo, K), *_stage_addresses(mode, round21)) for float32 grad/hess, rows lo..hi.

    All arrays are whole and C-contiguous: z float32 or float64 (n, K), or (K, n) when z_major
    (an F-ordered (n, K) margin passed as its transpose: LightGBM's margins), grad/hess float32
    (n, K), or (K, n) when out_major. So one compiled kernel serves both layouts, LightGBM's
    margins are read and its class-major gradients written without a copy, and threads split rows
    by range rather than by slicing (a row slice of a class-major array would be non-contiguous,
    another compiled variant). Runs the stages block by block, through their addresses. One
    compiled kernel serves every gamma and Hessian mode: ``kind`` (pow_kind(gamma)) is a runtime
    argument of stage 3 (a kernel per gamma kind cost about 1 s of compilation for each new
    gamma), and the mode is which stage 4 the caller passes.
    """
    source_key = SOURCE_KEY

    @njit(**_SOFTMAX_KERNEL)
    def kernel(z, y, w, lo, hi, z_major, gamma, kind, alpha, bohning, grad, hess, out_major, scratch, ints,
               exps_stage, focal_stage, output_stage):
        source_key  # noqa: B018 (part of the cache key, see above)
        k_count = z.shape[0] if z_major else z.shape[1]
        # Scratch from the caller (softmax_scratch): allocating here would compile np.empty's
        # overloads into the first fit (about 0.25 s).
        t, ht = scratch[:k_count], scratch[k_count:2 * k_count]
        m, rest, zy, u = scratch[2 * k_count], scratch[2 * k_count + 1], scratch[2 * k_count + 2], scratch[2 * k_count + 3]
        inv_s, top_rest, d1 = scratch[2 * k_count + 4], scratch[2 * k_count + 5], scratch[2 * k_count + 6]
        d2, floor = scratch[2 * k_count + 7], scratch[2 * k_count + 8]
        label, top = ints[0], ints[1]
        bad = 0
        for start in range(lo, hi, SOFTMAX_BLOCK):
            nb = SOFTMAX_BLOCK if start + SOFTMAX_BLOCK < hi else hi - start
            # The block's margins transposed to (K, nb) and its labels read: the two loops that
            # depend on the input dtypes and layout stay here, so the stages have one signature.
            # z is (n, K), or (K, n) when z_major (LightGBM's F-ordered margins passed as their
            # C-ordered transpose, read without a copy).
            if z_major:
                for k in range(k_count):
                    for j in range(nb):
                        t[k, j] = z[k, start + j]
            else:
                for j in range(nb):
                    for k in range(k_count):
                        t[k, j] = z[start + j, k]
            # A label that is not a class index is read as 0 (so alpha is never indexed out of
            # range) and flagged by inv_s = 0 (stage 1 counts it, then writes 1/s there).
            for j in range(nb):
                yj = np.float64(y[start + j])
                valid = (yj >= 0.0) & (yj <= k_count - 1.0) & (yj == math.floor(yj))
                inv_s[j] = 1.0 if valid else 0.0
                label[j] = np.int32(yj) if valid else np.int32(0)
            bad += _call_exps(exps_stage, nb, t, label, m, top, rest, zy, u, inv_s, top_rest)
            for j in range(nb):
                d2[j] = alpha[label[j]]  # gathered first: stage 3 stays a pure map
            _call_focal(focal_stage, nb, u, gamma, kind, bohning, d1, d2, floor)
            _call_output(output_stage, nb, t, ht, label, top, inv_s, top_rest, d1, d2, floor, w, out_major,
                         start, grad, hess)
        return bad

    return kernel


def softmax_scratch(n_rows, k):
    """The softmax kernel's block scratch for a call over n_rows rows: (float64 (2K + 9, B), int32 (2, B))."""
    size = min(SOFTMAX_BLOCK, n_rows)
    return np.empty((2 * k + 9, size)), np.empty((2, size), dtype=np.int32)


def binary_f32_call(y, w, gamma, alpha_pos, alpha_neg, mode, grad, hess, round21=False, serial=False):
    """call(z) -> bad: binary_grad_hess_f32 with everything but the margins bound once.

    For a training loop, which calls the kernel every round with the same labels, weights and
    outputs: the per-call Python (kernel lookup, argument conversion, the thread split) is paid
    here instead; with caches cold, as a boosting round leaves them, those layers cost more than
    the kernel on small inputs (measured 2026-12-07, docs/performance.md). ``round21``: the kernel
    variant that rounds every stored value to 21 significant bits (the estimators' frequency-weight
    rounding, in the stores instead of a NumPy pass after the kernel). ``serial``: always on the
    calling thread (the estimators' rule inside a library's loop below TRAINING_SERIAL_BELOW);
    otherwise rows are split as run_split does.
    """
    kernel = binary_fast_kernel(mode, w.shape[0] > 0, round21)
    params = (float(gamma), pow_kind(gamma), float(alpha_pos), float(alpha_neg))
    n_rows = grad.shape[0]
    if serial or n_rows < 2 * MIN_ROWS_PER_THREAD:

        def call(z):
            return kernel(z, y, w, *params, grad, hess)

    else:

        def call(z):
            return run_split(kernel, n_rows, MIN_ROWS_PER_THREAD, _slicer((z, y, w), params, (grad, hess)))

    return call


def binary_grad_hess_f32(z, y, w, gamma, alpha_pos, alpha_neg, mode, grad, hess):
    """binary_grad_hess through the SIMD kernel: float32 grad/hess (z may be float64).

    Returns the number of rows with a non-finite margin or a label other than 0/1 (0: all valid).
    """
    return binary_f32_call(y, w, gamma, alpha_pos, alpha_neg, mode, grad, hess)(z)


def softmax_f32_call(y, w, gamma, alpha, mode, bohning, grad, hess, round21=False, serial=False):
    """call(z) -> bad: softmax_grad_hess_f32 with everything but the margins bound once (see
    binary_f32_call); on one thread the block scratch is allocated here, once."""
    kernel = softmax_fast_kernel()
    alpha = np.ascontiguousarray(alpha, dtype=np.float64)
    n, k = grad.shape
    grad, out_major = _c_view(grad, output=True)
    hess, hess_major = _c_view(hess, output=True)
    if hess_major != out_major:
        raise ValueError("grad and hess must be in the same memory order (both C or both F)")
    w = np.ascontiguousarray(w, dtype=np.float64)  # stage 4's one signature (w * g in float64 either way)
    back = (float(gamma), pow_kind(gamma), alpha, float(bohning), grad, hess, out_major)
    stages = _stage_addresses(mode, round21)
    min_rows = max(MIN_ROWS_PER_THREAD // k, SOFTMAX_BLOCK)
    if serial or n < 2 * min_rows:
        scratch = softmax_scratch(n, k)

        def call(z):
            z, z_major = _c_view(z)
            return kernel(z, y, w, 0, n, z_major, *back, *scratch, *stages)

    else:

        def call(z):
            z, z_major = _c_view(z)

            def args_for(lo, hi):  # scratch of its own for every call (calls run in parallel threads)
                return (z, y, w, lo, hi, z_major, *back, *softmax_scratch(hi - lo, k), *stages)

            return run_split(kernel, n, min_rows, args_for)

    return call


def softmax_grad_hess_f32(z, y, w, gamma, alpha, mode, bohning, grad, hess):
    """softmax_grad_hess through the SIMD kernel: float32 (n, K) grad/hess (z may be float64).

    Returns the number of rows with a non-finite margin or a label not in 0..K-1 (0: all valid).
    """
    return softmax_f32_call(y, w, gamma, alpha, mode, bohning, grad, hess)(z)


def _c_view(a, output=False):
    """(C-contiguous array, class_major): a itself (False), or the transpose of an F-ordered
    (n, K) array (True). Another input is copied to C order; an output must be C or F."""
    if a.flags.c_contiguous:
        return a, False
    if a.flags.f_contiguous:
        return a.T, True
    if output:
        raise ValueError("grad and hess outputs must be C- or F-contiguous")
    return np.ascontiguousarray(a), False
