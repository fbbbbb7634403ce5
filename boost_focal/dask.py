"""Distributed training on Dask (``xgboost.dask``, ``lightgbm.dask``) with whole-data statistics.

On a Dask cluster each worker calls the objective on ITS OWN PARTITION only. Two focal-loss
quantities depend on the whole training set and must therefore be computed once, before
training, from class totals summed over all partitions:

* alpha="balanced":  alpha_k = (1/n_k) / sum_j (1/n_j)   (n_k = rows of class k), and
* the starting score: z* = argmin_z sum_k T_k FL(z; y=k)  (T_k = total sample weight of class k).

:func:`class_summary` gets every per-class total in ONE pass over the data (one small task per
partition, K numbers back from each); :func:`resolve` turns them into a FocalLoss with fixed
alpha and its starting score, for use with the libraries' own Dask APIs. The estimators
:class:`FocalDaskXGBClassifier` and :class:`FocalDaskLGBMClassifier` do all of it inside ``fit``
and return real probabilities (the recovered posterior, or sigmoid/softmax) as Dask arrays.

A FocalLoss whose alpha is still "balanced" refuses to run inside ``xgboost.dask`` or
``lightgbm.dask`` training (:func:`check_not_distributed`, called from
:mod:`boost_focal._frameworks`): it would silently compute different weights on every worker.

Everything sent to the workers pickles by reference (plain ``pickle`` works), so the workers
need ``boost-focal`` installed and nothing else. See ``docs/dask.md``.
"""

import copy
import warnings
from typing import NamedTuple

import numpy as np
from scipy import special
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from . import _frameworks
from ._distributed import RESOLVE_HINT as _RESOLVE_HINT
from ._distributed import check_not_distributed
from ._validation import check_sample_weight
from .estimators._scale import check_loss_scale
from .estimators._base import (
    alpha_for_classes,
    check_estimator_gamma,
    check_n_estimators,
    check_posterior_alpha,
    check_probability,
    encode_with_classes,
    labels_1d,
    make_objective,
    relative_alpha,
    seed_from,
)
from .estimators._calibration import posterior_sums, solve_shift, solve_shifts
from .estimators._evaluation import check_eval_metric
from .estimators.lgbm import _BOOSTER_PARAMS as _LGB_PARAMS
from .estimators.lgbm import FocalLGBMClassifier
from .estimators.xgb import _DATA_KWARGS, FocalXGBClassifier, stores_vector_intercept
from .focal import FocalLoss, _optimal_constant



# ---------------------------------------------------------------------------- Dask plumbing
def _dask():
    try:
        import dask
        import dask.array
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("boost_focal.dask needs dask: pip install 'dask[distributed]' (from a checkout: pip install '.[dask]')") from exc
    return dask


def _is_frame(obj):
    """A dask DataFrame or Series (duck-typed, so dask.dataframe is never imported needlessly)."""
    return hasattr(obj, "map_partitions") and hasattr(obj, "npartitions")


def _is_dask_array(obj):
    return type(obj).__module__.startswith("dask.array") and hasattr(obj, "chunks")


def is_dask_collection(obj):
    return _is_frame(obj) or _is_dask_array(obj)


def _column(y, name):
    """A 1-D Dask array or a Dask Series (an (n, 1) array is squeezed)."""
    if _is_dask_array(y):
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(f"{name} must be 1-D (one value per row), got a Dask array of shape {y.shape}")
        return y
    if _is_frame(y) and y.ndim == 1:  # a Series (a DataFrame has ndim 2)
        return y
    raise TypeError(
        f"{name} must be a Dask array or a Dask Series, got {type(y).__name__}; wrap in-memory data with "
        "dask.array.from_array (or use the single-machine estimators)"
    )


