"""``FocalLoss``: the public object that owns gamma, alpha and the Hessian mode.

It validates input, picks the binary or softmax kernel from the margin's shape, and exposes
the loss, its derivatives, the optimal constant margin and the recovered class posterior.
The math itself lives in :mod:`boost_focal._scalar` (see ``docs/math.md``).
"""

import numpy as np

from . import _cpu, _cuda, _interpreted, _posterior
from ._scalar import MODE_CODES
from ._validation import (
    check_alpha,
    check_gamma,
    check_hessian,
    check_labels,
    check_margin,
    check_n_classes,
    check_sample_weight,
    labels_for_kernel,
)

_MODE_CODES = MODE_CODES  # (kept in boost_focal._scalar, below both kernel paths)

# float32 outputs come from the SIMD kernels (_cpu.*_f32, math in boost_focal._fastmath): float64
# arithmetic with vectorisable exp/log1p, measured within 0.53 float32 ulps of the float64-libm
# kernels for gamma up to 50 (tests/test_fastmath.py; tests/test_reference.py's bound is 4), and
# about 10x faster. False routes float32 through the float64-libm kernels, rounded once.
FAST_FLOAT32 = True


def _bohning_scale(k):
    """The softmax kernels' Boehning constant (1 - 1/K) / 2 (docs/math.md, section 4)."""
    return (1.0 - 1.0 / k) / 2.0


def invalid_rows_error(bad, n_classes):
    """The error for ``bad`` rows the float32 kernels flagged, once the caller's own checks (which
    name the argument) found nothing more specific."""
    return ValueError(
        f"{bad} row(s) have a non-finite margin or a label that is not a class index 0..{n_classes - 1}"
    )


def _is_float32(margin):
    """True for a float32 NumPy margin (the SIMD kernels' input, validated inside the kernel)."""
    return isinstance(margin, np.ndarray) and margin.dtype == np.float32


def balanced_alpha(y, n_classes):
    """Per-class alpha proportional to 1 / (class count), normalised to sum to 1.

    For two classes this is alpha = n_0 / n for class 1, the binary convention of Lin et al.
    A class absent from ``y`` gets the weight of the rarest present class.
    """
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=n_classes).astype(np.float64)
    present = counts > 0
    if present.sum() < 2:
        raise ValueError("alpha='balanced' needs labels from at least two classes")
    inv = np.zeros(n_classes)
    inv[present] = 1.0 / counts[present]
    inv[~present] = inv[present].max()
    return inv / inv.sum()


