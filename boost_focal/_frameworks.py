"""Framework adapters: one ``FocalLoss`` callable for every XGBoost and LightGBM training API.

``FocalLoss.__call__(a, b, sample_weight=None)`` lands in :func:`objective_call`, which tells
the callers apart by the type of the second argument:

====================================  =========================================  ==============
caller                                call                                       returns
====================================  =========================================  ==============
``xgb.train(obj=fl)``                 ``fl(predt, dtrain: xgboost.DMatrix)``     float32 (n,)
                                                                                 or (n, K)
``lgb.train({"objective": fl})``      ``fl(preds, train_data: lightgbm.Dataset)``  float32 (n,)
                                                                                 or (n, K)
``XGBClassifier(objective=fl)``       ``fl(y_true, y_pred[, sample_weight=w])``  (n,) / (n, K)
``LGBMClassifier(objective=fl)``      ``fl(y_true, y_pred, weight_or_None)``     float32 (n,)
                                                                                 or (n, K)
====================================  =========================================  ==============

The visible signature ``(y_or_preds, preds_or_data, sample_weight=None)`` is what makes both
scikit-learn wrappers pass weights: LightGBM counts three parameters and passes the weight as
the third positional argument, XGBoost sees a parameter named ``sample_weight`` and passes it by
keyword. Weights are always applied to both gradient and Hessian (neither library does it for a
custom objective). (n, K) gradients are accepted by both libraries as they are: XGBoost reads
them row-major, LightGBM flattens them class-major itself (``ravel(order="F")``).

Per-round cost. Labels and weights do not change during training, so they are validated once
per training dataset and cached in a module-level ``WeakKeyDictionary`` keyed on the
``DMatrix``/``Dataset`` (nothing is stored on the ``FocalLoss``, so pickling and LightGBM's
deep copy are unaffected). A cache entry is trusted only while it provably describes the data:

* LightGBM keeps one label array and one weight array per constructed ``Dataset`` (replaced by
  ``set_label``/``set_weight``), so an entry is valid while those objects are the same objects.
* XGBoost hands out fresh copies of the labels every round, so an entry is bound to the
  ``Booster`` being trained (found on the call stack): a new training run revalidates.

When the dataset or booster cannot be found (a direct call, or an unforeseen library version),
everything is validated on every call: slower, never wrong.
"""

import re
import sys
import weakref

import numpy as np

from ._cpu import training_threads
from ._validation import check_labels, check_margin, check_sample_weight

# LightGBM hands over float64 margins but converts gradients to float32 before using them
# (Booster.__boost, lightgbm 4.x): computing them in float32 directly takes the SIMD kernels
# and spares LightGBM that conversion. Multiclass outputs keep the margins' memory order
# (LightGBM's are an F-ordered view), so its ravel(order="F") is a view, not a copy.
LGB_GRADIENT_DTYPE = np.float32

# How far up the call stack to look for the library frame that holds the dataset/booster.
# objective_call <- FocalLoss.__call__ <- [library wrapper] <- Booster.boost/eval_set.
_STACK_DEPTH = 10

_DATA_CACHE = weakref.WeakKeyDictionary()  # DMatrix / Dataset -> _Prepared
_DEVICE_CACHE = weakref.WeakKeyDictionary()  # xgboost.Booster -> device string


# ---------------------------------------------------------------------------- type checks
def _lib_type(module, name):
    """``module.name`` if that library is already imported, else None (never imports it)."""
    mod = sys.modules.get(module)
    return getattr(mod, name, None) if mod is not None else None


def is_xgb_dmatrix(obj):
    cls = _lib_type("xgboost", "DMatrix")
    return cls is not None and isinstance(obj, cls)


def is_lgb_dataset(obj):
    cls = _lib_type("lightgbm", "Dataset")
    return cls is not None and isinstance(obj, cls)


def _is_xgb_booster(obj):
    cls = _lib_type("xgboost", "Booster")
    return cls is not None and isinstance(obj, cls)