def _align(col, like, name, like_name):
    """``col`` partitioned exactly like ``like`` (rows in the same chunks), or a clear error."""
    if col is None:
        return None
    if _is_dask_array(col) and _is_dask_array(like):
        n_col, n_like = col.shape[0], like.shape[0]
        if not (np.isnan(n_col) or np.isnan(n_like)) and n_col != n_like:
            raise ValueError(f"{name} has {n_col} rows but {like_name} has {n_like}")
        if col.chunks[0] != like.chunks[0] and not any(np.isnan(c) for c in like.chunks[0] + col.chunks[0]):
            col = col.rechunk({0: like.chunks[0]})
        return col
    if col.npartitions != like.npartitions:
        raise ValueError(
            f"{name} has {col.npartitions} partitions but {like_name} has {like.npartitions}; "
            "partition them alike (or pass both as Dask arrays, which are rechunked automatically)"
        )
    return col


def _parts(col):
    """One delayed object per partition (row block) of a 1-D Dask array or Series."""
    return list(col.to_delayed().ravel()) if _is_dask_array(col) else list(col.to_delayed())


def _map_rows(func, cols, width=None, dtype=np.float64, name="values"):
    """``func(*numpy_blocks) -> (n,) or (n, width)`` applied per partition, as a Dask collection.

    ``cols``: aligned 1-D Dask arrays or Series (None entries reach ``func`` as None). Arrays
    give a Dask array; Series give a Series (``width`` None) or a DataFrame with their index.
    """
    first = next(c for c in cols if c is not None)
    present = [i for i, c in enumerate(cols) if c is not None]

    def call(*blocks):
        full = [None] * len(cols)
        for i, b in zip(present, blocks):
            full[i] = np.asarray(b)
        return func(*full)

    args = [cols[i] for i in present]
    if _is_dask_array(first):
        da = _dask().array
        if width is None:
            return da.map_blocks(call, *args, dtype=dtype, chunks=first.chunks)
        return da.map_blocks(call, *args, dtype=dtype, chunks=(first.chunks[0], (width,)), new_axis=1)

    import pandas as pd

    def call_frame(*parts):
        out = call(*parts)
        if width is None:
            return pd.Series(out, index=parts[0].index, name=name)
        return pd.DataFrame(out, index=parts[0].index, columns=list(range(width)))

    meta = (
        pd.Series(np.empty(0, dtype=dtype), name=name)
        if width is None
        else pd.DataFrame(np.empty((0, width), dtype=dtype), columns=list(range(width)))
    )
    return first.map_partitions(call_frame, *args[1:], meta=meta, align_dataframes=False)


# ---------------------------------------------------------------------------- one pass: class totals
class ClassSummary(NamedTuple):
    """Per-class totals over the whole data set (all partitions), classes sorted.

    ``counts``: rows per class; ``positive``: rows with sample weight > 0; ``totals``: sum of
    the sample weights (= counts when unweighted).
    """

    classes: np.ndarray
    counts: np.ndarray
    positive: np.ndarray
    totals: np.ndarray


def _summarise_partition(y, w):
    """(classes, counts, positive counts, weight totals) of one partition (runs on a worker)."""
    y = labels_1d(np.asarray(y), "y")
    n = y.shape[0]
    w = check_sample_weight(None if w is None else np.asarray(w), n)
    if n == 0:
        return None
    classes, inverse = np.unique(y, return_inverse=True)
    inverse = inverse.ravel()
    counts = np.bincount(inverse, minlength=classes.shape[0]).astype(np.float64)
    if w.size == 0:
        return classes, counts, counts, counts
    positive = np.bincount(inverse, weights=(w > 0).astype(np.float64), minlength=classes.shape[0])
    totals = np.bincount(inverse, weights=w, minlength=classes.shape[0])
    return classes, counts, positive, totals


def _combine(parts):
    """Sum per-partition summaries over the union of their classes."""
    parts = [p for p in parts if p is not None]
    if not parts:
        raise ValueError("y is empty: at least one label is needed")
    classes = np.unique(np.concatenate([p[0] for p in parts]))
    out = np.zeros((3, classes.shape[0]))
    for part_classes, *sums in parts:
        index = np.searchsorted(classes, part_classes)
        for row, values in zip(out, sums):
            row[index] += values
    return ClassSummary(classes, *out)