class FocalLoss:
    """Focal loss FL(p_t) = -alpha_t (1 - p_t)^gamma log p_t on raw boosting margins.

    Lin, Goyal, Girshick, He, Dollar (2017), "Focal Loss for Dense Object Detection".

    Parameters
    ----------
    gamma : float >= 0
        Focusing parameter; 0 gives (alpha-weighted) cross-entropy.
    alpha : None, float in [0, 1], sequence of per-class floats in [0, 1], or "balanced"
        Class weights. A float is the weight of class 1 in binary problems (class 0 gets
        1 - alpha). A sequence gives one weight per class (any K, also 2). "balanced" uses
        inverse class frequencies of the labels passed (normalised to sum to 1); use
        :meth:`resolve_alpha` to fix them from the whole training set once.
    hessian : {"bohning", "exact", "abs", "clip"}
        "exact" is the analytic second derivative, negative on part of the domain.
        "bohning" (default) floors it at alpha_t (1 - p_t)^gamma B, with B = 1/4 (binary) or
        (1 - 1/K)/2 (softmax), the choice that trained stably in ``docs/math.md``. For softmax
        the floor is on the curvature l''(u) along the label's margin u (section 4 there), so
        a class the row is far from keeps its small exact Hessian.
        "abs" uses |H|, "clip" uses max(H, 1e-16).

    Binary margins have shape (n,) and labels in {0, 1}; multiclass margins have shape (n, K)
    and labels in 0..K-1. Outputs have the margin's float dtype (float32 or float64).
    """

    _is_focal_loss = True  # what FocalMetric checks (boost_focal.metric does not import this module)

    def __init__(self, gamma=2.0, alpha=None, hessian="bohning"):
        self.gamma = check_gamma(gamma)
        self.alpha = check_alpha(alpha)
        self.hessian = check_hessian(hessian)

    # ------------------------------------------------------------------ helpers
    def __repr__(self):
        alpha = self.alpha.tolist() if isinstance(self.alpha, np.ndarray) else self.alpha
        return f"FocalLoss(gamma={self.gamma!r}, alpha={alpha!r}, hessian={self.hessian!r})"

    def __eq__(self, other):
        if not isinstance(other, FocalLoss):
            return NotImplemented
        return repr(self) == repr(other)

    def __hash__(self):
        return hash(repr(self))

    def class_alpha(self, n_classes, y=None):
        """alpha as a float64 array of length ``n_classes`` (ones for alpha=None).

        ``y`` is needed only for alpha="balanced".
        """
        a = self.alpha
        if a is None:
            return np.ones(n_classes)
        if isinstance(a, str):
            if y is None:
                raise ValueError("alpha='balanced' needs the training labels: call resolve_alpha(y) first")
            return balanced_alpha(y, n_classes)
        if isinstance(a, float):
            if n_classes != 2:
                raise ValueError(
                    f"a float alpha={a} is the weight of class 1 in binary problems; for {n_classes} "
                    f"classes pass a sequence of {n_classes} per-class weights"
                )
            return np.array([1.0 - a, a])
        if a.shape[0] != n_classes:
            raise ValueError(
                f"alpha has {a.shape[0]} per-class weights but the problem has {n_classes} classes; "
                f"pass exactly {n_classes}"
            )
        return a

    def resolve_alpha(self, y, n_classes=None):
        """A copy with alpha="balanced" replaced by the weights computed from all of ``y``.

        Call this once on the whole training set (e.g. before distributed training, where
        each worker sees only its partition). Other alphas are returned unchanged.
        """
        if not isinstance(self.alpha, str):
            return self
        y = np.asarray(y)
        n_classes = check_n_classes(n_classes)
        k = _n_classes_from_labels(y) if n_classes is None else n_classes
        y = check_labels(y, y.shape[0], k)
        return FocalLoss(self.gamma, balanced_alpha(y, k).tolist(), self.hessian)

    def _prepare(self, margin, y, sample_weight):
        z = check_margin(margin)
        k = 2 if z.ndim == 1 else z.shape[1]
        y = check_labels(y, z.shape[0], k)
        w = check_sample_weight(sample_weight, z.shape[0])
        return z, y, w, self.class_alpha(k, y)

    # ------------------------------------------------------------------ frameworks
    def __call__(self, y_or_preds, preds_or_data, sample_weight=None):
        """Use the instance as an XGBoost or LightGBM custom objective (any of their APIs).

        ``xgb.train(obj=fl)`` calls ``fl(predt, dtrain)``, ``lgb.train`` calls
        ``fl(preds, train_data)``, and both scikit-learn wrappers call ``fl(y_true, y_pred)``
        with the weights as ``sample_weight``. Keep exactly these three parameters:
        ``LGBMClassifier`` counts them (three means "pass the weights") and ``XGBClassifier``
        passes weights only to a parameter named ``sample_weight``. Returns (grad, hess)
        shaped like the margin. The dispatch lives in :mod:`boost_focal._frameworks`.
        """
        from ._frameworks import objective_call

        return objective_call(self, y_or_preds, preds_or_data, sample_weight)

    def metric(self, name="focal", weighted=True):
        """A :class:`boost_focal.metric.FocalMetric` of this loss for every library's eval API."""
        from .metric import FocalMetric

        return FocalMetric(self, name=name, weighted=weighted)

    # ------------------------------------------------------------------ public math
    def loss(self, margin, y, sample_weight=None):
        """Per-sample (weighted) focal loss, shape (n,), in the margin's dtype."""
        if _cuda.is_device_array(margin):  # GPU path (device arrays out): boost_focal/_cuda.py
            return _cuda.loss(self, margin, y, sample_weight)
        z, y, w, alpha = self._prepare(margin, y, sample_weight)
        return self._loss_checked(z, y, w, alpha)

    def _loss_checked(self, z, y, w, alpha):
        """Per-row (weighted) loss on already-validated arrays, in the margin's dtype."""
        out = np.empty(z.shape[0], dtype=z.dtype)
        if z.ndim == 1:
            _cpu.binary_loss(z, y, w, self.gamma, alpha[1], alpha[0], out)
        else:
            _cpu.softmax_loss(z, y, w, self.gamma, alpha, out)
        return out

    def grad_hess(self, margin, y, sample_weight=None):
        """(grad, hess) of the focal loss with respect to the raw margin, each shaped like it.

        A device margin (CuPy, Numba, anything with ``__cuda_array_interface__``) is computed on
        the GPU and gives device arrays (see ``docs/gpu.md``).
        """
        if _cuda.is_device_array(margin):  # GPU path (device arrays out): boost_focal/_cuda.py
            return _cuda.grad_hess(self, margin, y, sample_weight)
        if not _is_float32(margin):
            z, y, w, alpha = self._prepare(margin, y, sample_weight)
            return self._grad_hess_checked(z, y, w, alpha)
        # float32 margins go to the SIMD kernels, which flag non-finite margins and invalid
        # labels in their own pass over the data; the separate passes of _prepare are then run
        # only to raise the same clear error (as the CUDA path does).
        z = check_margin(margin, finite=False)
        k = 2 if z.ndim == 1 else z.shape[1]
        labels, deferred = labels_for_kernel(y, z.shape[0], k, balanced=isinstance(self.alpha, str))
        w = check_sample_weight(sample_weight, z.shape[0])

        def recheck():
            check_margin(margin)
            if deferred:
                check_labels(y, z.shape[0], k)

        return self._grad_hess_checked(z, labels, w, self.class_alpha(k, labels), recheck=recheck)

    def _grad_hess_checked(self, z, y, w, alpha, dtype=None, out=None, recheck=None):
        """grad_hess on already-validated arrays (the adapters cache validation per dataset).

        ``dtype`` is the output dtype (default: the margin's). The arithmetic is float64 either
        way; float32 outputs use the SIMD kernels (see ``FAST_FLOAT32``), also for float64 margins
        (pass ``dtype=np.float32`` for LightGBM, which keeps gradients in float32 anyway).
        ``out``: preallocated (grad, hess) of z's shape and that dtype, written and returned.
        ``recheck``: the caller's deferred validation (a function that raises the clear error).
        The SIMD kernels count rows with a non-finite margin or an invalid label, and it runs
        only when there are any; the reference kernels check nothing, so it runs before them.
        """
        if out is None:
            out = z.dtype if dtype is None else np.dtype(dtype)
            grad = np.empty_like(z, dtype=out)
            hess = np.empty_like(z, dtype=out)
        else:
            grad, hess = out
            out = grad.dtype
        fast = FAST_FLOAT32 and out == np.float32
        if fast:
            bad = self._f32_call(y, w, alpha, grad, hess)(z)
        else:
            if recheck is not None:
                recheck()
            mode = _MODE_CODES[self.hessian]
            if z.ndim == 1:
                bad = _cpu.binary_grad_hess(z, y, w, self.gamma, alpha[1], alpha[0], mode, grad, hess)
            else:
                k = z.shape[1]
                bad = _cpu.softmax_grad_hess(z, y, w, self.gamma, alpha, mode, _bohning_scale(k), grad, hess)
        if bad:
            if recheck is not None:
                recheck()  # raises, naming the argument and the problem
            raise invalid_rows_error(bad, 2 if z.ndim == 1 else z.shape[1])
        return grad, hess

    def _f32_call(self, y, w, alpha, grad, hess, round21=False, serial=False):
        """call(z) -> number of invalid rows: the float32 SIMD kernel for margins shaped like
        ``grad``, with the labels (float32), weights, class alphas and outputs bound once.

        What ``_grad_hess_checked`` runs on float32 outputs, prepared for a training loop that
        calls it every round with the same arrays (the estimators' objective): the per-call
        Python is paid once. ``round21``: every stored value rounded to 21 significant bits (the
        estimators' frequency-weight rounding, a kernel variant of its own); ``serial``: on the
        calling thread whatever the thread setting.
        """
        mode = _MODE_CODES[self.hessian]
        if grad.ndim == 1:
            return _cpu.binary_f32_call(y, w, self.gamma, alpha[1], alpha[0], mode, grad, hess, round21, serial)
        k = grad.shape[1]
        return _cpu.softmax_f32_call(y, w, self.gamma, alpha, mode, _bohning_scale(k), grad, hess, round21, serial)

    def init_score(self, y, sample_weight=None, n_classes=None):
        """The constant margin that minimises the mean (weighted) focal loss.

        Binary (labels in {0, 1}, ``n_classes`` None or 2): a float. Multiclass: an array of
        shape (K,) with zero mean (softmax ignores a common shift). Unlike the log-odds of the
        class frequency, this accounts for gamma and alpha (``docs/math.md``, section 5).
        """
        y = np.asarray(y)
        n_classes = check_n_classes(n_classes)
        k = max(_n_classes_from_labels(y), 2) if n_classes is None else n_classes
        y = check_labels(y, y.shape[0], k)
        w = check_sample_weight(sample_weight, y.shape[0])
        totals = np.bincount(y.astype(np.int64), weights=w if w.size else None, minlength=k)
        alpha = self.class_alpha(k, y)
        if (totals[alpha > 0] > 0).sum() < 2 or (totals * alpha > 0).sum() < 2:
            raise ValueError(
                "init_score needs positive (alpha- and sample-) weight on at least two classes; "
                "with one class the optimal margin is infinite"
            )
        return _optimal_constant(self, totals, alpha, k)

    def posterior(self, margin):
        """The class posterior recovered from a focal-trained margin (``docs/math.md`` sec. 6).

        Binary margins (n,) give P(y = 1) with shape (n,); multiclass margins (n, K) give rows
        summing to 1. With gamma = 0 and alpha = None this is exactly sigmoid/softmax.
        """
        if _cuda.is_device_array(margin):  # GPU path (device arrays out): boost_focal/_cuda.py
            return _cuda.posterior(self, margin)
        z = check_margin(margin)
        k = 2 if z.ndim == 1 else z.shape[1]
        alpha = self.class_alpha(k)
        if (alpha <= 0).any():
            raise ValueError("posterior is undefined when a class has alpha = 0 (its loss carries no information)")
        log_alpha = np.log(alpha)
        if z.ndim == 1:
            out = np.empty(z.shape[0], dtype=z.dtype)
            _cpu.binary_posterior(z, self.gamma, float(log_alpha[0] - log_alpha[1]), out)
        else:
            out = np.empty(z.shape, dtype=z.dtype)
            _cpu.softmax_posterior(z, self.gamma, log_alpha, out)
        return out


