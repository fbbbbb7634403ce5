"""Argument checks shared by FocalLoss, the framework adapters and the estimators.

Every check raises ``ValueError``/``TypeError`` naming the argument and the fix, so that no bad
value ever reaches a Numba kernel.
"""

import math
import numbers

import numpy as np

HESSIAN_MODES = ("exact", "bohning", "abs", "clip")


def _unwrap_0d(value):
    """A 0-d NumPy array (e.g. ``np.array(0.25)``) is a scalar."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    return value


def check_gamma(gamma):
    gamma = _unwrap_0d(gamma)
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real):
        raise TypeError(f"gamma must be a real number >= 0, got {gamma!r} of type {type(gamma).__name__}")
    gamma = float(gamma)
    if not math.isfinite(gamma) or gamma < 0:
        raise ValueError(f"gamma must be a finite number >= 0 (0 gives cross-entropy), got {gamma!r}")
    return gamma


def check_hessian(hessian):
    if not isinstance(hessian, str) or hessian not in HESSIAN_MODES:
        raise ValueError(f"hessian must be one of {', '.join(map(repr, HESSIAN_MODES))}; got {hessian!r}")
    return hessian


def check_alpha(alpha):
    """Normalise alpha to None, a float, a float64 array or the string 'balanced'."""
    alpha = _unwrap_0d(alpha)
    if alpha is None:
        return None
    if isinstance(alpha, str):
        if alpha != "balanced":
            raise ValueError(
                f"alpha must be None, a float in [0, 1], a sequence of per-class weights in [0, 1] "
                f"or 'balanced'; got the string {alpha!r}"
            )
        return alpha
    if isinstance(alpha, bool):
        raise TypeError("alpha must be None, a float in [0, 1], a sequence of floats or 'balanced', not a bool")
    if isinstance(alpha, numbers.Real):
        a = float(alpha)
        if not (0.0 <= a <= 1.0):  # also rejects NaN
            raise ValueError(f"alpha (the weight of class 1) must lie in [0, 1], got {alpha!r}")
        return a
    try:
        arr = np.asarray(alpha, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"alpha must be None, a float in [0, 1], a sequence of floats or 'balanced'; got {alpha!r}"
        ) from None
    if arr.ndim != 1 or arr.size < 2:
        raise ValueError(f"a per-class alpha must be a 1-D sequence of at least 2 weights, got shape {arr.shape}")
    if not np.all((arr >= 0.0) & (arr <= 1.0)):
        raise ValueError(f"every per-class alpha must lie in [0, 1], got {arr.tolist()}")
    return arr


def check_margin_shape(arr, name="margin"):
    """(n,) or (n, K >= 2), n >= 1; an (n, 1) array becomes (n,). Host or device arrays alike."""
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name} must have shape (n,) for binary or (n, K) for K classes, got {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: at least one row is needed")
    if arr.ndim == 2 and arr.shape[1] < 2:
        raise ValueError(f"{name} of shape {arr.shape}: multiclass margins need K >= 2 columns")
    return arr


def check_margin(margin, name="margin", finite=True):
    """A float32/float64 array of shape (n,) or (n, K), K >= 2, all finite; C- or (2-D) F-contiguous.

    ``finite=False`` leaves out the pass that checks the values: for callers whose kernel flags
    non-finite margins itself (the float32 kernels) and then calls this again to raise.
    """
    if hasattr(margin, "__cuda_array_interface__") and not isinstance(margin, np.ndarray):
        raise TypeError(f"{name} is a device array; this call takes host (NumPy) arrays")
    arr = np.asarray(margin)
    if arr.dtype.kind not in "fiu" or arr.dtype == np.float16:
        raise TypeError(f"{name} must hold real numbers (float32 or float64), got dtype {arr.dtype}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    arr = check_margin_shape(arr, name)
    if not (arr.flags.c_contiguous or (arr.ndim == 2 and arr.flags.f_contiguous)):
        # F order is kept: LightGBM's multiclass margins are an F-ordered view, and the kernels
        # take either order (a C copy would cost a pass over the margins every round)
        arr = np.ascontiguousarray(arr)
    if finite and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values; boosting margins must be finite")
    return arr


LABEL_LIMIT = 2**24  # float32 holds every integer up to here exactly

# From this many float labels on, one compiled pass (finite, integral, in range) replaces the
# NumPy checks below (about 7 passes with temporaries: 8 ms on 4M labels against 1-2 ms);
# smaller label arrays never compile it (it would add to a first fit's compile time).
FUSED_LABELS_FROM = 1 << 16


def _labels_in_range(arr, n_classes):
    """True when every label is an integer in 0..n_classes-1 (NaN/inf fail), in one pass."""
    from ._cpu import labels_in_range

    return labels_in_range(arr, float(n_classes - 1))


def check_labels(y, n_rows, n_classes, name="y"):
    """Labels as a contiguous 1-D float32 array of integers 0..n_classes-1.

    One label dtype for every caller: float32 is what XGBoost and LightGBM hand out (no copy
    there), and each label dtype would otherwise be a kernel variant of its own, compiled on
    first use (seconds each). Integers up to 2^24 are exact in float32.
    """
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D with one label per row, got shape {arr.shape}")
    if arr.shape[0] != n_rows:
        raise ValueError(f"{name} has {arr.shape[0]} labels but the margin has {n_rows} rows")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: at least one label is needed")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.int8)
    if n_classes <= LABEL_LIMIT and arr.dtype in (np.float32, np.float64) and arr.shape[0] >= FUSED_LABELS_FROM:
        if _labels_in_range(np.ascontiguousarray(arr), n_classes):
            return np.ascontiguousarray(arr, dtype=np.float32)
        # else: the checks below find and name the problem
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinite labels; labels must be integers 0..{n_classes - 1}")
        if not np.array_equal(arr, np.floor(arr)):
            raise ValueError(f"{name} must hold integer class labels 0..{n_classes - 1}; found non-integral values")
    elif arr.dtype.kind not in "iu":
        raise TypeError(
            f"{name} must hold integer class labels 0..{n_classes - 1}, got dtype {arr.dtype}; "
            "encode string or categorical labels first (e.g. sklearn.preprocessing.LabelEncoder)"
        )
    lo, hi = arr.min(), arr.max()
    if n_classes > LABEL_LIMIT:
        raise ValueError(f"{name}: at most {LABEL_LIMIT} classes are supported, got n_classes={n_classes}")
    if lo < 0 or hi >= n_classes:
        raise ValueError(
            f"{name} must hold class labels in 0..{n_classes - 1} "
            f"({'binary margins take 0/1 labels' if n_classes == 2 else f'{n_classes} margin columns'}); "
            f"found labels from {lo} to {hi}"
        )
    return np.ascontiguousarray(arr, dtype=np.float32)


def labels_for_kernel(y, n_rows, n_classes, name="y", balanced=False):
    """(labels, deferred): labels for the float32 kernels, which check the values themselves.

    A float32 label array of the right length (what XGBoost and LightGBM hand out) is passed
    on as is (made contiguous), its values unchecked (``deferred=True``): the kernels count
    labels that are not integers in 0..n_classes-1, and the caller then runs
    :func:`check_labels` for the error message. Integer labels are converted to float32 in one
    pass and deferred too: an integer label that float32 rounds is at least 2^24, so it stays
    out of range (n_classes <= 2^24) and is still flagged. Anything else (float64 values could
    round onto an integer in float32; lists, other dtypes), and every input when the class
    weights are computed from the labels (``balanced``), goes through :func:`check_labels` now
    (``deferred=False``).
    """
    arr = y if isinstance(y, np.ndarray) else None
    if arr is not None and arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if (
        not balanced and arr is not None and arr.ndim == 1 and arr.shape[0] == n_rows and n_rows > 0
        and n_classes <= LABEL_LIMIT and (arr.dtype == np.float32 or arr.dtype.kind in "iub")
    ):
        return np.ascontiguousarray(arr, dtype=np.float32), True
    return check_labels(y, n_rows, n_classes, name), False


def check_sample_weight(sample_weight, n_rows, name="sample_weight"):
    """None -> empty float64 array (the kernels' 'unweighted'), else finite non-negative (n,)."""
    if sample_weight is None:
        return np.empty(0, dtype=np.float64)
    w = np.asarray(sample_weight)
    if w.ndim != 1 or w.shape[0] != n_rows:
        raise ValueError(f"{name} must have shape ({n_rows},), one weight per row, got {w.shape}")
    if w.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers, got dtype {w.dtype}")
    w = np.ascontiguousarray(w, dtype=np.float64)
    if not np.isfinite(w).all():
        raise ValueError(f"{name} contains NaN or infinite values; weights must be finite and >= 0")
    if (w < 0).any():
        raise ValueError(f"{name} must be >= 0; found negative weights (min {float(w.min())!r})")
    return w


def check_n_classes(n_classes, name="n_classes"):
    """None (infer from the labels) or an integer >= 2."""
    if n_classes is None:
        return None
    n_classes = _unwrap_0d(n_classes)
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral):
        if isinstance(n_classes, numbers.Real) and float(n_classes).is_integer():
            n_classes = int(n_classes)
        else:
            raise TypeError(f"{name} must be an integer >= 2 (or None to infer it from y), got {n_classes!r}")
    if n_classes < 2:
        raise ValueError(f"{name} must be >= 2 (or None to infer it from y), got {n_classes}")
    return int(n_classes)
