"""Cross-validated comparison of logloss, class-weighted logloss and focal loss.

The engine behind ``boost-focal compare`` and ``benchmarks/real_data.py``; argument parsing lives
in :mod:`boost_focal.cli`, input checks in :mod:`boost_focal._inputs`, scores in
:mod:`boost_focal._scores`. The steps, each a small function:

1. :func:`~boost_focal._inputs.prepare_features` / :func:`~boost_focal._inputs.prepare_target`:
   engine-ready features (native categoricals) and labels coded 0..K-1, or a one-line
   :class:`~boost_focal.datasets.DataError`.
2. :func:`make_grid`: the configurations (engine x loss x gamma/alpha).
3. :func:`warm_up`: tiny focal fits that make Numba compile (or load) the kernels before any
   fit is timed.
4. :func:`cross_validate`: stratified k-fold CV; every configuration is fitted on the same folds,
   so differences between configurations are paired by fold. Ctrl-C raises
   :class:`CVInterrupted` carrying the folds that finished.
5. :func:`summarize` and :func:`recommend`: the tables and one winner per engine: logloss unless
   focal loss (or class-weighted logloss) beats it by a fold-paired gain clear of noise
   (Bonferroni-corrected over the focal settings tried).

Binary and multiclass targets are both compared natively. Focal models are
:class:`~boost_focal.FocalXGBClassifier` / :class:`~boost_focal.FocalLGBMClassifier` with their
default Hessian mode and their default ``probability`` mode (never passed, so the estimators'
own default is what is measured); the uncorrected sigmoid/softmax of the margin ("raw") and the
recovered posterior are scored from the same fit. Baselines are the engines' own built-in
objectives (``xgboost.XGBClassifier``, ``lightgbm.LGBMClassifier`` with ``binary:logistic`` /
``binary`` or ``multi:softprob`` / ``multiclass``), with the same trees, learning rate and seed as
the focal models: the comparison a user would make by hand. Weighted logloss sets
``scale_pos_weight = n_negative / n_positive`` (binary) or balanced class weights
``n / (K n_k)`` (multiclass) of the training fold. With early stopping (:class:`Settings`),
every model stops on its own loss on the same held-out part of its training fold; with a fixed
number of rounds instead, the loss that overfits more slowly wins by default.
"""

import math
import textwrap
import time
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from . import _scores
from ._inputs import label_text
from .datasets import DataError

ENGINES = ("xgboost", "lightgbm")
ENGINE_TITLES = {"xgboost": "XGBoost", "lightgbm": "LightGBM", "catboost": "CatBoost"}
DEFAULT_GAMMAS = (0.5, 1.0, 2.0)
DEFAULT_ALPHAS = (None, 0.25, 0.75)
QUICK_GAMMAS = (1.0, 2.0)
QUICK_ALPHAS = (None, 0.25)
#: multiclass: a numeric alpha is binary-only; "balanced" gives per-class inverse frequencies
MULTICLASS_ALPHAS = (None, "balanced")
WIDTH = 100  # output lines fit this many columns

#: metric name -> (column title, higher is better)
METRICS = {
    "pr_auc": ("PR-AUC", True),
    "roc_auc": ("ROC-AUC", True),
    "logloss": ("log loss", False),
    "brier": ("Brier", False),
    "ece": ("ECE", False),
    "best_f1": ("best F1", True),
    "balanced_accuracy": ("balanced accuracy", True),
}
BINARY_ONLY_METRICS = ("best_f1",)

# re-exported for the benchmark and older callers
log_loss = _scores.log_loss
best_f1 = _scores.best_f1


# ---------------------------------------------------------------------------------------- input
def encode_features(X, categorical=()):
    """(float64 matrix, column names, coded columns): the benchmark's ordinal encoding.

    The CLI uses :func:`boost_focal._inputs.prepare_features` instead (native categorical
    features, dates, identifiers).

    Numeric and boolean columns pass through (NaN stays a missing value). Pandas categoricals and
    the columns named in ``categorical`` become integer codes in sorted category order (missing ->
    NaN), an ordinal encoding every tree engine can split on. Any other column (text, dates,
    mixed objects) or an infinite value raises a :class:`DataError` naming the column.
    """
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is in the cli extra
        pd = None
    if pd is not None and isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        unknown = [c for c in categorical if c not in X.columns]
        if unknown:
            raise DataError(f"--categorical names unknown column(s): {', '.join(map(repr, unknown))}")
        columns, coded = [], []
        for name, col in X.items():
            if isinstance(col.dtype, pd.CategoricalDtype) or name in categorical:
                cat = col if isinstance(col.dtype, pd.CategoricalDtype) else col.astype("category")
                cat = cat.cat.reorder_categories(sorted(cat.cat.categories, key=str))
                codes = cat.cat.codes.to_numpy().astype(np.float64)
                codes[codes < 0] = np.nan
                columns.append(codes)
                coded.append(str(name))
            elif pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
                columns.append(col.to_numpy(dtype=np.float64, na_value=np.nan))
            else:
                example = col.dropna()
                example = repr(example.iloc[0]) if len(example) else "only missing values"
                raise DataError(
                    f"feature column {str(name)!r} is not numeric (dtype {col.dtype}, e.g. {example}); "
                    f"encode it as numbers, mark it categorical with --categorical {name}, or drop it with --drop {name}"
                )
        matrix = np.column_stack(columns) if columns else np.empty((len(X), 0))
    else:
        matrix = np.asarray(X)
        if matrix.ndim != 2:
            raise DataError(f"X must be 2-dimensional, got shape {matrix.shape}")
        if matrix.dtype.kind not in "biuf":
            raise DataError(f"X must be numeric, got dtype {matrix.dtype}; encode text columns as numbers")
        matrix = matrix.astype(np.float64)
        names, coded = [f"x{i}" for i in range(matrix.shape[1])], []
    bad = np.isinf(matrix).any(axis=0)
    if bad.any():
        raise DataError(f"feature column {names[int(np.argmax(bad))]!r} contains infinite values; replace them (e.g. by NaN)")
    return np.ascontiguousarray(matrix), names, coded