def class_summary(y, sample_weight=None, client=None):
    """Per-class row counts and weight totals over ALL partitions of ``y``, in one pass.

    ``y``: a Dask array or Series of class labels (any type); ``sample_weight``: None or a Dask
    array/Series of non-negative weights partitioned like ``y`` (arrays are rechunked). Each
    partition is summarised where it lives and only K numbers per partition travel; the
    result is the same as ``np.unique``/``np.bincount`` on the concatenated data. Runs on
    ``client`` if given, else on Dask's current scheduler.
    """
    dask = _dask()
    y = _column(y, "y")
    w = None if sample_weight is None else _align(_column(sample_weight, "sample_weight"), y, "sample_weight", "y")
    y_parts = _parts(y)
    w_parts = [None] * len(y_parts) if w is None else _parts(w)
    tasks = [dask.delayed(_summarise_partition)(yp, wp) for yp, wp in zip(y_parts, w_parts)]
    parts = client.compute(tasks, sync=True) if client is not None else dask.compute(*tasks)
    return _combine(parts)


# ---------------------------------------------------------------------------- statistics from totals
def balanced_alpha_from_counts(counts):
    """alpha="balanced" from class counts: alpha_k = (1/n_k) / sum_j (1/n_j).

    The same weights as :func:`boost_focal.focal.balanced_alpha` computes from labels, including
    its rule that a class with no rows gets the weight of the rarest present class.
    """
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    if present.sum() < 2:
        raise ValueError("alpha='balanced' needs labels from at least two classes")
    inv = np.zeros(counts.shape[0])
    inv[present] = 1.0 / counts[present]
    inv[~present] = inv[present].max()
    return inv / inv.sum()


def init_score_from_totals(loss, totals):
    """The focal-optimal constant margin from per-class weight totals T_k (sum_i w_i [y_i = k]).

    z* = argmin_z sum_k T_k FL(z; y = k): the same value ``loss.init_score(y, w)`` gives on the
    full data (it depends on the data only through T), a float for 2 classes, else a zero-mean
    (K,) array. ``loss`` must have a fixed alpha (call :func:`resolve` for "balanced").
    """
    totals = np.asarray(totals, dtype=np.float64)
    k = totals.shape[0]
    if k < 2:
        raise ValueError(f"init_score needs at least 2 classes, got {k}")
    if isinstance(loss.alpha, str):
        raise ValueError(f"init_score_from_totals needs a fixed alpha, got alpha='balanced'; {_RESOLVE_HINT}")
    alpha = loss.class_alpha(k)
    if (totals[alpha > 0] > 0).sum() < 2 or (totals * alpha > 0).sum() < 2:
        raise ValueError(
            "init_score needs positive (alpha- and sample-) weight on at least two classes; "
            "with one class the optimal margin is infinite"
        )
    return _optimal_constant(loss, totals, alpha, k)


class Resolved(NamedTuple):
    """A FocalLoss with alpha fixed from the whole data, and its optimal starting margin."""

    loss: FocalLoss
    init_score: object  # float (binary) or ndarray (K,)


def resolve(loss, y, sample_weight=None, n_classes=None, client=None):
    """Fix a FocalLoss for distributed training from ONE pass over all partitions.

    ``y``: Dask array/Series of integer labels 0..K-1 (what ``xgboost.dask`` and ``lightgbm.dask``
    train on); ``n_classes`` defaults to max(y) + 1. Returns ``(loss, init_score)``: ``loss`` with
    alpha="balanced" replaced by the weights of all labels (other alphas unchanged) and the
    focal-optimal starting margin of all (weighted) labels, identical to
    ``loss.resolve_alpha(y_all)`` and ``loss.init_score(y_all, w_all)`` on in-memory data.
    Give the start to XGBoost with :func:`xgb_base_score`, to LightGBM with
    :func:`lgb_init_score`.
    """
    summary = class_summary(y, sample_weight, client)
    classes = summary.classes
    if classes.dtype.kind not in "biuf" or not np.array_equal(classes, np.floor(classes)) or classes.min() < 0:
        raise ValueError(
            f"y must hold integer class labels 0..K-1, found {classes.tolist()[:10]}; encode the labels "
            "first, or use FocalDaskXGBClassifier / FocalDaskLGBMClassifier (any label type)"
        )
    k = int(classes.max()) + 1 if n_classes is None else int(n_classes)
    if classes.max() >= k:
        raise ValueError(f"y has label {classes.max()} but n_classes={k}: labels must lie in 0..{k - 1}")
    k = max(k, 2)
    index = classes.astype(np.int64)
    positive, totals = np.zeros(k), np.zeros(k)
    positive[index], totals[index] = summary.positive, summary.totals
    if isinstance(loss.alpha, str):
        loss = FocalLoss(loss.gamma, balanced_alpha_from_counts(positive).tolist(), loss.hessian)
    return Resolved(loss, init_score_from_totals(loss, totals))


