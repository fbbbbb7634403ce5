"""CUDA kernels: one GPU thread per row, calling the scalar math in :mod:`boost_focal._scalar`.

This module imports ``numba.cuda`` and is itself imported only by :mod:`boost_focal._cuda`
when a device array or an XGBoost ``device="cuda"`` booster shows up, so the package imports
without numba-cuda.

The per-element math is not repeated here: the kernels call the same ``@njit`` functions as
the CPU kernels in :mod:`boost_focal._cpu` (``binary_element``, ``softmax_row``, ...), which
numba-cuda compiles for the device when a CUDA kernel calls them. Inputs keep the dtypes the
CPU kernels see (margin float32/float64, labels in their own dtype, weights float64), so both
targets compile the same typed code and agree to the margin's float precision.

Unlike the CPU kernels, these also validate what they read, because device inputs cannot be
checked on the host without a copy: a thread that finds a non-finite margin, a label that is
not a class index, or a negative/non-finite weight sets ``flags[MARGIN|LABEL|WEIGHT] = 1``
(racing writes of the same value are harmless) and skips the row, so an out-of-range label
never indexes out of bounds. The caller reads the three flags back (one 12-byte copy, which
also waits for the kernel) and raises a clear error.
"""

import math

from numba import cuda

from ._scalar import binary_element, log_phi, log_sigmoid, softmax_row, softmax_row_loss

FLAG_MARGIN = 0
FLAG_LABEL = 1
FLAG_WEIGHT = 2
N_FLAGS = 3


def _simulated():
    """True under NUMBA_ENABLE_CUDASIM=1 (read by numba-cuda when numba.cuda is imported)."""
    return cuda.jit.__module__.startswith("numba.cuda.simulator")


SIMULATOR = _simulated()

# Threads per block. The simulator runs every thread as a Python thread: keep its blocks small.
BLOCK = 32 if SIMULATOR else 256

# Row functions take arrays. On the GPU, numba-cuda compiles the njit dispatcher for the device.
# The simulator runs kernels as Python and cannot unbox its fake device arrays into compiled CPU
# code, so there the kernels call the same function's Python source (its scalar callees, such
# as focal_terms, still run compiled).
_softmax_row = softmax_row.py_func if SIMULATOR else softmax_row
_softmax_row_loss = softmax_row_loss.py_func if SIMULATOR else softmax_row_loss


@cuda.jit(device=True)
def _weight(w, has_w, i, flags):
    """w[i] (float64), or 1.0 when unweighted; flags a negative or non-finite weight."""
    wi = w[i] if has_w else 1.0
    if not (wi >= 0.0 and math.isfinite(wi)):  # also catches NaN
        flags[FLAG_WEIGHT] = 1
        return -1.0
    return wi


@cuda.jit(device=True)
def _row_finite(z, i, flags):
    """True if every margin of row i is finite; flags it otherwise."""
    for k in range(z.shape[1]):
        if not math.isfinite(z[i, k]):
            flags[FLAG_MARGIN] = 1
            return False
    return True


@cuda.jit(device=True)
def _class_index(y, i, k_count, flags):
    """int(y[i]) if it is an integer in 0..k_count-1, else -1 (and the label flag is set)."""
    v = y[i]
    if v >= 0 and v < k_count and int(v) == v:  # NaN fails every comparison
        return int(v)
    flags[FLAG_LABEL] = 1
    return -1


@cuda.jit(device=True)
def _binary_row_weight(z, y, w, has_w, i, flags):
    """w_i (1.0 unweighted) if row i is usable, else -1.0: every check runs, flagging what fails."""
    finite = math.isfinite(z[i])
    if not finite:
        flags[FLAG_MARGIN] = 1
    label_ok = _class_index(y, i, 2, flags) >= 0
    wi = _weight(w, has_w, i, flags)
    return wi if finite and label_ok else -1.0


@cuda.jit(device=True)
def _softmax_row_label_weight(z, y, w, has_w, i, flags):
    """(y_i, w_i) if row i is usable, else (-1, -1.0): every check runs, flagging what fails."""
    finite = _row_finite(z, i, flags)
    yi = _class_index(y, i, z.shape[1], flags)
    wi = _weight(w, has_w, i, flags)
    if finite and yi >= 0 and wi >= 0.0:
        return yi, wi
    return -1, -1.0


@cuda.jit(cache=True)
def binary_grad_hess(z, y, w, has_w, gamma, alpha_pos, alpha_neg, mode, grad, hess, flags):
    i = cuda.grid(1)
    if i >= z.shape[0]:
        return
    wi = _binary_row_weight(z, y, w, has_w, i, flags)
    if wi >= 0.0:
        _, g, h = binary_element(z[i], y[i], wi, gamma, alpha_pos, alpha_neg, mode)
        grad[i] = g
        hess[i] = h


@cuda.jit(cache=True)
def binary_loss(z, y, w, has_w, gamma, alpha_pos, alpha_neg, out, flags):
    i = cuda.grid(1)
    if i >= z.shape[0]:
        return
    wi = _binary_row_weight(z, y, w, has_w, i, flags)
    if wi >= 0.0:
        loss, _, _ = binary_element(z[i], y[i], wi, gamma, alpha_pos, alpha_neg, 0)
        out[i] = loss


@cuda.jit(cache=True)
def softmax_grad_hess(z, y, w, has_w, gamma, alpha, mode, bohning, grad, hess, flags):
    i = cuda.grid(1)
    if i >= z.shape[0]:
        return
    yi, wi = _softmax_row_label_weight(z, y, w, has_w, i, flags)
    if yi >= 0:
        _softmax_row(z, i, yi, wi, gamma, alpha[yi], mode, bohning, grad, hess)


@cuda.jit(cache=True)
def softmax_loss(z, y, w, has_w, gamma, alpha, out, flags):
    i = cuda.grid(1)
    if i >= z.shape[0]:
        return
    yi, wi = _softmax_row_label_weight(z, y, w, has_w, i, flags)
    if yi >= 0:
        out[i] = wi * _softmax_row_loss(z, i, yi, gamma, alpha[yi])


@cuda.jit(cache=True)
def binary_posterior(z, gamma, log_alpha_ratio, out, flags):
    """eta = sigmoid(log((1 - alpha)/alpha) + log phi(1 - p) - log phi(p)), as _cpu.binary_posterior."""
    i = cuda.grid(1)
    if i >= z.shape[0]:
        return
    zi = z[i]
    if not math.isfinite(zi):
        flags[FLAG_MARGIN] = 1
        return
    t = log_alpha_ratio + log_phi(-zi, gamma) - log_phi(zi, gamma)
    out[i] = math.exp(log_sigmoid(t))


def launch(kernel, n_rows, *args):
    """Run ``kernel`` with one thread per row."""
    kernel[(n_rows + BLOCK - 1) // BLOCK, BLOCK](*args)
