"""CPU kernels: loops over rows that call the scalar math in :mod:`boost_focal._scalar`.

Inputs are validated by the caller (:mod:`boost_focal._validation`); these kernels assume
contiguous arrays of matching length, labels already checked to be in range, and an empty
weight array meaning "all weights are 1". Outputs are written into preallocated arrays of the
margin's dtype; the arithmetic is float64 throughout.
"""

import math

import numpy as np
from numba import njit, prange

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
    """
    n, k_count = z.shape
    for i in prange(n):
        m = 0
        for k in range(1, k_count):
            if z[i, k] > z[i, m]:
                m = k
        m2 = -math.inf  # the largest of the other logits
        for k in range(k_count):
            if k != m and z[i, k] > m2:
                m2 = z[i, k]
        s = 0.0
        s_other = 0.0
        for k in range(k_count):
            s += math.exp(z[i, k] - z[i, m])
            if k != m:
                s_other += math.exp(z[i, k] - m2)  # >= 1: never log(0)
        lse = z[i, m] + math.log(s)
        best = -math.inf
        for k in range(k_count):
            if k == m:
                u = z[i, m] - m2 - math.log(s_other)
            else:
                lp = z[i, k] - lse
                u = lp - math.log1p(-math.exp(lp))
            v = -log_alpha[k] - log_phi(u, gamma)
            out[i, k] = v
            if v > best:
                best = v
        tot = 0.0
        for k in range(k_count):
            e = math.exp(out[i, k] - best)
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