def xgb_base_score(init_score):
    """XGBoost's ``base_score`` for a starting margin, with ``binary:logistic`` / ``multi:softprob``.

    Binary: sigmoid(s) (XGBoost applies the logit link to it); multiclass: the list of K margins
    (XGBoost >= 3.1 stores a per-class vector for ``multi:softprob``).
    """
    if np.ndim(init_score) == 0:
        return float(special.expit(float(init_score)))
    import xgboost

    if not stores_vector_intercept(xgboost):
        raise ValueError(
            "a per-class base_score needs xgboost >= 3.1; with older versions pass the starting margin as "
            "base_margin (use lgb_init_score(init_score, y) to build it) to DaskDMatrix and at predict time"
        )
    return [float(v) for v in init_score]


def _constant_rows(init_score):
    width = None if np.ndim(init_score) == 0 else len(init_score)
    value = np.asarray(init_score, dtype=np.float64)

    def rows(y):
        return np.broadcast_to(value, (y.shape[0],) + value.shape).copy()

    return rows, width


def lgb_init_score(init_score, like):
    """Per-row starting scores partitioned like ``like`` (a Dask array or Series, e.g. y).

    Shape (n,) for binary, (n, K) for multiclass: what ``DaskLGBMClassifier.fit(init_score=...)``
    and ``DaskDMatrix(base_margin=...)`` take. LightGBM does not store it in the model: add
    ``init_score`` back to raw predictions (:func:`posterior` does).
    """
    rows, width = _constant_rows(init_score)
    return _map_rows(rows, [_column(like, "like")], width=width, name="init_score")


def posterior(loss, raw_margin, init_score=0.0):
    """Class probabilities of a focal-trained model from its raw margins (a Dask array).

    ``loss.posterior(raw_margin + init_score)`` block by block: binary margins (n,) give
    P(y = 1) (n,), multiclass (n, K) give rows summing to 1. Use it on
    ``DaskLGBMClassifier.predict_proba(X, raw_score=True)`` (which omits the starting score) or
    ``xgboost.dask.predict(..., output_margin=True)`` (which includes it: leave init_score 0).
    """
    offset = np.asarray(init_score, dtype=np.float64)
    return raw_margin.map_blocks(lambda z: loss.posterior(np.asarray(z, dtype=np.float64) + offset), dtype=np.float64)


