"""The class posterior on arrays, in vectorised NumPy: the same stable forms as ``_scalar``.

``docs/math.md`` section 6. A margin z that minimises the expected focal loss is mapped back to
the class probabilities it encodes:

    binary:      eta = sigmoid(log((1 - alpha)/alpha) + log phi(1 - p) - log phi(p)),  p = sigmoid(z)
    multiclass:  eta_k proportional to 1 / (alpha_k phi(p_k)),                     p = softmax(z)

with phi(q) = -d/dq [-(1 - q)^gamma log q] (:func:`log_phi`, the array form of
``_scalar.log_phi``, which has the derivation).

Why NumPy and not a Numba kernel: the posterior runs once per prediction, not once per boosting
round, and NumPy's SIMD exp/log make these few array passes about as fast as the scalar-libm
kernel they replace, while a compiled posterior cost the first ``predict_proba`` 0.5-1.2 s of
compilation (binary/multiclass, 2-core VM). Where ``_scalar`` branches per element, both branches
are computed here and ``np.where`` keeps the valid one; the other may overflow or take the log of
a negative number, so every function runs under ``np.errstate(all="ignore")`` and no such value
is ever selected (tests/test_posterior.py checks the result against mpmath at margins up to 1e4).
"""

import numpy as np


def log_sigmoid(x):
    """log(sigmoid(x)): min(x, 0) - log1p(exp(-|x|)) (``_scalar.log_sigmoid``)."""
    return np.minimum(x, 0.0) - np.log1p(np.exp(-np.abs(x)))


def log_phi(u, gamma):
    """log phi(q) for q = sigmoid(u), float64, elementwise (``_scalar.log_phi``).

    log phi = (gamma - 1) log r + logaddexp(-u, log gamma + log s), r = 1 - q, s = -log q =
    softplus(-u); at gamma = 0, phi = 1/q and log phi = softplus(-u).
    """
    u = np.asarray(u, dtype=np.float64)
    with np.errstate(all="ignore"):
        if gamma == 0.0:
            return np.maximum(-u, 0.0) + np.log1p(np.exp(-np.abs(u)))
        log_r = log_sigmoid(-u)
        # log s without log(0): for u >= 0, s = t * (log1p(t) / t) with t = e^-u (the ratio
        # -> 1 where t underflows); for u < 0, s = -u + log1p(e^u) directly.
        t = np.exp(-u)
        ratio = np.where(t > 0.0, np.log1p(t) / t, 1.0)
        log_s = np.where(u >= 0.0, -u + np.log(ratio), np.log(-u + np.log1p(np.exp(u))))
        b = np.log(gamma) + log_s
        hi = np.maximum(-u, b)
        return (gamma - 1.0) * log_r + hi + np.log1p(np.exp(-np.abs(-u - b)))


def binary_posterior(z, gamma, log_alpha_ratio, out):
    """P(y = 1) of binary margins z (n,) into out (n,); log_alpha_ratio = log(alpha_0 / alpha_1)."""
    z = np.asarray(z, dtype=np.float64)
    with np.errstate(all="ignore"):
        t = log_alpha_ratio + log_phi(-z, gamma) - log_phi(z, gamma)
        out[:] = np.exp(log_sigmoid(t))


def softmax_posterior(z, gamma, log_alpha, out):
    """Class posteriors of multiclass margins z (n, K) into out (n, K), rows summing to 1.

    phi needs u_k = logit(p_k) = log p_k - log(1 - p_k). For every class but the argmax,
    p_k <= 1/2, so log(1 - p_k) = log1p(-p_k) is accurate; for the argmax, u is formed as
    z_m - logsumexp_{j != m} z_j, never from 1 - p_m. The unnormalised log posteriors
    v_k = -log alpha_k - log phi(u_k) are exponentiated against ref = -log phi(u_m) -
    min_j log alpha_j, an upper bound (phi decreases and u_k <= u_m), so only values in [0, 1]
    are formed before the row normalisation.
    """
    z = np.asarray(z, dtype=np.float64)
    n = z.shape[0]
    rows = np.arange(n)
    with np.errstate(all="ignore"):
        m = np.argmax(z, axis=1)  # the first largest logit, as a strict > scan finds it
        zm = z[rows, m]
        others = z.copy()
        others[rows, m] = -np.inf
        m2 = others.max(axis=1)  # the largest of the other logits
        s = np.exp(z - zm[:, None]).sum(axis=1)
        s_other = np.exp(others - m2[:, None]).sum(axis=1)  # >= 1: never log(0)
        lse = zm + np.log(s)
        log_phi_m = log_phi(zm - m2 - np.log(s_other), gamma)
        ref = -log_phi_m - np.min(log_alpha)
        lp = z - lse[:, None]
        lph = log_phi(lp - np.log1p(-np.exp(lp)), gamma)
        lph[rows, m] = log_phi_m
        e = np.exp(-np.asarray(log_alpha)[None, :] - lph - ref[:, None])
        out[...] = e / e.sum(axis=1, keepdims=True)
