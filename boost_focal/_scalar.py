"""Scalar focal-loss math: the single source of truth for every kernel.

Each function here works on one element (or one row, given as an array and a row
index) and is compiled twice: by ``numba.njit`` for the CPU kernels in
:mod:`boost_focal._cpu`, and by ``numba.cuda`` for the GPU kernels in
:mod:`boost_focal._cuda` (numba-cuda compiles CPU-jitted functions for the device when a
CUDA kernel calls them). Nothing here allocates, raises or branches on data in a way a GPU
thread could not.

Notation (derived in ``docs/math.md``): for a binary label y and margin z, let
``s = 2y - 1`` and ``u = s z``; then ``p_t = q = sigmoid(u)``, ``r = 1 - q = sigmoid(-u)``
and the focal loss of Lin et al. (2017), "Focal Loss for Dense Object Detection", is

    FL(u) = -a (1 - q)^gamma log q.

Multiclass reduces to the same one-dimensional function: with
``u = z_y - logsumexp_{k != y} z_k`` we have ``p_y = sigmoid(u)`` exactly, and every
derivative of the softmax focal loss is a combination of ``FL'(u)``, ``FL''(u)`` and the
softmax over the *other* classes (``docs/math.md``, section 3).
"""

import math

from numba import njit

# Hessian modes, shared by every kernel. The names live in ``boost_focal.focal``.
HESS_EXACT = 0  # the analytic second derivative, negative where the math says so
HESS_BOHNING = 1  # max(H, a (1 - q)^gamma B): a Boehning-style curvature floor
HESS_ABS = 2  # |H|
HESS_CLIP = 3  # max(H, CLIP_FLOOR)
# FocalLoss.hessian name -> kernel code (shared by the CPU and CUDA paths)
MODE_CODES = {"exact": HESS_EXACT, "bohning": HESS_BOHNING, "abs": HESS_ABS, "clip": HESS_CLIP}

CLIP_FLOOR = 1e-16
# Boehning's bound on the logistic curvature, sigmoid' <= 1/4; for softmax over K classes the
# diagonal bound is (1 - 1/K) / 2 (Boehning 1992). The floor is scaled by a (1 - q)^gamma so it
# vanishes on well-classified rows, exactly like the focal factor itself. For softmax it floors
# l''(u), the curvature along u, and reaches class j through the chain rule (softmax_row).
BOHNING_BINARY = 0.25


@njit(cache=True)
def log_sigmoid(x):
    """log(sigmoid(x)) for any finite x.

    Stable form: min(x, 0) - log1p(exp(-|x|)). The naive log(1 / (1 + exp(-x))) overflows
    for x << 0 and rounds to log(1) = 0 for x >> 0.
    """
    return min(x, 0.0) - math.log1p(math.exp(-abs(x)))


@njit(cache=True)
def focal_terms(u, gamma, a):
    """Focal loss and its first two derivatives in the signed margin u.

    l(u) = -a (1 - q)^gamma log q, with q = sigmoid(u), r = 1 - q:

        l   = a r^gamma softplus(-u)
        l'  = a r^gamma (gamma q log q - r)                                   (<= 0)
        l'' = a q r^gamma ((2 gamma + 1) r + gamma log q (r - gamma q))

    Returns (l, l', l'', a r^gamma); the last is the scale of the Boehning floor.
    """
    # float64 arithmetic even for a float32 margin: exp/log1p of a float32 compile to their
    # float32 versions, and r^gamma amplifies their rounding by gamma (17 ulps at gamma = 20).
    # (Numba types float(float32) as float32; a float64 product promotes on CPU and GPU alike.)
    u = 1.0 * u
    e = math.exp(-abs(u))  # in (0, 1]: never overflows
    inv = 1.0 / (1.0 + e)
    # q and r both from e, so neither is formed as 1 - (something close to 1).
    if u >= 0.0:
        q = inv
        r = e * inv
    else:
        q = e * inv
        r = inv
    l1p = math.log1p(e)
    log_q = min(u, 0.0) - l1p  # log sigmoid(u); never -inf for finite u
    log_r = min(-u, 0.0) - l1p  # log sigmoid(-u)
    # r^gamma through the log: exact 1 at gamma = 0, and no 0^(gamma - 1) anywhere.
    arg = a * math.exp(gamma * log_r)
    loss = -arg * log_q
    d1 = arg * (gamma * q * log_q - r)
    # Same value, grouped so that nothing overflows: arg * q * log q is formed first (for
    # |u| near the float64 limit gamma * log q is -inf while q = 0: 0 * inf = NaN), and arg
    # enters before the gamma^2-sized factor (gamma > 1e154 overflowed it where arg = 0).
    d2 = (2.0 * gamma + 1.0) * (arg * q * r) + gamma * (arg * (q * log_q)) * (r - gamma * q)
    return loss, d1, d2, arg


@njit(cache=True)
def safeguard(h, floor_scale, mode):
    """Apply a Hessian mode to an exact second derivative h.

    floor_scale is a (1 - q)^gamma times the Boehning bound B (1/4 binary, (1 - 1/K)/2 softmax).
    """
    if mode == HESS_BOHNING:
        return max(h, floor_scale)
    if mode == HESS_ABS:
        return abs(h)
    if mode == HESS_CLIP:
        return max(h, CLIP_FLOOR)
    return h