def _n_classes_from_labels(y):
    if y.size == 0:
        raise ValueError("y is empty: at least one label is needed")
    if y.dtype.kind not in "biuf":
        raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
    top = np.nanmax(y) if y.dtype.kind == "f" else y.max()
    if not np.isfinite(top):
        raise ValueError("y contains NaN or infinite labels")
    return int(top) + 1


def constant_margin_terms(fl, z, weights, alpha, hessian=None):
    """(loss, grad, hess) of one row per class at the constant margin z, row k weighted by weights[k].

    z: a float (binary) or (K,) margins. Rows are float64: (2,) binary, (K,) / (K, K) multiclass.
    At a constant margin the loss and its derivatives depend on the label only, so these K rows
    weighted by the class totals are the whole training set's sums (init_score, the loss scale).
    Up to ``_interpreted.MAX_CLASSES`` classes the interpreter runs ``_scalar``'s functions on
    them (no compilation; the same values bit for bit), above it the reference kernels.
    """
    k = weights.shape[0]
    mode = _MODE_CODES[fl.hessian if hessian is None else check_hessian(hessian)]
    labels = np.arange(k, dtype=np.float32)  # the label dtype of _validation.check_labels
    weights = np.asarray(weights, dtype=np.float64)
    zz = np.full(2, float(z)) if k == 2 else np.broadcast_to(np.asarray(z, dtype=np.float64), (k, k)).copy()
    bohning = _bohning_scale(k)
    try:
        if k == 2:
            return _interpreted.binary_rows(zz, labels, weights, fl.gamma, alpha[1], alpha[0], mode)
        if k <= _interpreted.MAX_CLASSES:
            return _interpreted.softmax_rows(zz, labels, weights, fl.gamma, alpha, mode, bohning)
    except ArithmeticError:  # Python raises where compiled code gives inf (an absurd trial margin)
        pass
    loss = np.empty(k)
    if k == 2:
        _cpu.binary_loss(zz, labels, weights, fl.gamma, alpha[1], alpha[0], loss)
        grad, hess = np.empty(2), np.empty(2)
        _cpu.binary_grad_hess(zz, labels, weights, fl.gamma, alpha[1], alpha[0], mode, grad, hess)
        return loss, grad, hess
    _cpu.softmax_loss(zz, labels, weights, fl.gamma, alpha, loss)
    grad, hess = np.empty_like(zz), np.empty_like(zz)
    _cpu.softmax_grad_hess(zz, labels, weights, fl.gamma, alpha, mode, bohning, grad, hess)
    return loss, grad, hess


