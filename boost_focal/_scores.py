"""Scores of predicted probabilities, binary and multiclass, for ``boost-focal compare``.

Binary predictions are P(y = 1) with shape (n,); multiclass predictions are (n, K) rows
summing to 1, labels coded 0..K-1. Definitions:

* PR-AUC: average precision (scikit-learn); multiclass: the macro mean over classes of the
  one-vs-rest average precision, over the classes present in the scored rows (per class:
  ``ap_<code>``, NaN when the class is absent). ROC-AUC likewise.
* log loss: mean of -log p(true class), p clipped to [1e-15, 1].
* Brier: binary mean (p - y)^2 (scikit-learn's); multiclass mean over rows of
  sum_k (p_k - [y = k])^2 (Brier's original definition, range 0..2).
* ECE: expected calibration error over 15 equal-width bins, sum_b n_b / n |mean p - frequency|;
  binary on P(y = 1), multiclass on the top-label confidence (max_k p_k against accuracy).
* balanced accuracy: mean per-class recall of the most probable class.
* best F1 (binary): max over thresholds of F1 of the rule p >= t.
"""

import math
import warnings

import numpy as np

ECE_BINS = 15


def log_loss(y, p):
    """Binary: mean of -[y log p + (1 - y) log(1 - p)]; multiclass (p of shape (n, K)): -mean log p_y."""
    y = np.asarray(y)
    p = np.asarray(p, dtype=np.float64)
    if p.ndim == 2:
        return float(-np.mean(np.log(np.clip(p[np.arange(y.size), y], 1e-15, 1.0))))
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(np.where(y == 1, np.log(p), np.log1p(-p))))


def brier(y, p):
    y = np.asarray(y)
    p = np.asarray(p, dtype=np.float64)
    if p.ndim == 2:
        onehot = np.zeros_like(p)
        onehot[np.arange(y.size), y] = 1.0
        return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))
    return float(np.mean((p - y) ** 2))


def _confidence(y, p):
    """(predicted probability, 0/1 outcome) whose agreement ECE and reliability curves measure."""
    y = np.asarray(y)
    p = np.asarray(p, dtype=np.float64)
    if p.ndim == 2:
        return p.max(axis=1), (p.argmax(axis=1) == y).astype(np.float64)
    return p, (y == 1).astype(np.float64)


def ece(y, p, bins=ECE_BINS):
    """Expected calibration error over ``bins`` equal-width bins (see the module docstring)."""
    conf, outcome = _confidence(y, p)
    index = np.minimum((conf * bins).astype(np.int64), bins - 1)
    n = np.bincount(index, minlength=bins)
    gap = np.abs(np.bincount(index, conf, bins) - np.bincount(index, outcome, bins))
    return float(gap.sum() / max(n.sum(), 1))


def reliability(y, p, bins=10):
    """(mean predicted, observed frequency, rows) per bin of equal row counts, for the figure."""
    conf, outcome = _confidence(y, p)
    order = np.argsort(conf, kind="stable")
    chunks = [c for c in np.array_split(order, min(bins, max(conf.size, 1))) if c.size]
    return (np.array([conf[c].mean() for c in chunks]), np.array([outcome[c].mean() for c in chunks]),
            np.array([c.size for c in chunks]))


def best_f1(y, p):
    """max over thresholds t of F1 = 2 P R / (P + R) for the rule p >= t (0 when P + R = 0)."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(y, p)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    return float(f1.max())


def calibration(y, p):
    """log loss, Brier and ECE of one set of probabilities (NaN for non-finite predictions)."""
    if not np.all(np.isfinite(p)):
        return {"logloss": math.nan, "brier": math.nan, "ece": math.nan}
    return {"logloss": log_loss(y, p), "brier": brier(y, p), "ece": ece(y, p)}


def binary_metrics(y, p):
    """PR-AUC, ROC-AUC, log loss, Brier, ECE, best F1 and balanced accuracy of P(y=1)."""
    from sklearn.metrics import average_precision_score, balanced_accuracy_score, roc_auc_score

    keys = ("pr_auc", "roc_auc", "logloss", "brier", "ece", "best_f1", "balanced_accuracy")
    if not np.all(np.isfinite(p)):
        return dict.fromkeys(keys, math.nan)
    return {
        "pr_auc": float(average_precision_score(y, p)),
        "roc_auc": float(roc_auc_score(y, p)),
        **calibration(y, p),
        "best_f1": best_f1(y, p),
        "balanced_accuracy": float(balanced_accuracy_score(y, (p >= 0.5).astype(np.int64))),
    }


def multiclass_metrics(y, p, n_classes):
    """Macro PR-AUC and ROC-AUC, per-class PR-AUC (``ap_<code>``), log loss, Brier, ECE, balanced accuracy."""
    from sklearn.metrics import average_precision_score, balanced_accuracy_score, roc_auc_score

    keys = ("pr_auc", "roc_auc", "logloss", "brier", "ece", "balanced_accuracy",
            *(f"ap_{k}" for k in range(n_classes)))
    p = np.asarray(p, dtype=np.float64)
    if not np.all(np.isfinite(p)):
        return dict.fromkeys(keys, math.nan)
    ap, auc = {}, []
    for k in range(n_classes):
        hit = y == k
        if hit.any() and not hit.all():
            ap[f"ap_{k}"] = float(average_precision_score(hit, p[:, k]))
            auc.append(float(roc_auc_score(hit, p[:, k])))
        else:
            ap[f"ap_{k}"] = math.nan
    present = [v for v in ap.values() if np.isfinite(v)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true": expected on small folds
        bal = float(balanced_accuracy_score(y, p.argmax(axis=1)))
    return {
        "pr_auc": float(np.mean(present)) if present else math.nan,
        "roc_auc": float(np.mean(auc)) if auc else math.nan,
        **calibration(y, p),
        "balanced_accuracy": bal,
        **ap,
    }


def scores(y, p, n_classes):
    """:func:`binary_metrics` or :func:`multiclass_metrics`, by ``n_classes``."""
    return binary_metrics(y, p) if n_classes == 2 else multiclass_metrics(y, p, n_classes)


__all__ = ["best_f1", "binary_metrics", "brier", "calibration", "ece", "log_loss", "multiclass_metrics",
           "reliability", "scores"]