# ---------------------------------------------------------------------------- stack lookups
def _library_frames(depth=_STACK_DEPTH):
    """Caller frames that belong to xgboost or lightgbm (nearest first)."""
    frame = sys._getframe(1)
    for _ in range(depth):
        if frame is None:
            return
        module = frame.f_globals.get("__name__", "")
        if module.startswith(("xgboost", "lightgbm")):
            yield frame
        frame = frame.f_back


def booster_in_stack():
    """The ``xgboost.Booster`` whose ``boost``/``eval_set`` method is calling us, or None."""
    for frame in _library_frames():
        candidate = frame.f_locals.get("self")
        if _is_xgb_booster(candidate):
            return candidate
    return None


def dataset_in_stack(anchor):
    """The DMatrix/Dataset held by the library frame that also holds ``anchor`` (by identity).

    The scikit-learn wrappers of both libraries call ``f(labels, preds, ...)`` from a frame
    whose locals hold the very ``labels`` array they read from the training dataset and the
    dataset itself; finding both in one frame proves which dataset the labels came from.
    """
    if not isinstance(anchor, np.ndarray):  # only a library-made label array can prove anything
        return None
    for frame in _library_frames():
        values = list(frame.f_locals.values())
        if any(v is anchor for v in values):
            for v in values:
                if is_xgb_dmatrix(v) or is_lgb_dataset(v):
                    return v
    return None


# ---------------------------------------------------------------------------- prepared data
class _Prepared:
    """Validated labels and weights of one training/evaluation set.

    ``y``: contiguous integer-valued labels in 0..k-1; ``w``: float64 weights or an empty array
    (the kernels' "unweighted"); ``token``: what must still hold for the entry to be reused.
    """

    __slots__ = ("y", "w", "k", "token", "_balanced")

    def __init__(self, y, w, k, token):
        self.y, self.w, self.k, self.token = y, w, k, token
        self._balanced = None

    def alpha_for(self, loss):
        """Per-class alpha (K,); alpha="balanced" is computed from these labels once."""
        if isinstance(loss.alpha, str):
            if self._balanced is None:
                self._balanced = loss.class_alpha(self.k, self.y)
            return self._balanced
        return loss.class_alpha(self.k)


def _build(y, w, n_rows, k, label_name, weight_name):
    y = check_labels(y, n_rows, k, name=label_name)
    w = check_sample_weight(w, n_rows, name=weight_name)
    if w.size and not w.sum() > 0:
        raise ValueError(f"{weight_name} sums to 0: at least one row needs a positive weight")
    return y, w


def prepare_xgb(dmatrix, n_rows, k, booster):
    """Labels/weights of a DMatrix, cached for the duration of one ``booster``'s training."""
    entry = _DATA_CACHE.get(dmatrix)
    if entry is not None and booster is not None and entry.token() is booster and entry.k == k:
        if entry.y.shape[0] == n_rows:
            return entry
    y = dmatrix.get_label()
    if y.size == 0:
        raise ValueError("the DMatrix has no labels: build it as xgboost.DMatrix(X, label=y)")
    w = dmatrix.get_weight()
    y, w = _build(y, w if w.size else None, n_rows, k, "the DMatrix labels", "the DMatrix weights")
    entry = _Prepared(y, w, k, weakref.ref(booster) if booster is not None else None)
    if booster is not None:
        _DATA_CACHE[dmatrix] = entry
    return entry


def prepare_lgb(dataset, n_rows, k):
    """Labels/weights of a constructed lightgbm.Dataset, cached while they are the same objects."""
    y_src = dataset.get_label()
    w_src = dataset.get_weight()
    entry = _DATA_CACHE.get(dataset)
    if entry is not None and entry.k == k and entry.token[0] is y_src and entry.token[1] is w_src:
        if entry.y.shape[0] == n_rows:
            return entry
    if y_src is None:
        raise ValueError("the lightgbm.Dataset has no labels: build it as lightgbm.Dataset(X, label=y)")
    y, w = _build(y_src, w_src, n_rows, k, "the Dataset labels", "the Dataset weights")
    entry = _Prepared(y, w, k, (y_src, w_src))
    _DATA_CACHE[dataset] = entry
    return entry