def encode_target(y, positive=None):
    """Binary only (the benchmark's API): (labels in {0, 1} as int64, the positive class, class counts).

    The CLI uses :func:`boost_focal._inputs.prepare_target`, which also takes multiclass targets.

    Without ``positive``: a 0/1 (or False/True) target keeps 1 as positive; any other two-valued
    target takes its rarer class as positive. With ``positive`` (compared as text, so "1" matches
    1), that class is 1 and all others 0 (one-vs-rest for a multiclass target).
    """
    values = np.asarray(y, dtype=object)
    missing = np.array([v is None or (isinstance(v, float) and math.isnan(v)) for v in values], dtype=bool)
    if missing.any():
        raise DataError(f"the target has {int(missing.sum())} missing value(s); drop those rows first")
    if values.size == 0:
        raise DataError("the data has no rows")
    labels, counts = np.unique(values.astype(str), return_counts=True)
    originals = {str(v): v for v in values[np.unique(values.astype(str), return_index=True)[1]]}
    class_counts = {originals[lab]: int(n) for lab, n in zip(labels, counts)}
    if positive is not None:
        key = str(positive)
        if key not in originals:
            raise DataError(f"--positive {positive!r} is not a class of the target; classes are: {', '.join(labels[:20])}")
        y01 = (values.astype(str) == key).astype(np.int64)
        if y01.min() == y01.max():
            raise DataError("the target has a single class; compare needs examples of both classes")
        return y01, originals[key], class_counts
    if labels.size < 2:
        raise DataError(
            f"the target has a single class ({label_text(labels[0])} in all {values.size} rows); compare needs two classes"
        )
    if labels.size > 2:
        raise DataError(
            f"the target has {labels.size} classes; compare works on binary targets: pick one class with --positive LABEL (one vs rest)"
        )
    if set(labels) in ({"0", "1"}, {"False", "True"}, {"0.0", "1.0"}):
        key = labels[1]
    else:
        key = labels[int(np.argmin(counts))] if counts[0] != counts[1] else labels[1]
    return (values.astype(str) == key).astype(np.int64), originals[key], class_counts


# ---------------------------------------------------------------------------------------- configs
@dataclass(frozen=True)
class Config:
    """One model to cross-validate: an engine and a loss ("logloss", "weighted" or "focal")."""

    engine: str
    loss: str
    gamma: float = 0.0
    alpha: object = None
    hessian: str = None  # None: the estimator's default Hessian mode

    @property
    def name(self):
        if self.loss == "logloss":
            return "logloss"
        if self.loss == "weighted":
            return "weighted logloss"
        return f"focal g={_fmt(self.gamma)} a={_fmt(self.alpha)}" + (f" h={self.hessian}" if self.hessian else "")

    @property
    def params(self):
        """Focal keyword arguments as a user would write them (empty for the baselines)."""
        if self.loss != "focal":
            return {}
        return {"gamma": self.gamma, "alpha": self.alpha, **({"hessian": self.hessian} if self.hessian else {})}


@dataclass
class Settings:
    """Hyperparameters shared by every configuration (same trees for every loss).

    With ``early_stopping`` (a patience in rounds), every fit holds out a stratified
    ``validation_fraction`` of its training rows and stops when its own objective on them (logloss,
    class-weighted logloss, or the focal loss) has not improved for that many rounds, keeping the
    best round; ``n_estimators`` is then the maximum. Without it, every model trains exactly
    ``n_estimators`` rounds, which favours whichever loss overfits more slowly.
    """

    n_estimators: int = 200
    learning_rate: float = 0.1
    max_depth: int = 4
    n_jobs: int = 1
    random_state: int = 0
    early_stopping: int = None
    validation_fraction: float = 0.2
    extra: dict = field(default_factory=dict)


def _call(config):
    """The estimator call that reproduces a focal configuration, e.g. FocalXGBClassifier(gamma=2, alpha=0.25)."""
    cls = {"xgboost": "FocalXGBClassifier", "lightgbm": "FocalLGBMClassifier"}.get(config.engine, config.engine)
    args = ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={_fmt(v) if v is not None else None}"
                     for k, v in config.params.items())
    return f"{cls}({args})"


def _fmt(v):
    if v is None:
        return "none"
    if isinstance(v, str):
        return v
    return f"{float(v):g}"


def make_grid(engines=ENGINES, gammas=DEFAULT_GAMMAS, alphas=DEFAULT_ALPHAS, baselines=True, hessians=(None,)):
    """Configurations: per engine the two baselines, then focal loss over gammas x alphas x hessians.

    A hessian of None means the estimator's default Hessian mode.
    """
    configs = []
    for engine in engines:
        if baselines:
            configs += [Config(engine, "logloss"), Config(engine, "weighted")]
        configs += [Config(engine, "focal", float(g), a, h) for h in hessians for g in gammas for a in alphas]
    return configs


