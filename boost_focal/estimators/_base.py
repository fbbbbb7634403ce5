"""Shared scikit-learn machinery of :class:`FocalXGBClassifier` and :class:`FocalLGBMClassifier`.

``fit`` validates X, y and the weights once, encodes the labels with ``classes_``, resolves alpha
and the focal-optimal starting score, prepares the eval sets, and hands a closure objective and a
metric recorder to the library subclass (``_train_booster``). ``predict_proba`` turns the margin
(starting score included) into probabilities: the recovered class posterior
(``probability="posterior"``, :meth:`FocalLoss.posterior`) or plain sigmoid/softmax
(``probability="raw"``). ``predict`` is the most probable class of those same probabilities.
"""

import functools
import math
import numbers
import warnings
from collections.abc import Mapping

import numpy as np
from scipy import special
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .._validation import check_sample_weight
from .. import focal
from ..focal import FocalLoss
from ._calibration import (
    fit_temperature,
    temper,
    temperature_centre,
    training_shift,
    training_shifts,
)
from ._evaluation import EvalRecorder, check_early_stopping_rounds, check_eval_metric
from ._scale import auto_loss_scale, check_loss_scale
from ._schedule import RateLog
from ._threads import TRAINING_SERIAL_BELOW, kernel_threads, serial_blas

PROBABILITY_MODES = ("calibrated", "posterior", "raw")

#: the largest gamma the estimators train with: the float32 kernels are verified to gamma = 50
#: (tests/test_fastmath.py); beyond it (1 - p_t)^gamma underflows for all but the hardest rows
MAX_GAMMA = 50.0


# ---------------------------------------------------------------------------- pure helpers
def is_dataframe(X):
    """True for a pandas DataFrame (kept as is so the libraries see categorical columns)."""
    return type(X).__module__.partition(".")[0] == "pandas" and hasattr(X, "columns")


def is_polars(X):
    """True for a polars DataFrame (converted to pandas, so categoricals reach both libraries)."""
    return type(X).__module__.partition(".")[0] == "polars" and hasattr(X, "to_pandas") and hasattr(X, "columns")


def polars_to_pandas(X):
    """A polars DataFrame as pandas: Categorical/Enum columns become pandas categoricals.

    LightGBM 4.7 aborts the process on polars categoricals (Arrow dictionaries) and XGBoost
    would see different data types in training and prediction; pandas is what both read.
    """
    try:
        return X.to_pandas()
    except ImportError as exc:
        raise ImportError(
            f"a polars DataFrame is converted to pandas (categorical columns kept), which needs pandas and "
            f"pyarrow: pip install pandas pyarrow ({exc})"
        ) from exc


def num_rows(X):
    return X.shape[0]


def take_rows(X, index):
    """Rows ``index`` of a DataFrame, sparse matrix or array."""
    return X.iloc[index] if is_dataframe(X) else X[index]


def _missing_mask(y):
    """Missing labels (NaN, None, pandas.NA) in a 1-D label array of any dtype."""
    if y.dtype.kind == "f":
        return np.isnan(y)
    if y.dtype.kind != "O":
        return np.zeros(y.shape[0], dtype=bool)
    try:
        import pandas as pd

        return np.asarray(pd.isna(y), dtype=bool)
    except ImportError:
        return np.array([v is None or (isinstance(v, float) and math.isnan(v)) for v in y], dtype=bool)


def labels_1d(y, name):
    """A 1-D label array (column_or_1d) with no missing labels; ValueError naming ``name``."""
    if y is None:
        raise ValueError(
            f"{name} is None: this classifier requires y to be passed, but the target y is None; "
            "pass one class label per row"
        )
    y = column_or_1d(y, warn=True)
    if _missing_mask(y).any():
        raise ValueError(f"{name} contains missing labels (NaN/None); drop those rows or give them a class")
    return y


_labels_1d = labels_1d  # the former private name


def encode_labels(y):
    """(classes, codes): the sorted distinct labels and each row's index into them (int64).

    Any label type works (strings, non-contiguous integers, bools); ``classes[codes] == y``.
    """
    y = labels_1d(y, "y")
    check_classification_targets(y)  # rejects continuous / multilabel targets ("Unknown label type")
    found = _unique_small_integers(y)
    classes, codes = found if found is not None else np.unique(y, return_inverse=True)
    if classes.shape[0] < 2:
        raise ValueError(
            f"y has 1 class ({classes[0]!r}); a classifier needs labels from at least 2 classes"
        )
    return classes, codes.astype(np.int64).ravel()


def _unique_small_integers(y):
    """np.unique(y, return_inverse=True) for integer (or bool) labels spanning a small range, by
    counting instead of sorting: O(n) (50k rows: about 0.3 ms against 7 ms for np.unique's
    argsort of float32 labels, 1.2 ms of int64 ones, measured 2026-12-07). Floating-point labels
    qualify when every one is an integer (0.0/1.0). None for other labels."""
    if y.dtype.kind not in "iubf" or y.shape[0] == 0:
        return None
    low, high = y.min(), y.max()
    if y.dtype.kind == "f" and not (-(2.0**53) < low <= high < 2.0**53):  # NaN was rejected before
        return None
    low, high = int(low), int(high)  # Python integers: no overflow below
    if high - low > max(2 * y.shape[0], 1 << 16):
        return None
    offsets = y.astype(np.intp)
    if low:
        offsets -= low
    if y.dtype.kind == "f":
        if not np.array_equal(offsets + low, y):  # a label that is not an integer
            return None
        if low <= 0 <= high and np.signbit(y[y == 0]).any():  # -0.0, which np.unique may keep
            return None
    present = np.bincount(offsets, minlength=high - low + 1) > 0
    classes = (np.flatnonzero(present) + low).astype(y.dtype)
    return classes, (np.cumsum(present) - 1)[offsets]


