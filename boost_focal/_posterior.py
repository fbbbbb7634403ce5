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
is ever selected (tests/test_posterior.py checks the result against mpmath at margins up to 1e4,
and against the compiled ``_scalar`` forms on random margins, gammas and alphas).

Each array pass costs about as much as the arithmetic (NumPy's float64 exp and log are 4-5 ns an
element on the project's VM, log1p about 9), so the forms here share intermediates: one exp and
one log1p of |u| feed every softplus term, and logaddexp's log(1 + d) uses log, not log1p (an
absolute error of an ulp of 1, which is all the posterior's sigmoid/softmax needs). Against the
separate-pass forms of 2026-12-06: binary posterior 2.3-2.7x faster, softmax 1.5-1.7x
(docs/performance.md, 2026-12-07).
"""

import numpy as np


def log_phi(u, gamma):
    """log phi(q) for q = sigmoid(u), float64, elementwise (``_scalar.log_phi``).

    log phi = (gamma - 1) log r + logaddexp(-u, log gamma + log s), r = 1 - q, s = -log q =
    softplus(-u); at gamma = 0, phi = 1/q and log phi = softplus(-u). Everything comes from
    a = |u|, e = e^-a and l = log1p(e): log r = -(max(u, 0) + l), s = l for u >= 0 and a + l
    below, so one exp, one log1p and one log (of l / e or of a + l, chosen before the log)
    before the logaddexp.
    """
    u = np.asarray(u, dtype=np.float64)
    with np.errstate(all="ignore"):
        a = np.abs(u)
        e = np.exp(-a)
        l = np.log1p(e)  # noqa: E741
        if gamma == 0.0:
            return np.maximum(-u, 0.0) + l
        easy = u >= 0.0
        # log s without log(0): for u >= 0, s = l = e * (l / e) (the ratio -> 1 where e
        # underflows), log s = log(l / e) - a; for u < 0, s = a + l >= log 2
        log_s = np.log(np.where(easy, np.where(e > 0.0, l / e, 1.0), a + l)) - np.where(easy, a, 0.0)
        log_r = -(np.maximum(u, 0.0) + l)
        return (gamma - 1.0) * log_r + _logaddexp(-u, np.log(gamma) + log_s)


def binary_posterior(z, gamma, log_alpha_ratio, out):
    """P(y = 1) of binary margins z (n,) into out (n,); log_alpha_ratio = log(alpha_0 / alpha_1).

    eta = sigmoid(t), t = log_alpha_ratio + log phi(-z) - log phi(z). The two log phi terms are
    formed from the same few intermediates of a = |z| (one exp, one log1p, two logs, instead of
    two independent :func:`log_phi` calls: about 2.5x fewer transcendental passes). With
    e = e^-a and l = log1p(e) = softplus(-a), the easy side u = a and the hard side u = -a are

        log phi(+a) = -(gamma - 1)(a + l) + logaddexp(-a, log gamma + log l)
        log phi(-a) = -(gamma - 1) l      + logaddexp(a,  log gamma + log(a + l))

    (log r = log sigmoid(-u), s = softplus(-u), as in :func:`log_phi`), and t - log_alpha_ratio
    is odd in z: log phi(-a) - log phi(a) for z >= 0, its negative below.
    """
    z = np.asarray(z, dtype=np.float64)
    with np.errstate(all="ignore"):
        if gamma == 0.0:
            t = log_alpha_ratio + z  # phi = 1/q: log phi(-z) - log phi(z) = softplus(z) - softplus(-z) = z
        else:
            a = np.abs(z)
            e = np.exp(-a)
            l = np.log1p(e)  # noqa: E741
            # log l without log(0): l = e * (log1p(e)/e), the ratio -> 1 where e underflows
            log_l = np.log(np.where(e > 0.0, l / e, 1.0)) - a
            g = np.log(gamma)
            easy = _logaddexp(-a, g + log_l) - (gamma - 1.0) * (a + l)
            hard = _logaddexp(a, g + np.log(a + l)) - (gamma - 1.0) * l
            d = hard - easy
            t = log_alpha_ratio + np.where(z >= 0.0, d, -d)
        # sigmoid(t) without overflow: 1 / (1 + e^-t) for t >= 0, e^t / (1 + e^t) below
        et = np.exp(-np.abs(t))
        out[:] = np.where(t >= 0.0, 1.0, et) / (1.0 + et)


def _logaddexp(x, y):
    """log(e^x + e^y) = max + log(1 + e^-|x - y|). log(1 + d) for d in [0, 1] instead of log1p:
    its absolute error is a float64 ulp of 1, and only absolute errors of t matter to sigmoid(t)
    (a relative error of eta, or of 1 - eta, at most that large)."""
    return np.maximum(x, y) + np.log(1.0 + np.exp(-np.abs(x - y)))


def softmax_posterior(z, gamma, log_alpha, out):
    """Class posteriors of multiclass margins z (n, K) into out (n, K), rows summing to 1.

    phi needs log q = log p_k and log r = log(1 - p_k). For every class but the argmax,
    p_k <= 1/2, so both are accurate from the row's exponentials: with s = sum_j e^(z_j - z_m),
    log p_k = z_k - z_m - log s and log(1 - p_k) = log(s - e^(z_k - z_m)) - log s (s - e^(..) >=
    s / 2: no cancellation; only its absolute error matters, see below). For the argmax, u is
    formed as z_m - logsumexp_{j != m} z_j, never from 1 - p_m. The unnormalised log posteriors
    v_k = -log alpha_k - log phi(u_k) are exponentiated against ref = -log phi(u_m) -
    min_j log alpha_j, an upper bound (phi decreases and u_k <= u_m), so only values in [0, 1]
    are formed before the row normalisation, and an absolute error of a few ulps in v_k is a
    relative error of that size in the posterior.
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
        e_other = np.exp(others - m2[:, None])  # 0 at the argmax
        s_other = e_other.sum(axis=1)  # >= 1: never log(0)
        # e^(z_k - zm) and their sum from the same exponentials (one pass over the logits, not
        # two): the others rescaled by e^(m2 - zm) <= 1, plus the argmax's 1 (an underflow there
        # is the right float64 answer, 1 + something below an ulp)
        e_max = e_other * np.exp(m2 - zm)[:, None]  # e^(z_k - zm); 0 at the argmax
        s = 1.0 + e_max.sum(axis=1)
        log_s = np.log(s)
        log_phi_m = log_phi(zm - m2 - np.log(s_other), gamma)
        ref = -log_phi_m - np.min(log_alpha)
        lp = z - (zm + log_s)[:, None]  # log p_k
        # log phi of the other classes straight from log q = log p_k and log r = log(1 - p_k),
        # the terms log_phi would rebuild from u = log q - log r: (gamma - 1) log r +
        # logaddexp(log r - log q, log gamma + log(-log q)); at gamma = 0, log phi = -log q.
        # The argmax entry (garbage here when p -> 1) is replaced below.
        if gamma == 0.0:
            lph = -lp
        else:
            log_r = np.log(s[:, None] - e_max) - log_s[:, None]
            lph = (gamma - 1.0) * log_r + _logaddexp(log_r - lp, np.log(gamma) + np.log(-lp))
        # the argmax, and every class tied with it, from the argmax's own form: equal logits
        # get equal posteriors exactly (argmax and ranks as the margins have them)
        lph = np.where(z == zm[:, None], log_phi_m[:, None], lph)
        e = np.exp(-np.asarray(log_alpha)[None, :] - lph - ref[:, None])
        out[...] = e / e.sum(axis=1, keepdims=True)