def check_alphas(alphas, n_classes):
    """Numeric alphas weight the positive class of a binary target: refuse them for K > 2."""
    numeric = [a for a in alphas if a is not None and not isinstance(a, str)]
    if n_classes > 2 and numeric:
        raise DataError(
            f"--alphas {_fmt(numeric[0])}: a numeric alpha is the weight of the positive class of a binary target; "
            f"this target has {n_classes} classes: use none and/or balanced (per-class inverse frequencies)"
        )


def available_engines():
    """The engines whose library imports."""
    found = []
    for engine in ENGINES:
        try:
            __import__(engine)
        except ImportError:
            continue
        found.append(engine)
    return found


def default_probability(engine):
    """The ``probability`` mode a default-constructed focal estimator of ``engine`` uses."""
    return _focal_class(engine)().get_params().get("probability")


# ---------------------------------------------------------------------------------------- models
def _n_classes(*labels):
    return max(2, int(max(int(np.max(y)) for y in labels if len(y))) + 1)


def build_model(config, settings, y_train):
    """An unfitted classifier for ``config`` (y_train gives the classes and the class weight)."""
    n_classes = _n_classes(y_train)
    common = dict(
        n_estimators=settings.n_estimators,
        learning_rate=settings.learning_rate,
        max_depth=settings.max_depth,
        random_state=settings.random_state,
        n_jobs=settings.n_jobs,
    )
    lgb_extra = {"num_leaves": min(31, 2 ** settings.max_depth), "verbose": -1}
    stopping = {"early_stopping_rounds": settings.early_stopping} if settings.early_stopping else {}
    if config.loss == "focal":
        cls = _focal_class(config.engine)
        extra = dict(lgb_extra) if config.engine == "lightgbm" else {}
        extra.update(settings.extra)
        return cls(**config.params, **common, **stopping, **extra)
    if config.loss == "weighted":
        if n_classes == 2:
            common["scale_pos_weight"] = class_ratio(y_train)
        # multiclass: balanced sample weights, given in fit_model
    elif config.loss != "logloss":
        raise ValueError(f"unknown loss {config.loss!r}")
    common.update(settings.extra)
    if config.engine == "xgboost":
        import xgboost as xgb

        objective, metric = ("binary:logistic", "logloss") if n_classes == 2 else ("multi:softprob", "mlogloss")
        return xgb.XGBClassifier(objective=objective, tree_method="hist", eval_metric=metric, enable_categorical=True,
                                 **stopping, **common)
    if config.engine == "lightgbm":
        import lightgbm as lgb

        return lgb.LGBMClassifier(objective="binary" if n_classes == 2 else "multiclass", **lgb_extra, **common)
    raise ValueError(f"unknown engine {config.engine!r}")


def class_ratio(y):
    """n_negative / n_positive: the scale_pos_weight that balances the two classes."""
    n_pos = int(np.sum(y == 1))
    return (len(y) - n_pos) / max(n_pos, 1)


def balanced_weights(y_reference, y):
    """Row weights n / (K n_k) of each row's class k, with the counts n_k of ``y_reference``."""
    counts = np.bincount(y_reference, minlength=int(np.max(y)) + 1).astype(np.float64)
    present = counts > 0
    weight = np.where(present, len(y_reference) / (present.sum() * np.maximum(counts, 1)), 1.0)
    return weight[y]


def _take(X, index):
    """Rows ``index`` of a DataFrame or an array."""
    return X.iloc[index] if hasattr(X, "iloc") else X[index]


def validation_split(y, fraction, seed):
    """(fit rows, validation rows): a stratified split for early stopping.

    Binary: at least one row of each class in each part (scikit-learn's StratifiedShuffleSplit).
    Multiclass: about ``fraction`` of each class's rows, but never a class's last row, so every
    class of the training fold stays in the fit part (a class with one row is not validated on).
    """
    if _n_classes(y) == 2:
        from sklearn.model_selection import StratifiedShuffleSplit

        smallest = int(min(np.sum(y == 0), np.sum(y == 1)))
        if smallest < 2:
            raise DataError(
                f"a training set has only {smallest} row of its smaller class, too few to hold out a validation "
                "part for early stopping; use --early-stopping 0 or fewer --folds"
            )
        n_val = max(int(round(fraction * len(y))), 2)
        split = StratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
        return next(split.split(np.zeros(len(y)), y))
    rng = np.random.default_rng(seed)
    val = []
    for k in np.unique(y):
        rows = np.flatnonzero(y == k)
        n_val = min(len(rows) - 1, int(round(fraction * len(rows))))
        val.append(rng.permutation(rows)[:n_val])
    val = np.sort(np.concatenate(val))
    return np.setdiff1d(np.arange(len(y)), val), val