# ---------------------------------------------------------------------------- worker objective
class _PartitionObjective:
    """The estimators' objective as run by each worker on its local partition.

    Labels and weights come from the worker's DMatrix/Dataset (validated once per dataset by
    :mod:`boost_focal._frameworks`); the arithmetic is :func:`make_objective`'s, so every row
    gets exactly the gradient the single-machine estimator gives it. Exactly three parameters:
    LightGBM's scikit-learn wrapper counts them and then passes the weights third.
    """

    def __init__(self, loss, alpha):
        self.loss = loss
        self.alpha = np.asarray(alpha, dtype=np.float64)
        self._codes = (None, None)  # (validated entry, its labels as int64), see _labels

    def _labels(self, entry):
        """int64 labels, the dtype the single-machine estimators pass: the same compiled kernels
        (no per-worker compilation of a float32-label variant) and the same arithmetic."""
        if self._codes[0] is not entry:
            self._codes = (entry, entry.y.astype(np.int64))
        return self._codes[1]

    def __getstate__(self):
        return {"loss": self.loss, "alpha": self.alpha}

    def __setstate__(self, state):
        self.__init__(state["loss"], state["alpha"])

    def __call__(self, y_or_preds, preds_or_data, weight=None):
        k = self.alpha.shape[0]
        if _frameworks.is_xgb_dmatrix(preds_or_data):  # xgboost: (predt, dtrain)
            z = y_or_preds
            entry = _frameworks.prepare_xgb(preds_or_data, z.shape[0], k, _frameworks.booster_in_stack())
        else:  # LightGBM's scikit-learn wrapper: (y_true, y_pred, weight)
            z = preds_or_data
            dataset = _frameworks.dataset_in_stack(y_or_preds)
            entry = _frameworks.prepare_arrays(y_or_preds, weight, z.shape[0], k, dataset)
        return make_objective(self.loss, self._labels(entry), entry.w, self.alpha)(z)