def prepare_arrays(y_true, sample_weight, n_rows, k, dataset=None, booster=None):
    """Labels/weights passed as arrays by a scikit-learn wrapper.

    ``dataset`` is the library's dataset these labels were read from (see
    :func:`dataset_in_stack`); with it the validated copy is cached, without it every call
    validates again.
    """
    if dataset is not None and is_xgb_dmatrix(dataset):
        return prepare_xgb(dataset, n_rows, k, booster)
    if dataset is not None and is_lgb_dataset(dataset):
        return prepare_lgb(dataset, n_rows, k)
    y, w = _build(y_true, sample_weight, n_rows, k, "y_true (the first argument)", "sample_weight")
    return _Prepared(y, w, k, None)


def _n_classes(z):
    return 2 if z.ndim == 1 else z.shape[1]


# ---------------------------------------------------------------------------- objective
def objective_call(loss, first, second, sample_weight=None):
    """Gradient and Hessian of ``loss`` for whichever library API is calling (see module doc)."""
    if isinstance(loss.alpha, str):
        _dask_guard(loss)
    if is_xgb_dmatrix(second):
        _no_extra_weight(sample_weight, "xgb.train(obj=...)", "DMatrix(X, y, weight=w)")
        return _xgb_objective(loss, first, second, booster_in_stack())
    if is_lgb_dataset(second):
        _no_extra_weight(sample_weight, "lgb.train", "lightgbm.Dataset(X, y, weight=w)")
        z = check_margin(first, name="preds", finite=False)
        entry = prepare_lgb(second, z.shape[0], _n_classes(z))
        return _grad_hess(loss, z, entry, np.shape(first), LGB_GRADIENT_DTYPE, _finite_check(first, "preds"))
    # scikit-learn wrappers: (y_true, y_pred[, sample_weight])
    dataset = dataset_in_stack(first)
    if dataset is not None and is_xgb_dmatrix(dataset):
        return _xgb_objective(loss, second, dataset, booster_in_stack())
    name = "y_pred (the second argument)"
    z = check_margin(second, name=name, finite=False)
    entry = prepare_arrays(first, sample_weight, z.shape[0], _n_classes(z), dataset)
    dtype = LGB_GRADIENT_DTYPE if is_lgb_dataset(dataset) else None
    return _grad_hess(loss, z, entry, np.shape(second), dtype, _finite_check(second, name))


def _dask_guard(loss):
    """Hook owned by boost_focal/_distributed.py: refuse alpha="balanced" inside Dask training.

    There each worker sees only its partition, so class frequencies would differ per worker.
    Costs nothing unless xgboost.dask or lightgbm.dask has been imported.
    """
    if "xgboost.dask" in sys.modules or "lightgbm.dask" in sys.modules:
        from ._distributed import check_not_distributed

        check_not_distributed(loss)


def _no_extra_weight(sample_weight, api, fix):
    if sample_weight is not None:
        raise TypeError(f"{api} passes the training data as the second argument; give weights through {fix}")


def _xgb_objective(loss, predt, dmatrix, booster):
    if booster is not None and _booster_device(booster) == "cuda":
        from ._cuda import xgb_cuda_grad_hess

        return xgb_cuda_grad_hess(loss, predt, dmatrix)
    z = check_margin(predt, name="predt", finite=False)
    entry = prepare_xgb(dmatrix, z.shape[0], _n_classes(z), booster)
    return _grad_hess(loss, z, entry, np.shape(predt), None, _finite_check(predt, "predt"))