@njit(cache=True)
def binary_element(z, y, w, gamma, alpha_pos, alpha_neg, mode):
    """(loss, grad, hess) of the weighted binary focal loss at margin z, label y in {0, 1}.

    u = (2y - 1) z, so d/dz = (2y - 1) d/du and d2/dz2 = d2/du2.
    """
    if y > 0.5:
        loss, d1, d2, arg = focal_terms(z, gamma, alpha_pos)
        g = d1
    else:
        loss, d1, d2, arg = focal_terms(-z, gamma, alpha_neg)
        g = -d1
    h = safeguard(d2, arg * BOHNING_BINARY, mode)
    return w * loss, w * g, w * h


@njit(cache=True)
def softmax_row(z, i, y, w, gamma, a, mode, bohning, g_out, h_out):
    """Write the gradient and diagonal Hessian of row i of a softmax focal loss; return its loss.

    With u = z_y - L', L' = logsumexp_{k != y} z_k and pi_j = exp(z_j - L') (the softmax
    over the classes other than y, so sum_j pi_j = 1):

        grad_y = l'(u)              hess_y = l''(u)
        grad_j = -pi_j l'(u)        hess_j = pi_j^2 l''(u) - pi_j (1 - pi_j) l'(u)   (j != y)

    The Boehning mode replaces l''(u) by max(l''(u), a (1 - q)^gamma B) in both (the second
    term of hess_j is >= 0 already): flooring each hess_j on its own gave a class with a small
    pi_j up to B / pi_j times its exact Hessian on every row (docs/math.md, section 4).

    Computing p_j / (1 - p_y) as pi_j directly avoids 0/0 once p_y rounds to 1, and the
    max-subtraction keeps every exp argument <= 0, so any finite logits work and adding a
    constant to a row changes nothing.
    """
    k_count = z.shape[1]
    m = -math.inf
    top = -1  # the largest other class
    for k in range(k_count):
        if k != y and z[i, k] > m:
            m = z[i, k]
            top = k
    # s = sum_{k != y} exp(z_k - m) = 1 + rest, rest without the top class (its term is e^0 = 1)
    rest = 0.0
    for k in range(k_count):
        if k != y and k != top:
            rest += math.exp(z[i, k] - m)
    s = 1.0 + rest
    # u = z_y - (m + log s), grouped as (z_y - m) - log s: rounding then depends on logit
    # differences only, so adding a constant to the row changes nothing (bitwise when exact).
    loss, d1, d2, arg = focal_terms((z[i, y] - m) - math.log(s), gamma, a)
    floor = arg * bohning
    if mode == HESS_BOHNING:
        # the floor is on l''(u); every class then gets the chain rule's exact Hessian
        d2 = max(d2, floor)
        mode = HESS_EXACT
    for k in range(k_count):
        if k == y:
            g_out[i, k] = w * d1
            h_out[i, k] = w * safeguard(d2, floor, mode)
        else:
            pi = math.exp(z[i, k] - m) / s
            # Only the top class can have pi > 1/2. For it 1 - pi = rest / s exactly, where
            # 1.0 - pi would cancel (to 0 once pi rounds to 1; z = [-100, 0, -40] with y = 0 gave
            # a Hessian e^60 times too small).
            one_minus_pi = rest / s if k == top else 1.0 - pi
            g_out[i, k] = -w * pi * d1
            h_out[i, k] = w * safeguard(pi * pi * d2 - pi * one_minus_pi * d1, floor, mode)
    return w * loss


@njit(cache=True)
def softmax_row_loss(z, i, y, gamma, a):
    """Unweighted focal loss of row i (no derivatives): a (1 - p_y)^gamma (-log p_y)."""
    k_count = z.shape[1]
    m = -math.inf
    for k in range(k_count):
        if k != y and z[i, k] > m:
            m = z[i, k]
    s = 0.0
    for k in range(k_count):
        if k != y:
            s += math.exp(z[i, k] - m)
    u = (z[i, y] - m) - math.log(s)  # grouped as in softmax_row: shift-invariant rounding
    return a * math.exp(gamma * log_sigmoid(-u)) * -log_sigmoid(u)


@njit(cache=True)
def log_phi(u, gamma):
    """log phi(q) for q = sigmoid(u), where phi(q) = -d/dq [-(1 - q)^gamma log q].

    phi(q) = (1 - q)^gamma / q - gamma (1 - q)^(gamma - 1) log q
           = r^(gamma - 1) (r / q + gamma s),   r = 1 - q, s = -log q = softplus(-u), r/q = e^-u,

    so log phi = (gamma - 1) log r + logaddexp(-u, log gamma + log s). Working in logs keeps
    phi finite where it over- or underflows (|u| in the hundreds).
    """
    u = 1.0 * u  # float64 arithmetic for float32 margins too (see focal_terms)
    log_r = log_sigmoid(-u)
    if gamma == 0.0:
        # phi = 1/q, log phi = softplus(-u); formed directly, not as -u - log r (which cancels for u >> 0)
        return max(-u, 0.0) + math.log1p(math.exp(-abs(u)))
    # log s = log(softplus(-u)) without log(0): for u >= 0, s = t * (log1p(t)/t), t = e^-u.
    if u >= 0.0:
        t = math.exp(-u)
        ratio = math.log1p(t) / t if t > 0.0 else 1.0
        log_s = -u + math.log(ratio)
    else:
        log_s = math.log(-u + math.log1p(math.exp(u)))
    b = math.log(gamma) + log_s
    hi = max(-u, b)
    return (gamma - 1.0) * log_r + hi + math.log1p(math.exp(-abs(-u - b)))
