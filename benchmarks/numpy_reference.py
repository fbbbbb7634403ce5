"""The baseline users would otherwise write: focal gradients in vectorised NumPy (float32).

Same stable formulas as ``boost_focal._scalar`` (docs/math.md), written the way a careful
NumPy user would: whole-array operations, float32 throughout (NumPy's own SIMD exp/log), one
temporary per step. Used only by the benchmark, as the "vs NumPy" column and as a sanity check
that both compute the same numbers.
"""

import numpy as np


def focal_terms(u, gamma, a):
    """(l', l'', a r^gamma) at signed margin u (float32 arrays), stable forms."""
    e = np.exp(-np.abs(u))
    inv = 1.0 / (1.0 + e)
    pos = u >= 0
    q = np.where(pos, inv, e * inv)
    r = np.where(pos, e * inv, inv)
    l1p = np.log1p(e)
    log_q = np.minimum(u, 0) - l1p
    log_r = np.minimum(-u, 0) - l1p
    arg = a * np.exp(gamma * log_r)
    d1 = arg * (gamma * q * log_q - r)
    d2 = arg * ((2 * gamma + 1) * q * r + gamma * (q * log_q) * (r - gamma * q))
    return d1, d2, arg


def binary_grad_hess(z, y, gamma, alpha):
    """Binary focal (grad, hess) with the Boehning floor max(H, a r^gamma / 4)."""
    s = np.where(y > 0.5, np.float32(1), np.float32(-1))
    a = np.where(y > 0.5, np.float32(alpha), np.float32(1 - alpha))
    d1, d2, arg = focal_terms(s * z, gamma, a)
    return s * d1, np.maximum(d2, arg * 0.25)


def softmax_grad_hess(z, y, gamma, alpha):
    """Softmax focal (grad, hess) of (n, K) margins, labels 0..K-1, per-class alpha (K,)."""
    n, k = z.shape
    rows = np.arange(n)
    y = y.astype(np.intp)
    others = z.copy()
    others[rows, y] = -np.inf
    m = others.max(axis=1, keepdims=True)
    t = np.exp(others - m)  # 0 at the true class
    s = t.sum(axis=1, keepdims=True)
    pi = t / s
    u = (z[rows, y] - m[:, 0]) - np.log(s[:, 0])
    d1, d2, arg = focal_terms(u, gamma, alpha.astype(np.float32)[y])
    # the Boehning floor on l''(u), carried to every class by the chain rule (docs/math.md, section 4)
    d2 = np.maximum(d2, arg * ((1 - 1 / k) / 2))
    d1, d2 = d1[:, None], d2[:, None]
    grad = -pi * d1
    hess = pi * pi * d2 - pi * (1 - pi) * d1
    grad[rows, y] = d1[:, 0]
    hess[rows, y] = d2[:, 0]
    return grad, hess