def _finite_check(margin, name):
    """The margins' value check, deferred: the float32 kernels flag non-finite margins in their
    own pass and this then raises the clear error (the float64 kernels run it first)."""
    return lambda: check_margin(margin, name=name)


def _grad_hess(loss, z, entry, shape, dtype=None, recheck=None):
    # inside the library's training loop: one kernel thread for small calls (_cpu.training_threads)
    with training_threads(np.size(z)):
        grad, hess = loss._grad_hess_checked(z, entry.y, entry.w, entry.alpha_for(loss), dtype=dtype, recheck=recheck)
    if grad.shape != shape:  # an (n, 1) margin was squeezed to (n,) for the binary kernel
        grad, hess = grad.reshape(shape), hess.reshape(shape)
    return grad, hess


def _booster_device(booster):
    """"cuda" or "cpu" for one booster, asked of :mod:`boost_focal._cuda` once and cached."""
    device = _DEVICE_CACHE.get(booster)
    if device is None:
        try:
            from ._cuda import booster_device_from_stack
        except ImportError:  # the GPU module is optional (and absent without numba-cuda)
            device = "cpu"
        else:
            device = booster_device_from_stack() or "cpu"
        _DEVICE_CACHE[booster] = device
    return device


# ---------------------------------------------------------------------------- starting score
def xgb_base_score(loss, y, sample_weight=None, n_classes=None):
    """The ``base_score`` parameter that starts XGBoost at ``loss.init_score(y, sample_weight)``.

    XGBoost stores ``base_score`` in the model and passes it through the link of
    ``params["objective"]``: with ``binary:logistic`` it is a probability, so the binary value
    returned is ``sigmoid(s)``; with ``multi:softprob`` it is a vector of K raw margins
    (checked on xgboost 3.2), returned as a list. Use it with those two objectives only.
    """
    s = loss.init_score(y, sample_weight, n_classes)
    if np.ndim(s) != 0 and _xgb_version() < (3, 1):
        raise ValueError(
            "a per-class base_score needs xgboost >= 3.1; with older versions pass "
            "base_margin=numpy.tile(loss.init_score(y), (n_rows, 1)) to every DMatrix (also at predict time)"
        )
    if np.ndim(s) == 0:
        # sigmoid(s) written as 1/(1 + exp(-s)); s is the optimum of a proper loss, so |s| is
        # modest and exp cannot overflow, but guard the sign anyway.
        s = float(s)
        return 1.0 / (1.0 + np.exp(-s)) if s >= 0 else np.exp(s) / (1.0 + np.exp(s))
    return [float(v) for v in s]


def _xgb_version():
    import xgboost

    major, minor = re.match(r"(\d+)\.(\d+)", xgboost.__version__).groups()
    return int(major), int(minor)


def lgb_init_score(loss, y, sample_weight=None, n_classes=None, n_rows=None):
    """Per-row ``init_score`` for ``lightgbm.Dataset`` that starts at ``loss.init_score``.

    The constant is fitted on the training labels ``y`` (and weights); ``n_rows`` (default
    ``len(y)``) sets how many rows to return, e.g. ``len(X_valid)`` for a validation set, which
    needs the same constant or its metric is computed from the wrong starting point. Returns
    shape (n_rows,) for binary and (n_rows, K) for multiclass (LightGBM 4 accepts the 2-D form
    and orders it correctly; a flat multiclass array would have to be class-major).

    LightGBM uses ``init_score`` in training but does not store it in the model: add
    ``loss.init_score(y, sample_weight)`` back to ``Booster.predict(X, raw_score=True)``.
    """
    y = np.asarray(y)
    s = loss.init_score(y, sample_weight, n_classes)
    n = y.shape[0] if n_rows is None else int(n_rows)
    if n < 0:
        raise ValueError(f"n_rows must be >= 0, got {n_rows}")
    if np.ndim(s) == 0:
        return np.full(n, float(s))
    return np.tile(np.asarray(s, dtype=np.float64), (n, 1))