def _optimal_constant(fl, totals, alpha, k):
    """Minimise sum_k totals_k * FL(z; y = k) over a constant margin z."""
    from scipy import optimize

    if k == 2:
        # The derivative has a single root (docs/math.md, sec. 5): bracket it and bisect.
        def deriv(z):
            return constant_margin_terms(fl, z, totals, alpha, "exact")[1].sum()

        lo, hi = -1.0, 1.0
        while deriv(lo) > 0:
            lo *= 2.0
        while deriv(hi) < 0:
            hi *= 2.0
        return float(optimize.brentq(deriv, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=500))

    scale = totals.sum()

    def objective(z):
        loss, g, _ = constant_margin_terms(fl, z, totals / scale, alpha, "exact")
        return loss.sum(), g.sum(axis=0)

    with np.errstate(divide="ignore"):
        start = np.log(np.maximum(totals, 1e-300) / scale)
    start = np.clip(start - start.mean(), -30, 30)
    res = optimize.minimize(objective, start, jac=True, method="L-BFGS-B", options={"gtol": 1e-13, "ftol": 0, "maxiter": 2000})
    z = res.x - res.x.mean()
    if not np.all(np.isfinite(z)):
        raise RuntimeError("init_score did not converge")
    return z


def log_phi(u, gamma):
    """Vectorised log phi(sigmoid(u)) (see :func:`boost_focal._scalar.log_phi`), for tests and docs."""
    return _posterior.log_phi(np.ascontiguousarray(u, dtype=np.float64).ravel(), float(gamma))


__all__ = ["FocalLoss", "balanced_alpha", "log_phi"]