def encode_with_classes(y, classes, name):
    """Codes of ``y`` in the fitted ``classes``; labels never seen in training are an error."""
    y = labels_1d(y, name)
    if classes.dtype.kind in "OUS" or y.dtype.kind in "OUS":
        lookup = {c: i for i, c in enumerate(classes.tolist())}
        codes = np.array([lookup.get(v, -1) for v in y.tolist()], dtype=np.int64)
    else:
        pos = np.clip(np.searchsorted(classes, y), 0, classes.shape[0] - 1)
        codes = np.where(classes[pos] == y, pos, -1).astype(np.int64)
    if (codes < 0).any():
        unseen = np.unique(np.asarray(y, dtype=object)[codes < 0]).tolist()
        raise ValueError(f"{name} has labels {unseen} that are not in the training classes {classes.tolist()}")
    return codes


def alpha_for_classes(alpha, classes):
    """A dict ``{class label: weight}`` becomes the per-class sequence in ``classes`` order."""
    if not isinstance(alpha, Mapping):
        return alpha
    labels = classes.tolist()
    unknown = [k for k in alpha if k not in labels]
    missing = [c for c in labels if c not in alpha]
    if unknown or missing:
        raise ValueError(
            f"alpha as a dict needs exactly one weight per class {labels}; "
            f"unknown keys {unknown}, classes without a weight {missing}"
        )
    return [alpha[c] for c in labels]


def relative_alpha(alpha):
    """A per-class alpha sequence with any weight above 1 divided by the largest (ratios kept)."""
    if alpha is None or isinstance(alpha, (str, numbers.Real)):
        return alpha
    values = np.asarray(alpha, dtype=np.float64)
    if values.ndim == 1 and values.size and np.all(np.isfinite(values)) and values.max() > 1.0:
        return (values / values.max()).tolist()
    return alpha


def check_probability(probability):
    if not isinstance(probability, str) or probability not in PROBABILITY_MODES:
        raise ValueError(
            "probability must be 'calibrated' (the class posterior of the focal-temperature-scaled margin, "
            "the default), 'posterior' (the class posterior recovered from the focal margin as is) "
            f"or 'raw' (plain sigmoid/softmax of the margin); got {probability!r}"
        )
    return probability


def check_estimator_gamma(gamma):
    """The focal gamma of an estimator: FocalLoss's rules plus the trainable bound MAX_GAMMA."""
    from .._validation import check_gamma

    gamma = check_gamma(gamma)
    if gamma > MAX_GAMMA:
        raise ValueError(
            f"gamma={gamma:g} is beyond what the estimators train with (0 <= gamma <= {MAX_GAMMA:g}; Lin et al. "
            "use 0.5-5): (1 - p_t)^gamma underflows for all but the hardest rows, so the model and its starting "
            "score would be meaningless; use gamma <= 5 for the usual focal effect"
        )
    return gamma


def check_posterior_alpha(probability, alpha, classes):
    """The posterior divides by alpha_k: refuse a zero alpha when probabilities are the posterior."""
    if probability != "raw" and (alpha <= 0).any():
        raise ValueError(
            f"alpha is 0 for class(es) {classes[alpha <= 0].tolist()}, so the posterior of those classes "
            "is undefined; give every class a positive alpha or use probability='raw'"
        )


def check_n_estimators(n_estimators):
    if isinstance(n_estimators, bool) or not isinstance(n_estimators, numbers.Integral) or n_estimators < 1:
        raise ValueError(f"n_estimators must be a positive integer (boosting rounds), got {n_estimators!r}")
    return int(n_estimators)


def seed_from(random_state):
    """None stays None; an int is used as is; a RandomState/Generator draws one seed."""
    if random_state is None or isinstance(random_state, numbers.Integral):
        return None if random_state is None else int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(np.iinfo(np.int32).max))
    raise TypeError(f"random_state must be None, an int, a RandomState or a Generator; got {random_state!r}")


def round_to_21_bits(a):
    """Round float32 values, in place, to 21 significant bits (ties away from zero).

    A 21-bit value times any integer weight 0..8 needs at most 24 bits, so it is exact in
    float32: see :func:`make_objective`. Adding 4 to the bit pattern and clearing the low 3
    mantissa bits rounds the magnitude; a carry into the exponent is the correct result.
    The float32 kernels' round21 variants do the same in their stores (tested equal bit for
    bit); this pass serves the reference kernels (``focal.FAST_FLOAT32`` off).
    """
    bits = a.view(np.uint32)
    bits += np.uint32(4)
    bits &= np.uint32(0xFFFFFFF8)
    return a