# ---------------------------------------------------------------------------- estimators
class _DaskFocalMixin:
    """Dask ``fit``/``predict`` around a single-machine focal estimator (the next base class).

    ``fit`` computes classes, alpha and the starting score from one pass over all partitions,
    then trains with the library's Dask API; prediction maps the fitted single-machine
    estimator (:meth:`to_local`) over the partitions.
    """

    _local_class = None

    # ------------------------------------------------------------ fit
    def fit(self, X, y, sample_weight=None, *, client=None):
        """Fit on a Dask array/DataFrame X and Dask array/Series labels y (any label type).

        ``sample_weight``: None or non-negative weights partitioned like y. ``client``: the
        ``distributed.Client`` to train on (default: the current one). Rows whose final weight
        is 0 are dropped, as in the single-machine estimators.
        """
        self._import_library()
        client = _client(client)
        extra = self._check_extra_params()
        check_probability(self.probability)
        check_eval_metric(self.eval_metric)
        n_estimators = check_n_estimators(self.n_estimators)
        if self.early_stopping_rounds is not None:
            raise ValueError(
                f"{type(self).__name__} takes no eval_set, so early_stopping_rounds must be None; choose "
                "n_estimators with the single-machine estimator on a sample, or use the library's Dask API"
            )
        X = self._check_dask_X(X)
        y = _align(_column(y, "y"), X, "y", "X")
        w = None if sample_weight is None else _align(_column(sample_weight, "sample_weight"), y, "sample_weight", "y")

        summary = class_summary(y, w, client)
        classes = summary.classes
        check_classification_targets(classes)
        if classes.shape[0] < 2:
            raise ValueError(f"y has 1 class ({classes[0]!r}); a classifier needs labels from at least 2 classes")
        factors = self._class_factors(classes, summary.counts)
        positive = np.where(factors > 0, summary.positive, 0.0)
        if (positive > 0).sum() < 2:
            raise ValueError(
                "fewer than 2 classes have rows with positive sample_weight (scale_pos_weight and "
                "class_weight included); a classifier needs at least 2"
            )
        loss = FocalLoss(check_estimator_gamma(self.gamma), relative_alpha(alpha_for_classes(self.alpha, classes)),
                         self.hessian)
        if isinstance(loss.alpha, str):
            loss = FocalLoss(loss.gamma, balanced_alpha_from_counts(positive).tolist(), loss.hessian)
        try:
            alpha = loss.class_alpha(classes.shape[0])
        except ValueError as exc:
            raise ValueError(f"{exc} (classes in y: {classes.tolist()})") from None
        check_posterior_alpha(self.probability, alpha, classes)
        self.classes_ = classes
        self.n_classes_ = classes.shape[0]
        self.alpha_ = alpha
        self.loss_ = loss
        totals = summary.totals * factors
        self.init_score_ = init_score_from_totals(loss, totals)
        self.loss_scale_ = self._resolved_loss_scale(check_loss_scale(self.loss_scale), loss, totals, alpha)
        # no eval set on Dask: the calibrated probabilities use the no-eval-set temperature
        self.temperature_ = self._temperature_centre(self._learning_rate() * n_estimators) \
            if self.probability == "calibrated" else 1.0
        self.margin_shift_ = self._no_shift()

        codes, weights = self._codes_and_weights(y, w, classes, factors)
        if weights is not None and positive.sum() < summary.counts.sum():
            # Zero weight means "not in the training set", as in the single-machine estimators
            # (it matters for bins and LightGBM's row counts, not for the gradients).
            keep = weights > 0
            X, codes, weights = X[keep], codes[keep], weights[keep]
        objective = _PartitionObjective(loss, alpha * self.loss_scale_)
        self.booster_ = self._train_dask(client, X, codes, weights, objective, n_estimators, extra)
        self.best_iteration_ = self._rounds_trained() - 1
        self.n_estimators_ = self.best_iteration_ + 1
        # the budget of the trees kept (fewer if training stalled). At the constant learning rate: the
        # callbacks run on the workers, where no RateLog sees a schedule (docs/dask.md)
        self.boosting_budget_ = self._learning_rate() * self.n_estimators_
        if self.probability == "calibrated":
            self.temperature_ = self._temperature_centre(self.boosting_budget_)
        self.best_score_ = None
        self.evals_result_ = {}
        if self._shifts_on_training_rows():
            self.margin_shift_ = self._training_shift(client, X, weights, totals)
        return self

    def _training_shift(self, client, X, weights, totals):
        """``margin_shift_`` as the single-machine fit sets it (``_calibration.training_shift``,
        ``training_shifts`` for more than two classes): one prediction pass over the training
        partitions (kept on the workers), then for each solver step every partition sends back one
        weighted sum per trial shift (per class and trial shift vector). ``totals``: the per-class
        weight totals of the training rows (from the fit's class summary). The multiclass
        Jacobian comes from the same sums over all rows (no subsample)."""
        dask = _dask()
        local = self.to_local()
        if _is_dask_array(X):
            X = X.rechunk({1: -1}) if X.ndim == 2 and len(X.chunks[1]) > 1 else X
            x_parts = list(X.to_delayed().ravel())
        else:
            x_parts = list(X.to_delayed())
        w_parts = [None] * len(x_parts) if weights is None else _parts(weights)
        temperature = self.temperature_

        def tempered(x):
            return local.decision_function(x) / temperature

        z_parts = client.persist([dask.delayed(tempered)(x) for x in x_parts])
        total = float(np.sum(totals))

        def mean_at(shifts):
            sums = client.compute(
                [dask.delayed(posterior_sums)(self.loss_.posterior, z, w, shifts) for z, w in zip(z_parts, w_parts)],
                sync=True,
            )
            return np.sum(sums, axis=0) / total

        if self.n_classes_ > 2:
            return solve_shifts(mean_at, np.asarray(totals, dtype=np.float64) / total)
        return solve_shift(mean_at, float(totals[1]) / total)[0]

    def _check_dask_X(self, X):
        if _is_dask_array(X):
            if X.ndim != 2:
                raise ValueError(f"X must be 2-D (rows, features), got a Dask array of shape {X.shape}")
            if len(X.chunks[1]) > 1:
                X = X.rechunk({1: -1})  # whole rows per block: the libraries read row blocks
            self.n_features_in_ = X.shape[1]
            self.__dict__.pop("feature_names_in_", None)
            return X
        if _is_frame(X) and X.ndim == 2:
            from sklearn.utils.validation import validate_data

            # Records n_features_in_ and feature_names_in_ from the (empty) meta frame.
            validate_data(self, X._meta, reset=True, skip_check_array=True)
            return X
        raise TypeError(
            f"X must be a Dask array or a Dask DataFrame, got {type(X).__name__}; use "
            f"{self._local_class.__name__} for in-memory data"
        )

    def _class_factors(self, classes, counts):
        """Per-class multipliers of sample_weight (scale_pos_weight, class_weight).

        Both depend on the class only, so the single-machine ``_row_weights`` applied to one row
        per class gives them (with its validation); class_weight="balanced" is n / (K n_k) from
        the global counts (scikit-learn's formula, which is 1 for one row per class).
        """
        k = classes.shape[0]
        factors = self._row_weights(np.empty(0), np.arange(k), classes)
        factors = np.ones(k) if factors.size == 0 else factors
        class_weight = getattr(self, "class_weight", None)  # FocalXGBClassifier has none
        if isinstance(class_weight, str) and class_weight == "balanced":
            factors = factors * (counts.sum() / (k * counts))
        return factors

    @staticmethod
    def _codes_and_weights(y, w, classes, factors):
        """Dask collections of label codes (int64) and final row weights (None = unweighted)."""

        def codes_of(yb):
            return encode_with_classes(yb, classes, "y")

        codes = _map_rows(codes_of, [y], dtype=np.int64, name="label")
        if w is None and np.all(factors == 1.0):
            return codes, None

        def weights_of(yb, wb):
            f = factors[encode_with_classes(yb, classes, "y")]
            return f if wb is None else np.asarray(wb, dtype=np.float64) * f

        return codes, _map_rows(weights_of, [y, w], dtype=np.float64, name="weight")

    # ------------------------------------------------------------ predict
    def to_local(self):
        """The fitted single-machine estimator (same parameters, booster and fitted attributes)."""
        check_is_fitted(self)
        local = self._local_class(**self.get_params(deep=False))
        for key, value in vars(self).items():
            if (key.endswith("_") and not key.startswith("__")) or key == "_margin_offset":
                setattr(local, key, value)
        return local

    def _map(self, method, X, width):
        local = getattr(self.to_local(), method)
        if not is_dask_collection(X):
            return local(X)  # in-memory input: the single-machine result
        if _is_dask_array(X):
            X = X.rechunk({1: -1}) if X.ndim == 2 and len(X.chunks[1]) > 1 else X
            dtype = self.classes_.dtype if method == "predict" else np.float64
            if width is None:
                return X.map_blocks(local, dtype=dtype, drop_axis=1)
            return X.map_blocks(local, dtype=dtype, chunks=(X.chunks[0], (width,)))
        if _is_frame(X):
            da = _dask().array
            dask = _dask()
            shape = (np.nan,) if width is None else (np.nan, width)
            dtype = self.classes_.dtype if method == "predict" else np.float64
            blocks = [da.from_delayed(dask.delayed(local)(part), shape=shape, dtype=dtype) for part in X.to_delayed()]
            return da.concatenate(blocks)
        raise TypeError(f"X must be a Dask array/DataFrame or in-memory data, got {type(X).__name__}")

    def predict_proba(self, X):
        """Class probabilities (n, n_classes), a Dask array for Dask input (computed lazily)."""
        check_is_fitted(self)
        return self._map("predict_proba", X, self.n_classes_)

    def decision_function(self, X):
        """Raw margins with the starting score: (n,) for 2 classes, else (n, n_classes)."""
        check_is_fitted(self)
        return self._map("decision_function", X, None if self.n_classes_ == 2 else self.n_classes_)

    def predict(self, X):
        """The most probable class of ``predict_proba``, as labels from ``classes_``."""
        check_is_fitted(self)
        return self._map("predict", X, None)