def fit_model(model, config, settings, X, y):
    """Fit ``model``; with early stopping on a held-out part of (X, y). Returns the rounds kept.

    The stopping criterion is each model's own objective on the validation rows: logloss,
    class-weighted logloss (validation rows weighted like the training rows), or the focal loss
    (the estimators' default eval_metric); CatBoost uses its loss function likewise.
    """
    multiclass = _n_classes(y) > 2
    weighted = config.loss == "weighted" and multiclass and config.engine != "catboost"
    w_fit = balanced_weights(y, y) if weighted else None
    patience = settings.early_stopping
    if not patience:
        if w_fit is not None:
            model.fit(X, y, sample_weight=w_fit)
        else:
            model.fit(X, y)
        return settings.n_estimators
    fit_rows, val_rows = validation_split(y, settings.validation_fraction, settings.random_state)
    Xf, yf, Xv, yv = _take(X, fit_rows), y[fit_rows], _take(X, val_rows), y[val_rows]
    w_f = balanced_weights(y, yf) if weighted else None
    if config.loss == "weighted":
        w_val = balanced_weights(y, yv) if multiclass else np.where(yv == 1, class_ratio(y), 1.0)
    else:
        w_val = None
    if config.engine == "catboost":
        model.fit(Xf, yf, eval_set=(Xv, yv), use_best_model=True, early_stopping_rounds=patience)
        return int(model.get_best_iteration()) + 1
    if config.loss == "focal":
        model.fit(Xf, yf, eval_set=[(Xv, yv)])
        return int(model.n_estimators_)
    if config.engine == "xgboost":
        model.fit(Xf, yf, sample_weight=w_f, eval_set=[(Xv, yv)],
                  sample_weight_eval_set=None if w_val is None else [w_val], verbose=False)
        return int(model.best_iteration) + 1
    import inspect

    import lightgbm as lgb

    # lightgbm >= 4.7 deprecates eval_set in favour of eval_X / eval_y
    evals = ({"eval_X": (Xv,), "eval_y": (yv,)} if "eval_X" in inspect.signature(model.fit).parameters
             else {"eval_set": [(Xv, yv)]})
    model.fit(Xf, yf, sample_weight=w_f, **evals, eval_sample_weight=None if w_val is None else [w_val],
              eval_metric="multi_logloss" if multiclass else "binary_logloss",
              callbacks=[lgb.early_stopping(patience, verbose=False)])
    return int(model.best_iteration_ or settings.n_estimators)


def _focal_class(engine):
    """FocalXGBClassifier or FocalLGBMClassifier."""
    from .estimators import FocalLGBMClassifier, FocalXGBClassifier

    return {"xgboost": FocalXGBClassifier, "lightgbm": FocalLGBMClassifier}[engine]


def _columns(model, proba, n_classes):
    """Probabilities with one column per class code 0..K-1 (a class absent in training gets 0)."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim == 1:
        proba = np.column_stack([1.0 - proba, proba])
    classes = getattr(model, "classes_", None)
    if classes is None or proba.shape[1] == n_classes:
        return proba
    out = np.zeros((proba.shape[0], n_classes))
    out[:, np.asarray(classes, dtype=np.int64)] = proba
    return out


def predict_modes(model, X, n_classes=2):
    """{"default", "raw", "posterior"} probabilities (binary: P(y=1) (n,); else (n, K)).

    "default" is the model's own ``predict_proba``. For the focal estimators (they have
    ``loss_``), "raw" is sigmoid/softmax of ``decision_function`` and "posterior" is
    ``loss_.posterior`` of it, whatever ``probability`` mode the estimator defaults to; for
    other models both are None.
    """
    from scipy import special

    proba = _columns(model, model.predict_proba(X), n_classes)
    out = {"default": proba[:, 1] if n_classes == 2 else proba, "raw": None, "posterior": None}
    if hasattr(model, "loss_") and hasattr(model, "decision_function"):
        margin = np.asarray(model.decision_function(X), dtype=np.float64)
        if margin.ndim == 1:
            out["raw"] = special.expit(margin)
            out["posterior"] = np.asarray(model.loss_.posterior(margin), dtype=np.float64)
        else:
            out["raw"] = _columns(model, special.softmax(margin, axis=1), n_classes)
            out["posterior"] = _columns(model, model.loss_.posterior(margin), n_classes)
    return out


def predict_scores(model, X, focal=True):
    """(P(y=1) as the model reports it, raw sigmoid of the margin or None): binary, for older callers."""
    modes = predict_modes(model, X, 2)
    return modes["default"], modes["raw"] if focal else None


# ---------------------------------------------------------------------------------------- metrics
def fold_metrics(y, p, n_classes=2):
    """The scores of one fold's probabilities (see :mod:`boost_focal._scores`)."""
    return _scores.scores(np.asarray(y), p, n_classes)