def make_objective(loss, y, w, alpha, n_jobs=None):
    """margin (n,) or (n, K) -> float32 (grad, hess) of the focal loss, for the libraries' hooks.

    ``y`` (int64 codes), ``w`` (float64, empty = unweighted) and ``alpha`` were validated once
    in ``fit``, so each round goes straight to the kernel. LightGBM's Fortran-ordered multiclass
    margins are read in place and answered with Fortran-ordered gradients (no copy either way).

    Both libraries store one float32 (grad, hess) pair per row and sum them in float64, so the
    kernels are asked for float32 directly (the fast kernels, from the library's margin as is).
    A weighted row contributes round32(w * g), k copies of a row contribute k * round32(g), and
    the two differ by rounding, which is enough to flip a tie between two equally good splits
    (the failure of scikit-learn's sample-weight equivalence check). Rounding g and h to 21
    significant bits (relative change <= 2^-21, about 4 float32 ulps, the size of the float32
    kernels' own error) makes w * g exact for integer weights up to 8, so a weight of k trains
    bit-for-bit the same XGBoost model as k copies of the row (frequency weights); other
    weights are rounded once, as before.

    Per-round fixed costs matter on small data (a round on 1k rows is a few hundred
    microseconds): labels are float32 once (the kernels' one label dtype, so no extra compiled
    variant), grad and hess are the two halves of one buffer allocated once and reused (both
    libraries copy the gradients before the next round), the kernel call is prepared once
    (``FocalLoss._f32_call``: every argument but the margins bound, the 21-bit rounding done in
    the kernel's stores), and weights are applied in one pass after it. With cold caches (what a
    round of the library leaves behind) the Python around the kernel cost more than the kernel
    on small data: 50-98 us a call at 100 rows before, 15-45 us now (measured 2026-12-07,
    docs/performance.md).
    The returned arrays are overwritten by the next call.
    """
    labels = np.ascontiguousarray(y, dtype=np.float32)  # integers < 2^24: exact
    n_classes = alpha.shape[0]
    prepared = {}  # (shape, class_major) -> (buffer, (grad, hess), kernel call or None)

    def prepare(shape, class_major):
        both = np.empty((2,) + (shape[::-1] if class_major else shape), dtype=np.float32)
        out = (both[0].T, both[1].T) if class_major else (both[0], both[1])
        if not focal.FAST_FLOAT32:
            return both, out, None
        # the kernel with labels, outputs and the 21-bit rounding (in its stores) bound once: every
        # round is then one compiled call. Inside a library's loop the kernel runs on one thread
        # below TRAINING_SERIAL_BELOW entries (the library's OpenMP workers spin meanwhile), on
        # n_jobs threads above it.
        size = math.prod(shape)
        serial = size < TRAINING_SERIAL_BELOW
        kernel = loss._f32_call(labels, _UNWEIGHTED, alpha, *out, round21=True, serial=serial)
        if serial:
            return both, out, kernel

        def threaded(margin):
            with kernel_threads(n_jobs, size, serial_below=TRAINING_SERIAL_BELOW):
                return kernel(margin)

        return both, out, threaded

    def objective(margin):
        # LightGBM's multiclass margins are an F-ordered (n, K) view: read as they are, and the
        # gradients written class-major (an F-ordered (n, K) view of a (2, K, n) buffer), which
        # LightGBM's ravel(order="F") then takes without a copy (measured at 50k x 5: two copies
        # of the margins' size a round, about 5% of a 200-round fit).
        class_major = margin.ndim == 2 and margin.flags.f_contiguous and not margin.flags.c_contiguous
        if not class_major:
            margin = np.ascontiguousarray(margin)
        if n_classes > 2 and margin.ndim == 1:  # older XGBoost hands multiclass margins flat, row-major
            margin = margin.reshape(labels.shape[0], n_classes)
        key = (margin.shape, class_major)
        entry = prepared.get(key)
        if entry is None:
            prepared.clear()
            entry = prepared[key] = prepare(margin.shape, class_major)
        both, out, call = entry
        if call is None:  # the reference kernels (FAST_FLOAT32 off), then the rounding as a pass
            recheck = functools.partial(_check_training_margin, margin)
            with kernel_threads(n_jobs, margin.size, serial_below=TRAINING_SERIAL_BELOW):
                loss._grad_hess_checked(margin, labels, _UNWEIGHTED, alpha, out=out, recheck=recheck)
            round_to_21_bits(both)
        else:
            bad = call(margin)
            if bad:  # labels were validated in fit: a non-finite margin
                _check_training_margin(margin)
                raise focal.invalid_rows_error(bad, max(n_classes, 2))
        if w.size:
            np.multiply(both, w if margin.ndim == 1 or class_major else w[:, None], out=both, casting="unsafe")
        return out

    return objective


_UNWEIGHTED = np.empty(0, dtype=np.float64)


def _check_training_margin(margin):
    """The objective's deferred check (labels were validated in fit): a non-finite training
    margin means the model diverged. Runs only after the float32 kernels flagged a row, or
    before the reference kernels, which check nothing."""
    if not np.isfinite(margin).all():
        raise ValueError(
            "the boosting margins became NaN or infinite during training (the model diverged); lower "
            "learning_rate, raise reg_lambda, or keep hessian='bohning' (the default) if another Hessian was chosen"
        )