def _client(client):
    if client is not None:
        return client
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        raise ValueError(
            "no Dask client: pass fit(..., client=client) or create one first "
            "(client = distributed.Client(cluster_or_address))"
        ) from None


class FocalDaskXGBClassifier(_DaskFocalMixin, FocalXGBClassifier):
    """:class:`FocalXGBClassifier` trained with ``xgboost.dask`` on a Dask cluster.

    Same parameters and probabilities (``probability="calibrated"``, the default, ``"posterior"``
    or ``"raw"``); ``fit`` takes Dask collections and a ``client``, computes classes,
    alpha="balanced", class_weight="balanced" and the starting score once over all partitions, and
    takes no eval_set (early stopping is not supported). ``predict_proba``/``predict``/
    ``decision_function`` return Dask arrays for Dask input (NumPy for in-memory input);
    :meth:`to_local` gives the fitted single-machine estimator.
    """

    _local_class = FocalXGBClassifier

    def _train_dask(self, client, X, codes, weights, objective, n_estimators, extra):
        import xgboost
        import xgboost.dask as xgb_dask

        base_score, offset = self._start(xgboost)
        self._margin_offset = offset  # added at predict time when the booster cannot store it
        kwargs = dict(
            label=codes,
            weight=weights,
            missing=self.missing,
            enable_categorical=self.enable_categorical,
            **{k: extra[k] for k in _DATA_KWARGS if k in extra},
        )
        if offset is not None:
            rows, width = _constant_rows(offset)
            kwargs["base_margin"] = _map_rows(rows, [codes], width=width, name="base_margin")
        if self._use_quantile_dmatrix(extra):
            dtrain = xgb_dask.DaskQuantileDMatrix(client, X, max_bin=self.max_bin, **kwargs)
        else:
            dtrain = xgb_dask.DaskDMatrix(client, X, **kwargs)
        out = xgb_dask.train(
            client,
            self._booster_params(extra, base_score),
            dtrain,
            num_boost_round=n_estimators,
            obj=objective,
            verbose_eval=False,
            callbacks=copy.deepcopy(self.callbacks) if self.callbacks else None,
        )
        return out["booster"]