def _fit_predict(config, settings, X_train, y_train, X_test, y_test, build=build_model):
    """(metrics, {mode: probabilities}) of one configuration fitted on one split."""
    n_classes = _n_classes(y_train, y_test)
    model = build(config, settings, y_train)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", category=UserWarning)
        rounds = fit_model(model, config, settings, X_train, y_train)
    fit_s = time.perf_counter() - start
    # the engines' own chatter is dropped; boost-focal's warnings (a model that learned nothing, ...) are kept
    ours = [str(w.message) for w in caught if "boost_focal" in str(w.filename).replace("-", "_")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        modes = predict_modes(model, X_test, n_classes)
    metrics = fold_metrics(y_test, modes["default"], n_classes)
    for mode, prefix in (("raw", "raw_"), ("posterior", "post_")):
        cal = (_scores.calibration(y_test, modes[mode]) if modes[mode] is not None
               else dict.fromkeys(("logloss", "brier", "ece"), math.nan))
        metrics.update({prefix + k: v for k, v in cal.items()})
    metrics["fit_s"] = fit_s
    metrics["rounds"] = rounds
    metrics["finite"] = bool(np.all(np.isfinite(modes["default"])))
    metrics["warning"] = ours[0] if ours else ""
    return metrics, modes


def fit_and_score(config, settings, X_train, y_train, X_test, y_test, build=build_model):
    """Fit one configuration on one split: (metrics dict with fit_s and rounds, default probabilities)."""
    metrics, modes = _fit_predict(config, settings, X_train, y_train, X_test, y_test, build)
    return metrics, modes["default"]


def warm_up(engines, n_classes, configs, settings):
    """Tiny focal fits (every gamma and Hessian mode of ``configs``) so that Numba compiles, or loads
    from its cache, every kernel the cross-validation will use before any fit is timed.

    Returns the seconds it took.
    """
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    n = 40 * n_classes
    y = np.arange(n) % n_classes
    X = np.column_stack([y + rng.standard_normal(n), rng.standard_normal(n)])
    tiny = Settings(n_estimators=2, learning_rate=0.3, max_depth=2, n_jobs=settings.n_jobs,
                    early_stopping=2 if settings.early_stopping else None, extra=dict(settings.extra))
    seen = set()
    for c in configs:
        key = (c.engine, c.gamma, c.hessian, isinstance(c.alpha, str))
        if c.loss != "focal" or c.engine not in engines or key in seen:
            continue
        seen.add(key)
        _fit_predict(c, tiny, X[: -4 * n_classes], y[: -4 * n_classes], X[-4 * n_classes:], y[-4 * n_classes:])
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------- CV
@dataclass
class CVResult:
    """Per-fold rows, pooled out-of-fold predictions per configuration, and the labels.

    ``oof`` holds each configuration's default probabilities; ``oof_raw`` / ``oof_posterior``
    the focal models' raw and posterior ones (NaN where not predicted). After an interruption
    ``partial`` is True and only the ``completed_folds`` first folds are in ``rows``; ``scored``
    marks the rows those folds predicted.
    """

    rows: list
    oof: dict
    y: np.ndarray
    configs: list
    n_splits: int
    seed: int
    settings: Settings
    oof_raw: dict = field(default_factory=dict)
    oof_posterior: dict = field(default_factory=dict)
    n_classes: int = 2
    completed_folds: int = None
    partial: bool = False
    scored: np.ndarray = None

    def __post_init__(self):
        if self.completed_folds is None:
            self.completed_folds = self.n_splits
        if self.scored is None:
            self.scored = np.ones(len(self.y), dtype=bool)


class CVInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`cross_validate`; ``result`` holds the folds that finished (or None)."""

    def __init__(self, result):
        super().__init__("interrupted")
        self.result = result


def folds_for(y, n_splits, seed, min_train=1):
    """Stratified k-fold splits (shuffled with ``seed``).

    Binary: checks that each class fills every fold and has at least ``min_train`` rows in every
    training part (2 for early stopping). Multiclass: every class needs 2 rows (then each
    training part holds every class); a class with fewer rows than folds is in the test part of
    only some folds, and its per-class scores average over those.
    """
    from sklearn.model_selection import StratifiedKFold

    if n_splits < 2:
        raise DataError(f"--folds must be at least 2, got {n_splits}")
    counts = np.bincount(y)
    if counts.size > 2:
        if counts.min() < 2:
            raise DataError(f"class code {int(counts.argmin())} has {int(counts.min())} row(s); "
                            "cross-validation needs at least 2 per class")
        if len(y) < n_splits:
            raise DataError(f"only {len(y)} rows for {n_splits} folds; use fewer --folds")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "least populated class ... less than n_splits"
            return list(StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
    smallest = int(min(np.sum(y == 0), np.sum(y == 1)))
    if smallest < n_splits:
        raise DataError(
            f"the smaller class has only {smallest} row(s), fewer than the {n_splits} folds; use --folds {max(2, smallest)} or more data"
            if smallest >= 2
            else f"the smaller class has only {smallest} row; cross-validation needs at least 2 per class"
        )
    folds = list(StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
    fewest = min(int(min(np.sum(y[train] == 0), np.sum(y[train] == 1))) for train, _ in folds)
    if fewest < min_train:
        raise DataError(
            f"a training fold has only {fewest} row(s) of the smaller class, too few to hold out a validation part "
            f"for early stopping; use --early-stopping 0, or more --folds (larger training folds)"
        )
    return folds


def cross_validate(X, y, configs, settings=None, n_splits=5, seed=0, progress=None, build=build_model):
    """Fit every configuration on the same stratified folds and score it on the held-out fold.

    ``X`` is an array or a DataFrame (categorical columns reach the engines as such); ``y``
    holds class codes 0..K-1. ``progress`` is called with no arguments after each fit (e.g. a
    tqdm bar's ``update``). Ctrl-C raises :class:`CVInterrupted` with the finished folds.
    """
    settings = settings or Settings(random_state=seed)
    y = np.asarray(y, dtype=np.int64)
    n_classes = _n_classes(y)
    folds = folds_for(y, n_splits, seed, min_train=2 if settings.early_stopping else 1)
    shape = (len(y),) if n_classes == 2 else (len(y), n_classes)
    rows = []
    oof = {c: np.full(shape, np.nan) for c in configs}
    oof_raw = {c: np.full(shape, np.nan) for c in configs if c.loss == "focal"}
    oof_post = {c: np.full(shape, np.nan) for c in configs if c.loss == "focal"}
    scored = np.zeros(len(y), dtype=bool)

    def result(done):
        keep = [r for r in rows if r["fold"] < done]
        return CVResult(keep, oof, y, list(configs), n_splits, seed, settings, oof_raw, oof_post, n_classes,
                        done, done < n_splits, scored.copy())

    done = 0
    try:
        for fold, (train, test) in enumerate(folds):
            X_train, X_test = _take(X, train), _take(X, test)
            for config in configs:
                metrics, modes = _fit_predict(config, settings, X_train, y[train], X_test, y[test], build)
                oof[config][test] = modes["default"]
                if config in oof_raw and modes["raw"] is not None:
                    oof_raw[config][test] = modes["raw"]
                    oof_post[config][test] = modes["posterior"]
                rows.append({"engine": config.engine, "config": config.name, "fold": fold, **metrics})
                if progress is not None:
                    progress()
            scored[test] = True
            done = fold + 1
    except KeyboardInterrupt:
        unfinished = ~scored
        for store in (oof, oof_raw, oof_post):
            for arr in store.values():
                arr[unfinished] = np.nan
        raise CVInterrupted(result(done) if done else None) from None
    return result(done)


def inner_cv_select(X, y, configs, settings, n_splits=3, seed=0, metric="pr_auc", build=build_model):
    """The configuration with the best mean ``metric`` over an inner stratified CV of (X, y).

    Used to pick a focal setting on the training part of an outer fold only, so the outer test
    fold never influences the choice. Returns (best config, {config: mean score}).
    """
    higher = METRICS[metric][1]
    result = cross_validate(X, y, configs, settings, n_splits=n_splits, seed=seed, build=build)
    scores = {}
    for config in configs:
        vals = [r[metric] for r in result.rows if r["config"] == config.name and r["engine"] == config.engine]
        scores[config] = float(np.mean(vals)) if np.all(np.isfinite(vals)) else -math.inf * (1 if higher else -1)
    pick = max if higher else min
    return pick(configs, key=lambda c: scores[c]), scores


# ---------------------------------------------------------------------------------------- summary
_NOT_METRICS = ("engine", "config", "fold", "finite", "warning")


def fit_warnings(result):
    """{warning text: number of fits} of the boost-focal warnings raised while fitting."""
    counts = {}
    for r in result.rows:
        if r.get("warning"):
            counts[r["warning"]] = counts.get(r["warning"], 0) + 1
    return counts


def summarize(result):
    """One row per (engine, configuration): mean and standard deviation over folds of each score.

    A score is NaN when any fold's is (a diverged fit), except per-class PR-AUC (``ap_<code>``),
    which averages over the folds whose test part contains the class.
    """
    keys = [k for k in (result.rows[0] if result.rows else {}) if k not in _NOT_METRICS]
    out = []
    for config in result.configs:
        rows = [r for r in result.rows if r["engine"] == config.engine and r["config"] == config.name]
        entry = {"engine": config.engine, "config": config.name, "loss": config.loss,
                 "gamma": config.gamma if config.loss == "focal" else None,
                 "alpha": config.alpha if config.loss == "focal" else None,
                 "hessian": config.hessian if config.loss == "focal" else None,
                 "folds": len(rows), "diverged_folds": sum(not r["finite"] for r in rows)}
        for key in keys:
            vals = np.array([r.get(key, math.nan) for r in rows], dtype=np.float64)
            ok = vals[np.isfinite(vals)]
            complete = ok.size == vals.size or (key.startswith("ap_") and not entry["diverged_folds"])
            entry[key] = float(ok.mean()) if complete and ok.size else math.nan
            entry[key + "_sd"] = float(ok.std(ddof=1)) if complete and ok.size > 1 else math.nan
        out.append(entry)
    return out


def paired_difference(a, b, higher_is_better=True, n_comparisons=1, level=0.95):
    """Fold-paired gain of a over b: (mean, half-width of the CI, folds where a is better, folds).

    gain_f = a_f - b_f (negated when lower is better); the interval is mean +- t * sd / sqrt(k)
    with t the Student quantile at ``level``, Bonferroni-corrected over ``n_comparisons``.
    """
    from scipy import stats

    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if not higher_is_better:
        d = -d
    k = d.size
    if k < 2 or not np.all(np.isfinite(d)):
        return math.nan, math.nan, int(np.sum(d > 0)), k
    t = stats.t.ppf(1 - (1 - level) / (2 * n_comparisons), k - 1)
    return float(d.mean()), float(t * d.std(ddof=1) / math.sqrt(k)), int(np.sum(d > 0)), k


def _fold_values(result, engine, name, metric):
    rows = sorted((r for r in result.rows if r["engine"] == engine and r["config"] == name), key=lambda r: r["fold"])
    return np.array([r[metric] for r in rows], dtype=np.float64)


def metric_title(metric, n_classes=2):
    title = METRICS[metric][0]
    return f"macro {title}" if n_classes > 2 and metric in ("pr_auc", "roc_auc") else title


def _interval(gain, half):
    return f"gain {gain:+.4f}, 95% CI [{gain - half:+.4f}, {gain + half:+.4f}]"


def _verdict(gain, half, single, n_settings):
    """'clear', 'suggestive' (clear only without the correction), 'worse' or 'noise'."""
    if not np.isfinite(gain):
        return "noise"
    if gain - half > 0:
        return "clear"
    if n_settings > 1 and gain - single > 0:
        return "suggestive"
    if gain + half < 0:
        return "worse"
    return "noise"


_VERDICT_TEXT = {
    "clear": "a clear gain",
    "suggestive": "better only before correcting for the {n} settings tried, so not clear",
    "worse": "clearly worse",
    "noise": "within the fold-to-fold noise",
}


def recommend(result, metric="pr_auc"):
    """One winner per engine, and the evidence for it.

    The winner is logloss unless focal loss or class-weighted logloss beats it clearly: a
    fold-paired gain whose 95% interval lies above zero, Bonferroni-corrected over the focal
    settings tried for focal loss (choosing the best of many settings on the same folds
    otherwise mistakes noise for gain). When both beat it clearly, the higher mean wins.
    Returns a dict with ``lines`` (sentences, unwrapped), ``winners`` {engine: config name}
    and the per-engine details.
    """
    _, higher = METRICS[metric]
    title = metric_title(metric, result.n_classes)
    summary = {(s["engine"], s["config"]): s for s in summarize(result)}
    lines, engines, winners = [], {}, {}
    for engine in dict.fromkeys(c.engine for c in result.configs):
        et = ENGINE_TITLES.get(engine, engine)
        focal = [c for c in result.configs if c.engine == engine and c.loss == "focal"]
        if (engine, "logloss") not in summary or not focal:
            continue
        base = _fold_values(result, engine, "logloss", metric)
        base_mean = summary[(engine, "logloss")][metric]
        means = {c: summary[(engine, c.name)][metric] for c in focal}
        finite = [c for c in focal if np.isfinite(means[c])]
        if not finite:
            lines.append(f"{et}: use logloss. Every focal setting diverged on some fold.")
            winners[engine] = "logloss"
            engines[engine] = {"winner": "logloss", "best_focal": None, "focal_helps": False}
            continue
        best = (max if higher else min)(finite, key=lambda c: means[c])
        values = _fold_values(result, engine, best.name, metric)
        gain, half, wins, k = paired_difference(values, base, higher, n_comparisons=len(focal))
        single = paired_difference(values, base, higher)[1]
        verdict = _verdict(gain, half, single, len(focal))
        entry = {"best_focal": best.name, "gamma": best.gamma, "alpha": best.alpha, "hessian": best.hessian,
                 "gain": gain, "ci_half_width": half, "ci_half_width_uncorrected": single, "folds_better": wins,
                 "folds": k, "focal_helps": verdict == "clear", "focal_verdict": verdict}
        weighted = (engine, "weighted logloss") in summary
        w_verdict, w_mean = "noise", math.nan
        if weighted:
            w_mean = summary[(engine, "weighted logloss")][metric]
            wg, wh, ww, _ = paired_difference(_fold_values(result, engine, "weighted logloss", metric), base, higher)
            w_verdict = _verdict(wg, wh, wh, 1)
            entry.update(weighted_gain=wg, weighted_ci_half_width=wh, weighted_verdict=w_verdict)
        better = (lambda a, b: a > b) if higher else (lambda a, b: a < b)
        winner = "logloss"
        if verdict == "clear" and not (w_verdict == "clear" and better(w_mean, means[best])):
            winner = best.name
        elif w_verdict == "clear":
            winner = "weighted logloss"
        entry["winner"] = winner
        winners[engine] = winner
        what = {"logloss": "logloss (the engine's built-in objective)",
                "weighted logloss": "class-weighted logloss (for ranking; its probabilities are distorted)"}
        lines.append(f"{et}: use {what.get(winner, f'focal loss, {_call(best)}')}.")
        lines.append(f"  Best focal setting ({best.name.replace('focal ', '')}): {title} {means[best]:.4f} vs {base_mean:.4f} for logloss, "
                     f"{_interval(gain, half)} (corrected for the {len(focal)} settings tried), better on "
                     f"{wins} of {k} folds: {_VERDICT_TEXT[verdict].format(n=len(focal))}.")
        if weighted:
            lines.append(f"  Weighted logloss: {title} {w_mean:.4f}, {_interval(wg, wh)}, better on {ww} of {k} "
                         f"folds: {_VERDICT_TEXT[w_verdict]}.")
        engines[engine] = entry
    if len(winners) == 2:
        (e1, w1), (e2, w2) = winners.items()
        s1, s2 = summary[(e1, w1)][metric], summary[(e2, w2)][metric]
        if np.isfinite(s1) and np.isfinite(s2):
            first, second = ((e1, w1), (e2, w2)) if not better_or_equal(s2, s1, higher) else ((e2, w2), (e1, w1))
            g, h, _, _ = paired_difference(_fold_values(result, *first, metric), _fold_values(result, *second, metric),
                                           higher)
            lines.append(f"Between the engines: {ENGINE_TITLES.get(first[0], first[0])} ({first[1]}) "
                         f"{summary[first][metric]:.4f} vs {ENGINE_TITLES.get(second[0], second[0])} ({second[1]}) "
                         f"{summary[second][metric]:.4f}, {_interval(g, h)}: "
                         f"{_VERDICT_TEXT[_verdict(g, h, h, 1)]}.")
    lines.append(f"A gain is the improvement in {title} over the comparison model, paired by fold (positive ="
                 " better); 95% CI is the Student-t confidence interval of its mean over folds.")
    return {"metric": metric, "lines": lines, "engines": engines, "winners": winners}


def better_or_equal(a, b, higher):
    return a > b if higher else a < b


def calibration_rows(result, summary, advice):
    """Per engine: (label, log loss, Brier, ECE) for logloss, weighted logloss and the engine's
    best focal setting with its default, raw and posterior probabilities."""
    by_name = {(s["engine"], s["config"]): s for s in summary}
    link = "sigmoid" if result.n_classes == 2 else "softmax"
    out = {}
    for engine, entry in advice["engines"].items():
        rows = []
        for name in ("logloss", "weighted logloss"):
            if (engine, name) in by_name:
                s = by_name[(engine, name)]
                rows.append((name, s["logloss"], s["brier"], s["ece"]))
        best = entry.get("best_focal")
        if best is not None:
            s = by_name[(engine, best)]
            mode = default_probability(engine)
            rows.append((f"{best}, default (probability={mode!r})", s["logloss"], s["brier"], s["ece"]))
            rows.append((f"{best}, raw {link} of the margin", s["raw_logloss"], s["raw_brier"], s["raw_ece"]))
            rows.append((f"{best}, recovered posterior", s["post_logloss"], s["post_brier"], s["post_ece"]))
        out[engine] = rows
    return out


# ---------------------------------------------------------------------------------------- text
def _grid(header, body, left=1):
    """Fixed-width text: the first ``left`` columns left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    fmt = lambda r: "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return [fmt(header).rstrip(), *(fmt(r).rstrip() for r in body)]


def _cell(v, digits=4):
    return f"{v:.{digits}f}" if np.isfinite(v) else "-"


def format_table(summary_rows, metric="pr_auc", n_classes=2):
    """The summary as fixed-width text, one block per engine: mean over folds of each score and,
    in the column after the ranking metric, its standard deviation over folds ("sd")."""
    cols = (["pr_auc", "roc_auc", "logloss", "brier", "best_f1"] if n_classes == 2
            else ["pr_auc", "roc_auc", "logloss", "brier", "balanced_accuracy"])
    if metric not in cols:
        cols.append(metric)
    titles = {**{k: v[0] for k, v in METRICS.items()}, "balanced_accuracy": "bal. acc"}
    header = ["config"]
    for key in cols:
        header.append(titles[key])
        if key == metric:
            header.append("sd")
    header += ["rounds", "fit s"]
    out = []
    for engine in dict.fromkeys(s["engine"] for s in summary_rows):
        body = []
        for s in (s for s in summary_rows if s["engine"] == engine):
            if s.get("diverged_folds"):
                cells = [s["config"], *["diverged"] + [""] * (len(header) - 2)]
                body.append(cells)
                continue
            cells = [s["config"]]
            for key in cols:
                cells.append(_cell(s[key]))
                if key == metric:
                    cells.append(_cell(s[key + "_sd"], 3))
            cells += [f"{s['rounds']:.0f}" if np.isfinite(s["rounds"]) else "-", _cell(s["fit_s"], 2)]
            body.append(cells)
        out.append(ENGINE_TITLES.get(engine, engine))
        out += ["  " + line for line in _grid(header, body)]
    return "\n".join(out)


def format_per_class(summary_rows, classes, counts, rarest):
    """Multiclass: one-vs-rest PR-AUC of the rarest classes (columns), per configuration."""
    header = ["config", *(f"{label_text(classes[k])[:10]} ({counts[k]})" for k in rarest)]
    out = []
    for engine in dict.fromkeys(s["engine"] for s in summary_rows):
        body = [[s["config"], *(_cell(s.get(f"ap_{k}", math.nan)) for k in rarest)]
                for s in summary_rows if s["engine"] == engine]
        out.append(ENGINE_TITLES.get(engine, engine))
        out += ["  " + line for line in _grid(header, body)]
    return "\n".join(out)


def format_calibration(rows_by_engine):
    """The :func:`calibration_rows` as fixed-width text, one block per engine."""
    out = []
    for engine, rows in rows_by_engine.items():
        body = [[label, _cell(ll), _cell(b), _cell(e)] for label, ll, b, e in rows]
        out.append(ENGINE_TITLES.get(engine, engine))
        out += ["  " + line for line in _grid(["probabilities", "log loss", "Brier", "ECE"], body)]
    return "\n".join(out)


def wrap(line, width=WIDTH, indent="  "):
    """A sentence wrapped to ``width`` columns; continuation lines indented by ``indent`` more."""
    lead = line[: len(line) - len(line.lstrip())]
    return textwrap.fill(line.strip(), width=width, initial_indent=lead, subsequent_indent=lead + indent,
                         break_on_hyphens=False)


def settings_dict(result):
    """The settings of a run, for the JSON output."""
    return {"folds": result.n_splits, "seed": result.seed, "completed_folds": result.completed_folds,
            "partial": result.partial, **asdict(result.settings)}


__all__ = [
    "CVInterrupted",
    "CVResult",
    "Config",
    "Settings",
    "build_model",
    "calibration_rows",
    "check_alphas",
    "cross_validate",
    "encode_features",
    "encode_target",
    "fit_warnings",
    "fold_metrics",
    "format_calibration",
    "format_per_class",
    "format_table",
    "inner_cv_select",
    "make_grid",
    "paired_difference",
    "predict_modes",
    "recommend",
    "summarize",
    "warm_up",
]