class MarginProbe:
    """The objective, keeping a copy of the first training rows' margins of each round.

    After training it tells how far the trees moved those margins from the starting score (as of
    the last round the objective saw), for the "barely moves" warning, without a prediction pass.

    ``keep(r)`` (optional) names the rounds whose margins are kept whole: the objective of round
    r sees the margins of the first r trees, so keeping round best + 1 (or the last planned round)
    gives the fitted model's training margins, up to the trees after it, for the price of one
    copy (:meth:`training_margin`).
    """

    ROWS = 256

    def __init__(self, objective, keep=None):
        self.objective = objective
        self.keep = keep
        self.calls = 0
        self.last = None
        self.kept = None  # (trees, float64 copy of the margins of a model of that many trees)

    def __call__(self, margin):
        if self.keep is not None and self.keep(self.calls):
            self.kept = (self.calls, np.array(margin, dtype=np.float64))
        self.calls += 1
        self.last = np.array(margin[: self.ROWS], dtype=np.float64)
        return self.objective(margin)

    def training_margin(self, predict, trees, start):
        """Training margins of the model of ``trees`` trees: the kept copy plus the trees after it
        (``predict(stop, start)`` of the missing window, minus the starting score ``start`` it
        includes), or ``predict(trees, 0)`` without a usable copy."""
        if self.kept is None or self.kept[0] > trees:
            return predict(trees, 0)
        have, margin = self.kept
        if have == trees:
            return margin
        return margin + (predict(trees, have) - start)

    def moved(self, init_score):
        """max |margin - init_score| over the probed rows, None before a second round."""
        if self.calls < 2 or self.last is None:
            return None
        last = self.last
        if np.ndim(init_score):  # (rows, K); older XGBoost hands multiclass margins flat, row-major
            k = np.shape(init_score)[0]
            last = last.ravel()[: (last.size // k) * k].reshape(-1, k)
        return float(np.max(np.abs(last - init_score))) if last.size else None


# ---------------------------------------------------------------------------- the estimator base
class FocalBoostClassifier(ClassifierMixin, BaseEstimator):
    """Base of the focal-loss classifiers; subclasses implement the ``_library`` hooks.

    Subclasses define ``__init__`` with explicit parameters and ``**kwargs``; keyword arguments
    not named in the signature are passed to the library as booster parameters (kept in
    ``_extra_params`` and reported by :meth:`get_params`, so clone and grid search see them).
    """

    _library_name = ""  # for error messages
    _engine = ""  # "xgboost" / "lightgbm": the model-file format of save_model
    # Fitted state that predict_proba / predict / decision_function depend on, written by
    # save_model and restored by load_model (boost_focal/model_io.py serialises NumPy arrays,
    # scalars, str, None, lists, tuples and dicts generically). A NEW FITTED ATTRIBUTE THAT
    # PREDICTION USES ONLY NEEDS ITS NAME APPENDED HERE (subclasses extend the tuple).
    # ``loss_`` is stored as its constructor arguments and rebuilt; ``booster_`` is the file
    # itself; the constructor parameters come from get_params(). Attributes absent on the
    # fitted estimator are skipped.
    _saved_attributes = (
        "classes_",
        "n_classes_",
        "n_features_in_",
        "feature_names_in_",
        "init_score_",
        "alpha_",
        "n_estimators_",
        "best_iteration_",
        "best_score_",
        "evals_result_",
        "loss_scale_",
        "temperature_",
        "margin_shift_",
        "boosting_budget_",  # the centre of calibrate()'s fit
    )
    # booster parameters the estimator sets itself -> the argument to use instead
    _reserved_params = {}

    # ------------------------------------------------------------ parameters
    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        params.update(getattr(self, "_extra_params", {}))
        return params

    def set_params(self, **params):
        names = set(self._get_param_names())
        extra = dict(getattr(self, "_extra_params", {}))
        for key, value in params.items():
            if key in names:
                setattr(self, key, value)
            else:
                extra[key] = value
        self._extra_params = extra
        return self

    # parameters for which NaN is a legitimate value
    _nan_allowed_params = ("missing",)

    def _check_not_nan(self):
        """NaN in any numeric parameter is a ValueError naming it (the libraries would train on it
        and fail later with an unrelated message, e.g. "margin contains NaN")."""
        for key, value in self.get_params(deep=False).items():
            if key in self._nan_allowed_params or isinstance(value, bool):
                continue
            if isinstance(value, numbers.Real) and math.isnan(value):
                raise ValueError(f"{key} must be a number, got NaN; set a real value (or None for the default)")

    def _check_extra_params(self):
        self._check_not_nan()
        extra = dict(getattr(self, "_extra_params", {}))
        for key in extra:
            if key in self._reserved_params:
                raise ValueError(
                    f"{type(self).__name__} sets the {self._library_name} parameter {key!r} itself; "
                    f"{self._reserved_params[key]}"
                )
        return extra

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # both libraries route missing values natively
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------ validation
    def _validate_X(self, X, reset):
        if is_polars(X):
            X = polars_to_pandas(X)
        if is_dataframe(X):
            # Keep the DataFrame (categorical columns reach the library); still record and
            # check n_features_in_ / feature_names_in_ like every scikit-learn estimator.
            validate_data(self, X, reset=reset, skip_check_array=True)
            if X.shape[0] == 0:
                raise ValueError(
                    f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required "
                    f"by {type(self).__name__}."
                )
            return X
        return validate_data(
            self,
            X,
            reset=reset,
            accept_sparse=("csr", "csc"),
            dtype=(np.float32, np.float64),
            ensure_all_finite="allow-nan",
        )

    def _row_weights(self, w, y, classes):
        """sample_weight times the scale_pos_weight / class_weight factors (empty = all ones)."""
        factors = None
        spw = getattr(self, "scale_pos_weight", None)
        if spw is not None:
            if isinstance(spw, bool) or not isinstance(spw, numbers.Real) or not (0 < spw < math.inf):
                raise ValueError(f"scale_pos_weight must be a positive finite number, got {spw!r}")
            if classes.shape[0] != 2:
                if spw != 1:
                    raise ValueError(
                        f"scale_pos_weight applies to binary problems only; y has {classes.shape[0]} classes: "
                        "use alpha (one weight per class) or sample_weight"
                    )
            else:
                factors = np.where(y == 1, float(spw), 1.0)
        class_weight = getattr(self, "class_weight", None)
        if isinstance(self.alpha, str) and self.alpha == "balanced":
            extra = [f"class_weight={class_weight!r}"] if class_weight is not None else []
            extra += [f"scale_pos_weight={spw!r}"] if spw is not None and spw != 1 and classes.shape[0] == 2 else []
            if extra:
                warnings.warn(
                    f"alpha='balanced' already weights each class by n / (K n_k), and {' and '.join(extra)} "
                    "multiplies the rows' weights on top: the classes are re-weighted twice (the rare class "
                    "by about the square of its balancing weight). Pass one of them: alpha=None (or a number) "
                    "to keep the row weights, or drop them to keep alpha='balanced'.",
                    UserWarning, stacklevel=4,
                )
        if class_weight is not None:
            from sklearn.utils.class_weight import compute_sample_weight

            cw = compute_sample_weight(class_weight, classes[y])
            factors = cw if factors is None else factors * cw
        if factors is None:
            return w
        return np.ascontiguousarray(factors if w.size == 0 else w * factors, dtype=np.float64)

    def _focal_loss(self, classes, y):
        """(FocalLoss with alpha resolved to a (K,) array, that array), with clear errors.

        Per-class alphas may be any non-negative numbers (relative class weights): they are divided
        by the largest so that the FocalLoss keeps Lin et al.'s alpha in [0, 1]. The overall size of
        alpha does not matter to the estimators, whose loss scale (``loss_scale_``) absorbs it.
        """
        loss = FocalLoss(check_estimator_gamma(self.gamma), relative_alpha(alpha_for_classes(self.alpha, classes)),
                         self.hessian)
        try:
            alpha = loss.class_alpha(classes.shape[0], y)
        except ValueError as exc:
            raise ValueError(f"{exc} (classes in y: {classes.tolist()})") from None
        return FocalLoss(loss.gamma, alpha.tolist(), loss.hessian), alpha

    def _prepare_eval_sets(self, eval_set, eval_sample_weight):
        """[(X, y codes, weights or None)] for each (X, y) pair, checked against the fit data."""
        if eval_set is None:
            if eval_sample_weight is not None:
                raise ValueError("eval sample weights were given without eval_set")
            return []
        if not isinstance(eval_set, (list, tuple)) or not all(
            isinstance(pair, (list, tuple)) and len(pair) == 2 for pair in eval_set
        ):
            raise TypeError("eval_set must be a list of (X, y) pairs, e.g. eval_set=[(X_valid, y_valid)]")
        if eval_sample_weight is None:
            eval_sample_weight = [None] * len(eval_set)
        if len(eval_sample_weight) != len(eval_set):
            raise ValueError(
                f"eval sample weights: got {len(eval_sample_weight)} entries for {len(eval_set)} eval sets; "
                "pass one array (or None) per eval set"
            )
        return [
            self._held_out_rows(Xe, ye, we, f"eval_set[{i}] y", f"eval_set[{i}]: X", f"eval sample weight {i}")
            for i, ((Xe, ye), we) in enumerate(zip(eval_set, eval_sample_weight))
        ]

    def _held_out_rows(self, X, y, w, y_name="y", x_name="X", w_name="sample_weight"):
        """(X, y codes, weights or None) of rows scored by the fitted model, checked against it."""
        X = self._validate_X(X, reset=False)
        codes = encode_with_classes(y, self.classes_, y_name)
        if codes.shape[0] != num_rows(X):
            raise ValueError(f"{x_name} has {num_rows(X)} rows but y has {codes.shape[0]} labels")
        w = check_sample_weight(w, codes.shape[0], name=w_name)
        return X, codes, w if w.size else None

    # ------------------------------------------------------------ fit
    def _fit(self, X, y, sample_weight=None, eval_set=None, eval_sample_weight=None, verbose=False, **train_kwargs):
        self._import_library()
        extra = self._check_extra_params()
        check_probability(self.probability)
        loss_scale = check_loss_scale(self.loss_scale)
        metric, greater_is_better = check_eval_metric(self.eval_metric)
        n_estimators = check_n_estimators(self.n_estimators)
        X = self._validate_X(X, reset=True)
        classes, y = encode_labels(y)
        if y.shape[0] != num_rows(X):
            raise ValueError(f"X has {num_rows(X)} rows but y has {y.shape[0]} labels")

        w = self._row_weights(check_sample_weight(sample_weight, y.shape[0]), y, classes)
        if w.size:
            keep = w > 0
            if not keep.any():
                raise ValueError(
                    "sample_weight is zero for every row: at least one weight must be > 0 "
                    "(scale_pos_weight and class_weight included)"
                )
            if not keep.all():
                # Zero weight means "not in the training set": dropping those rows makes a
                # weight of k the same as k copies of a row (bins and row counts included).
                idx = np.flatnonzero(keep)
                X, y, w = take_rows(X, idx), y[idx], w[idx]
        present = np.unique(y)
        if present.shape[0] < 2:
            raise ValueError(
                f"only one class ({classes[present[0]]!r}) has rows with positive sample_weight; "
                "a classifier needs at least 2 classes with positive weight"
            )

        loss, alpha = self._focal_loss(classes, y)
        check_posterior_alpha(self.probability, alpha, classes)
        self.classes_ = classes
        self.n_classes_ = classes.shape[0]
        self.alpha_ = alpha
        self.loss_ = loss
        with kernel_threads(self.n_jobs, 0), serial_blas():  # K x K margins, small solves: one thread
            self.init_score_ = loss.init_score(y, w if w.size else None, self.n_classes_)
            totals = np.bincount(y, weights=w if w.size else None, minlength=self.n_classes_).astype(np.float64)
            self.loss_scale_ = self._resolved_loss_scale(loss_scale, loss, totals, alpha)

        # Probabilities during training (eval metrics) use T = 1 under early stopping (the budget
        # of the trees that will be kept is not known yet), else the no-eval-set temperature of
        # the planned budget; after training, the eval-set fit is centred on the kept trees' budget.
        evals = self._prepare_eval_sets(eval_set, eval_sample_weight)
        rounds = check_early_stopping_rounds(self.early_stopping_rounds, len(evals))
        self.temperature_ = 1.0 if self.probability != "calibrated" or rounds is not None \
            else self._temperature_centre(self._learning_rate() * n_estimators)
        self.margin_shift_ = self._no_shift()
        rates = RateLog(self._learning_rate(), self._learning_rate_names)
        recorder = EvalRecorder(
            metric, [(ye, we) for _, ye, we in evals], loss, self._proba_from_margin, classes, rounds, self.n_jobs,
            greater_is_better,
        )
        # the margins of the fitted model's training rows, for margin_shift_: the round after the
        # best one under early stopping sees them, else the last planned round (one tree short)
        match = self._shifts_on_training_rows()
        if not (match and self._predicts_tree_windows()):
            keep = None
        elif rounds is not None:
            keep = lambda r: recorder.best_iteration == r - 1  # noqa: E731
        else:
            keep = lambda r: r == n_estimators - 1  # noqa: E731
        objective = MarginProbe(make_objective(loss, y, w, alpha * self.loss_scale_, self.n_jobs), keep=keep)
        try:
            self.booster_ = self._train_booster(
                X, y, w, evals, objective, recorder, n_estimators, extra, verbose, rates, **train_kwargs
            )
        finally:
            rates.uninstall()
        if rounds is not None and recorder.best_iteration is not None:
            self.n_estimators_ = recorder.best_iteration + 1
        else:
            self.n_estimators_ = self._rounds_trained()  # 0 only if no feature could be split
        self.best_iteration_ = self.n_estimators_ - 1 if self.n_estimators_ else None
        self.best_score_ = recorder.history[-1][self.best_iteration_] if evals and self.n_estimators_ else None
        self.evals_result_ = recorder.results()
        stalled = recorder.stalled_warning()
        if stalled:
            warnings.warn(stalled, UserWarning, stacklevel=3)
        self._warn_if_constant(objective)
        # the budget of the trees kept (fewer if training stalled), at the rates they were trained with
        self.boosting_budget_ = rates.budget(self.n_estimators_)
        if self.probability == "calibrated":
            self.temperature_ = self._temperature_centre(self.boosting_budget_)
        if self.probability == "calibrated" and evals:
            Xe, ye, we = evals[-1]
            self._fit_temperature(self._predict_margin(Xe, self.n_estimators_), ye, we)
        if match:
            margin = objective.training_margin(
                lambda stop, start: self._predict_margin(X, stop, start), self.n_estimators_, self.init_score_
            )
            with kernel_threads(self.n_jobs, margin.size), serial_blas():
                if self.n_classes_ == 2:
                    self.margin_shift_ = training_shift(self._posterior, margin, y, w, self.temperature_)
                else:  # older XGBoost hands multiclass margins flat, row-major
                    margin = margin.reshape(y.shape[0], self.n_classes_)
                    self.margin_shift_ = training_shifts(self._posterior, margin, y, w, self.temperature_)
        return self

    def _no_shift(self):
        """``margin_shift_`` before (or without) a fitted shift: 0.0 for two classes, else zeros (K,)."""
        return 0.0 if self.n_classes_ == 2 else np.zeros(self.n_classes_)

    def _predicts_tree_windows(self):
        """Whether ``_predict_margin(X, stop, start)`` can predict a window of trees (start > 0)."""
        return True

    def _shifts_on_training_rows(self):
        """Whether fit sets ``margin_shift_`` from the training rows (_calibration.training_shift,
        training_shifts): calibrated probabilities of a focal model (gamma > 0; at gamma = 0 the
        model is the logloss model and its probabilities are the libraries' own), binary, or
        multiclass with unequal class alphas (at equal alphas the per-class shift was measured
        to cost a little more often than it gained: docs/calibration_choice.md)."""
        if self.probability != "calibrated" or self.loss_.gamma <= 0.0:
            return False
        return self.n_classes_ == 2 or not bool(np.all(self.alpha_ == self.alpha_[0]))

    def _resolved_loss_scale(self, loss_scale, loss, totals, alpha):
        """``loss_scale_``: the checked ``loss_scale`` itself, or for "auto" the factor of ``_scale``
        from the per-class weight totals (also used by the Dask estimators)."""
        if loss_scale != "auto":
            return loss_scale
        return auto_loss_scale(loss, totals, alpha, self.init_score_, self._logloss_hessian_factor())

    def _temperature_centre(self, budget):
        """The temperature without held-out rows, and the centre of the eval-set fit (_calibration),
        for a model of boosting budget ``budget``: the sum of its trees' learning rates."""
        return temperature_centre(self.loss_.gamma, budget, self._temperature_slope(), self._temperature_growth())

    def _fitted_budget(self):
        """``boosting_budget_``; for a model file saved before it existed, learning rate x trees."""
        budget = getattr(self, "boosting_budget_", None)
        return self._learning_rate() * self.n_estimators_ if budget is None else budget

    def _temperature_slope(self):
        """The no-eval-set temperature's slope for this engine and task (_calibration)."""
        raise NotImplementedError  # pragma: no cover

    def _temperature_growth(self):
        """How far the no-eval-set temperature keeps rising past a budget of 10 (_calibration): 0
        unless the engine's margins keep spreading there (LightGBM, two classes)."""
        return 0.0

    # the library's names (aliases) of the learning rate, the keyword that wins first (also RateLog's
    # keys), and its default learning rate
    _learning_rate_names = ()
    _default_learning_rate = None

    def _learning_rate(self):
        """The learning rate the booster trains with: a keyword alias among the extra parameters,
        else the named ``learning_rate``, else the library's default."""
        extra = getattr(self, "_extra_params", {})
        rate = next((extra[k] for k in self._learning_rate_names if k in extra), self.learning_rate)
        return self._default_learning_rate if rate is None else float(rate)

    # ------------------------------------------------------------ after fit
    def _fit_temperature(self, margin, y, w):
        """temperature_ and margin_shift_ from held-out margins and class codes (see _calibration)."""
        margin = np.asarray(margin, dtype=np.float64)
        # more than two classes: only T is fitted; the per-class shift (zeros in fit, where the
        # training rows set it afterwards; the fitted one in calibrate) is held fixed
        shift = None if self.n_classes_ == 2 else np.asarray(self.margin_shift_, dtype=np.float64)
        with kernel_threads(self.n_jobs, margin.size), serial_blas():
            self.temperature_, fitted = fit_temperature(
                self._posterior, margin, y, w, self.loss_.gamma, self._temperature_centre(self._fitted_budget()),
                shift=shift,
            )
        self.margin_shift_ = fitted if shift is None else shift

    def calibrate(self, X, y, sample_weight=None):
        """Refit the focal temperature (``temperature_``, ``margin_shift_``) on held-out rows.

        For a model fitted without an ``eval_set``: pass rows the model was not trained on (a
        calibration split). Two classes: T and b are refitted jointly. More classes: T only; the
        per-class shift set on the training rows (alphas unequal; else zeros) is kept. The trees
        do not change. Returns self.
        """
        check_is_fitted(self)
        X, codes, w = self._held_out_rows(X, y, sample_weight)
        self._fit_temperature(self._predict_margin(X, self.n_estimators_), codes, w)
        return self

    def _warn_if_constant(self, probe):
        """Warn when the fitted model is (almost) the constant starting score: the silent non-model.

        ``probe`` (a :class:`MarginProbe`) saw the training margins of the first rows each round,
        so the check costs no prediction pass.
        """
        moved = probe.moved(self.init_score_)
        if moved is not None and moved >= 1e-3:
            return  # the trees move the margins: no need to count splits (a pass over the model)
        n_trees = self._rounds_trained()
        splits = self._n_splits()
        hint = (
            f"Focal Hessians are small (about alpha_t (1 - p_t)^gamma of logloss's; gamma={self.loss_.gamma:g}, "
            f"loss_scale_={self.loss_scale_:.3g}): lower the Hessian thresholds ({self._hessian_threshold_names}) "
            "or reg_lambda, use loss_scale='auto', lower gamma, or add data."
        )
        if n_trees and splits == 0:
            warnings.warn(
                f"no tree of the {n_trees} trained made a split: the model predicts the constant starting score "
                f"for every row. {hint}",
                UserWarning,
                stacklevel=4,
            )
            return
        if splits and moved is not None and moved < 1e-3:
            warnings.warn(
                f"the trees barely move the margin (largest change from the starting score on training rows: "
                f"{moved:.2g}): the model is almost the constant starting score. {hint}",
                UserWarning,
                stacklevel=4,
            )

    # ------------------------------------------------------------ predict
    def _posterior_is_link(self):
        """gamma = 0 with equal alphas: the posterior IS sigmoid/softmax (use the same code path)."""
        return self.loss_.gamma == 0.0 and bool(np.all(self.alpha_ == self.alpha_[0]))

    def _posterior(self, margin):
        """The class posterior of margins: P(classes_[1]) (n,) for two classes, else (n, K)."""
        if self._posterior_is_link():
            return special.expit(margin) if margin.ndim == 1 else special.softmax(margin, axis=1)
        with kernel_threads(self.n_jobs, margin.size):
            return self.loss_.posterior(margin)

    def _proba_from_margin(self, margin):
        margin = np.asarray(margin, dtype=np.float64)
        mode = check_probability(self.probability)
        if mode == "calibrated":
            margin = temper(margin, self.temperature_, self.margin_shift_)
        posterior = mode != "raw" and not self._posterior_is_link()
        if margin.ndim == 1:
            if posterior:
                with kernel_threads(self.n_jobs, margin.size):
                    p1 = self.loss_.posterior(margin)
            else:
                p1 = special.expit(margin)
            return np.column_stack([1.0 - p1, p1])
        if posterior:
            with kernel_threads(self.n_jobs, margin.size):
                return self.loss_.posterior(margin)
        return special.softmax(margin, axis=1)

    def decision_function(self, X):
        """Raw margins, starting score included: shape (n,) for two classes (class ``classes_[1]``),
        else (n, n_classes). ``predict_proba`` is sigmoid/softmax of these or the posterior of them.

        With probability="posterior" and unequal class alphas, ``predict`` does not threshold the
        margin at 0 (binary) but the posterior at 0.5, which sits at another margin.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return np.asarray(self._predict_margin(X, self.n_estimators_), dtype=np.float64)

    def predict_proba(self, X):
        """Class probabilities, shape (n, n_classes), columns in ``classes_`` order, rows summing to 1."""
        return self._proba_from_margin(self.decision_function(X))

    def predict(self, X):
        """The most probable class (of ``predict_proba``), as a label from ``classes_``."""
        proba = self.predict_proba(X)  # checks fitted-ness before classes_ is touched
        return self.classes_[np.argmax(proba, axis=1)]

    # ------------------------------------------------------------ prediction options (parity)
    def _round_window(self, start, stop):
        """(start, stop) boosting rounds to predict with, checked; stop None = the fitted rounds."""
        check_is_fitted(self)
        trained = self._rounds_trained()
        stop = self.n_estimators_ if stop is None else stop
        for name, value in (("start", start), ("stop", stop)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"iteration {name} must be an integer >= 0, got {value!r}")
        if not start <= stop <= trained:
            raise ValueError(
                f"iterations must satisfy 0 <= start <= stop <= {trained} (rounds in the model); got "
                f"start={start}, stop={stop}"
            )
        return int(start), int(stop)

    def _margin_window(self, X, start, stop):
        """Margins (starting score included) of rounds start..stop-1."""
        start, stop = self._round_window(start, stop)
        X = self._validate_X(X, reset=False)
        return np.asarray(self._predict_margin(X, stop, start), dtype=np.float64)

    # ------------------------------------------------------------ model files
    def save_model(self, path):
        """Save the fitted model to ``path`` in the library's own format, self-describing.

        XGBoost: JSON (``.json``) or UBJSON (``.ubj``), chosen from the extension as by
        ``Booster.save_model``; LightGBM: its text format. The file also holds, as versioned
        boost-focal metadata, the parameters, ``classes_``, the focal loss, the starting score
        and every other fitted attribute prediction needs, so ``load_model`` in a new process
        reproduces ``predict_proba``/``predict`` exactly, without pickle. The file still loads in
        plain XGBoost/LightGBM (raw margins there; see :func:`boost_focal.model_io.load_booster`).
        Parameters that cannot be stored (callables, callbacks, RandomState objects; none of them
        is used by prediction) are left out with a warning.
        """
        from .. import model_io

        check_is_fitted(self)
        params, unsaved = {}, []
        for key, value in self.get_params(deep=False).items():
            if model_io.encodable(value):
                params[key] = model_io.encode(value)
            else:
                unsaved.append(key)
        if unsaved:
            import warnings

            warnings.warn(
                f"{type(self).__name__}.save_model: parameter(s) {unsaved} cannot be stored in a model file "
                "(prediction does not use them); load_model leaves them at the loading estimator's values",
                UserWarning,
                stacklevel=2,
            )
        attributes = {
            name: model_io.encode(getattr(self, name)) for name in self._saved_attributes if hasattr(self, name)
        }
        estimator = {
            "class": type(self).__name__,
            "params": params,
            "attributes": attributes,
            "unsaved_params": unsaved,
        }
        doc = model_io.make_document(
            self._engine, self.loss_, self.n_classes_, self._file_margin_offset(), self.probability, estimator,
            temperature=self.temperature_, margin_shift=self.margin_shift_,
        )
        model_io.write(self.booster_, path, doc)
        return self

    def load_model(self, path):
        """Load a model written by ``save_model`` (of this engine), parameters included.

        Works on a fresh estimator (``FocalXGBClassifier().load_model(path)``); returns ``self``,
        fitted: same parameters, ``classes_``, probabilities and labels as the saved estimator.
        """
        from .. import model_io

        self._import_library()
        source = str(path)
        booster, doc = model_io.read(path, self._engine)
        doc = model_io.check_document(doc, source)
        if doc["engine"] != self._engine or doc.get("estimator") is None:
            saved = doc.get("estimator") or {}
            raise ValueError(
                f"{source} holds a {doc['engine']} model saved by "
                f"{saved.get('class', 'boost_focal.model_io.save_booster')}, not a {self._engine} estimator; "
                "load it with the matching estimator or boost_focal.model_io.load_booster"
            )
        saved = doc["estimator"]
        params = {k: model_io.decode(v) for k, v in saved["params"].items()}
        for name in self._saved_attributes:
            self.__dict__.pop(name, None)
        self._extra_params = {}
        self.set_params(**params)
        for name, value in saved["attributes"].items():
            setattr(self, name, model_io.decode(value))
        self.loss_ = FocalLoss(**doc["loss"])
        self.booster_ = booster
        self._after_load()
        return self

    def _file_margin_offset(self):
        """What a plain reader must add to the booster's raw margin (see model_io)."""
        raise NotImplementedError  # pragma: no cover

    def _after_load(self):
        """Engine-specific fix-ups of a loaded booster (runtime settings the file does not keep)."""

    # ------------------------------------------------------------ library hooks
    def _import_library(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _train_booster(self, X, y, w, evals, objective, recorder, n_estimators, extra, verbose, rates, **kwargs):
        raise NotImplementedError  # pragma: no cover

    _hessian_threshold_names = ""  # the library's minimum-Hessian parameters, for messages

    def _n_splits(self):
        """Number of splits in all trees (None when the booster type has no trees)."""
        raise NotImplementedError  # pragma: no cover

    def _logloss_hessian_factor(self):
        """The library's multiclass logloss Hessian is this times p (1 - p) (see ``_scale``)."""
        raise NotImplementedError  # pragma: no cover

    def _rounds_trained(self):
        raise NotImplementedError  # pragma: no cover

    def _predict_margin(self, X, n_rounds):
        raise NotImplementedError  # pragma: no cover