class FocalDaskLGBMClassifier(_DaskFocalMixin, FocalLGBMClassifier):
    """:class:`FocalLGBMClassifier` trained with ``lightgbm.dask`` on a Dask cluster.

    Same parameters and probabilities; ``fit`` takes Dask collections and a ``client`` and
    computes classes, alpha="balanced", class_weight="balanced" and the starting score once over
    all partitions (given to every worker as ``init_score``). Training uses LightGBM's
    data-parallel learner on encoded labels with ``num_class`` set from the global classes, so a
    partition that lacks a class still trains the right model. ``n_jobs`` is ignored by
    ``lightgbm.dask`` (it warns): each worker uses its own threads. No eval_set / early stopping.
    """

    _local_class = FocalLGBMClassifier

    def _train_dask(self, client, X, codes, weights, objective, n_estimators, extra):
        import lightgbm.dask as lgb_dask

        # LightGBM's scikit-learn names (the estimator attributes) rather than the native names
        # of _booster_params, which would clash with the wrapper's own defaults as aliases.
        params = {attr: getattr(self, attr) for attr in _LGB_PARAMS if getattr(self, attr) is not None}
        params.update(extra)
        seed = seed_from(self.random_state)
        if seed is not None:
            params["random_state"] = seed
        if self.n_classes_ > 2:
            params["num_class"] = self.n_classes_
        # A regressor wrapper: LGBMClassifier would re-encode the labels on each worker from
        # the classes of its own partition (a missing class would change num_class there).
        model = lgb_dask.DaskLGBMRegressor(
            client=client, objective=objective, metric="None", n_estimators=n_estimators, **params
        )
        rows, width = _constant_rows(self.init_score_)
        with warnings.catch_warnings():
            if self.n_jobs is None:  # lightgbm.dask warns about its wrapper's default n_jobs=None
                warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored", category=UserWarning)
            start = _map_rows(rows, [codes], width=width, name="init_score")
            model.fit(X, codes, sample_weight=weights, init_score=start)
        booster = model.booster_
        # Network settings of this cluster and the objective have no use in the fitted model.
        for key in ("objective", "machines", "local_listen_port", "num_machines", "time_out"):
            booster.params.pop(key, None)
        return booster


__all__ = [
    "ClassSummary",
    "FocalDaskLGBMClassifier",
    "FocalDaskXGBClassifier",
    "Resolved",
    "balanced_alpha_from_counts",
    "check_not_distributed",
    "class_summary",
    "init_score_from_totals",
    "lgb_init_score",
    "posterior",
    "resolve",
    "xgb_base_score",
]
