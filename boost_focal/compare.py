"""Cross-validated comparison of logloss, class-weighted logloss and focal loss.

The engine behind ``boost-focal compare`` and ``benchmarks/real_data.py``; argument parsing lives
in :mod:`boost_focal.cli`. The steps, each a small function:

1. :func:`encode_features` / :func:`encode_target`: a float feature matrix and 0/1 labels, or a
   one-line :class:`~boost_focal.datasets.DataError`.
2. :func:`make_grid`: the configurations (engine x loss x gamma/alpha).
3. :func:`cross_validate`: stratified k-fold CV; every configuration is fitted on the same folds,
   so differences between configurations are paired by fold.
4. :func:`summarize` and :func:`recommend`: the table and a verdict that only calls focal loss
   better when the fold-paired gain is clear of noise (Bonferroni-corrected over the settings tried).

Focal models are :class:`~boost_focal.FocalXGBClassifier` / :class:`~boost_focal.FocalLGBMClassifier`
with their default Hessian mode and ``probability="posterior"``. Baselines are the engines' own
built-in objectives (``xgboost.XGBClassifier``,
``lightgbm.LGBMClassifier`` with ``binary:logistic`` / ``binary``), with the same trees, learning rate
and seed as the focal models: the comparison a user would make by hand. Weighted logloss sets
``scale_pos_weight = n_negative / n_positive`` of the training fold. With early stopping
(:class:`Settings`), every model stops on its own loss on the same held-out part of its training
fold; with a fixed number of rounds instead, the loss that overfits more slowly wins by default.
"""

import math
import time
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from .datasets import DataError

ENGINES = ("xgboost", "lightgbm")
ENGINE_TITLES = {"xgboost": "XGBoost", "lightgbm": "LightGBM", "catboost": "CatBoost"}
DEFAULT_GAMMAS = (0.5, 1.0, 2.0)
DEFAULT_ALPHAS = (None, 0.25, 0.75)
QUICK_GAMMAS = (1.0, 2.0)
QUICK_ALPHAS = (None, 0.25)

#: metric name -> (column title, higher is better)
METRICS = {
    "pr_auc": ("PR-AUC", True),
    "roc_auc": ("ROC-AUC", True),
    "logloss": ("log loss", False),
    "brier": ("Brier", False),
    "best_f1": ("best F1", True),
}


# ---------------------------------------------------------------------------------------- input
def encode_features(X, categorical=()):
    """(float64 matrix, column names, coded columns) that both engines accept.

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
    """(labels in {0, 1} as int64, the positive class, class counts as {label: count}).

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
            f"the target has a single class ({labels[0]!r} in all {values.size} rows); compare needs two classes"
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


# ---------------------------------------------------------------------------------------- models
def build_model(config, settings, y_train):
    """An unfitted classifier for ``config`` (y_train is needed for the class weight)."""
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
        common["scale_pos_weight"] = class_ratio(y_train)
    elif config.loss != "logloss":
        raise ValueError(f"unknown loss {config.loss!r}")
    common.update(settings.extra)
    if config.engine == "xgboost":
        import xgboost as xgb

        return xgb.XGBClassifier(objective="binary:logistic", tree_method="hist", eval_metric="logloss",
                                 **stopping, **common)
    if config.engine == "lightgbm":
        import lightgbm as lgb

        return lgb.LGBMClassifier(objective="binary", **lgb_extra, **common)
    raise ValueError(f"unknown engine {config.engine!r}")


def class_ratio(y):
    """n_negative / n_positive: the scale_pos_weight that balances the two classes."""
    n_pos = int(np.sum(y == 1))
    return (len(y) - n_pos) / max(n_pos, 1)


def validation_split(y, fraction, seed):
    """(fit rows, validation rows): a stratified split, at least one row of each class in each part."""
    from sklearn.model_selection import StratifiedShuffleSplit

    smallest = int(min(np.sum(y == 0), np.sum(y == 1)))
    if smallest < 2:
        raise DataError(
            f"a training set has only {smallest} row of its smaller class, too few to hold out a validation part "
            "for early stopping; use --early-stopping 0 or fewer --folds"
        )
    n_val = max(int(round(fraction * len(y))), 2)
    split = StratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
    return next(split.split(np.zeros(len(y)), y))


def fit_model(model, config, settings, X, y):
    """Fit ``model``; with early stopping on a held-out part of (X, y). Returns the rounds kept.

    The stopping criterion is each model's own objective on the validation rows: logloss, logloss
    with the positive rows weighted by scale_pos_weight, or the focal loss (the estimators'
    default eval_metric); CatBoost uses its loss function likewise.
    """
    patience = settings.early_stopping
    if not patience:
        model.fit(X, y)
        return settings.n_estimators
    fit_rows, val_rows = validation_split(y, settings.validation_fraction, settings.random_state)
    Xf, yf, Xv, yv = X[fit_rows], y[fit_rows], X[val_rows], y[val_rows]
    w_val = np.where(yv == 1, class_ratio(y), 1.0) if config.loss == "weighted" else None
    if config.engine == "catboost":
        model.fit(Xf, yf, eval_set=(Xv, yv), use_best_model=True, early_stopping_rounds=patience)
        return int(model.get_best_iteration()) + 1
    if config.loss == "focal":
        model.fit(Xf, yf, eval_set=[(Xv, yv)])
        return int(model.n_estimators_)
    if config.engine == "xgboost":
        model.fit(Xf, yf, eval_set=[(Xv, yv)], sample_weight_eval_set=None if w_val is None else [w_val], verbose=False)
        return int(model.best_iteration) + 1
    import inspect

    import lightgbm as lgb

    # lightgbm >= 4.7 deprecates eval_set in favour of eval_X / eval_y
    evals = ({"eval_X": (Xv,), "eval_y": (yv,)} if "eval_X" in inspect.signature(model.fit).parameters
             else {"eval_set": [(Xv, yv)]})
    model.fit(Xf, yf, **evals, eval_sample_weight=None if w_val is None else [w_val],
              eval_metric="binary_logloss", callbacks=[lgb.early_stopping(patience, verbose=False)])
    return int(model.best_iteration_ or settings.n_estimators)


def _focal_class(engine):
    """FocalXGBClassifier or FocalLGBMClassifier."""
    from .estimators import FocalLGBMClassifier, FocalXGBClassifier

    return {"xgboost": FocalXGBClassifier, "lightgbm": FocalLGBMClassifier}[engine]


def predict_scores(model, X, focal=True):
    """(P(y=1) as the model reports it, P(y=1) from the raw sigmoid of the margin or None).

    For focal models the first is the recovered posterior and the second the uncorrected
    sigmoid(margin); for the baselines (``focal=False``) the two coincide and the second is None.
    """
    proba = np.asarray(model.predict_proba(X), dtype=np.float64)
    p = proba[:, 1] if proba.ndim == 2 else proba
    raw = None
    if focal and hasattr(model, "decision_function"):
        margin = np.asarray(model.decision_function(X), dtype=np.float64)
        raw = 0.5 * (1.0 + np.tanh(0.5 * margin))  # sigmoid without overflow
    return p, raw


# ---------------------------------------------------------------------------------------- metrics
def best_f1(y, p):
    """max over thresholds t of F1 = 2 P R / (P + R) for the rule p >= t (0 when P + R = 0)."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(y, p)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    return float(f1.max())


def fold_metrics(y, p):
    """PR-AUC (average precision), ROC-AUC, log loss, Brier score and best-threshold F1 of P(y=1)."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    if not np.all(np.isfinite(p)):
        return {k: math.nan for k in METRICS}
    return {
        "pr_auc": float(average_precision_score(y, p)),
        "roc_auc": float(roc_auc_score(y, p)),
        "logloss": log_loss(y, p),
        "brier": float(brier_score_loss(y, p)),
        "best_f1": best_f1(y, p),
    }


def log_loss(y, p):
    """mean of -[y log p + (1 - y) log(1 - p)], with p clipped to [1e-15, 1 - 1e-15]."""
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(np.where(y == 1, np.log(p), np.log1p(-p))))


def fit_and_score(config, settings, X_train, y_train, X_test, y_test, build=build_model):
    """Fit one configuration on one split: (metrics dict with fit_s, P(y=1) on X_test)."""
    model = build(config, settings, y_train)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        rounds = fit_model(model, config, settings, X_train, y_train)
    fit_s = time.perf_counter() - start
    p, raw = predict_scores(model, X_test, focal=config.loss == "focal")
    metrics = fold_metrics(y_test, p)
    metrics["raw_logloss"] = log_loss(y_test, raw) if raw is not None and np.all(np.isfinite(raw)) else math.nan
    metrics["raw_brier"] = float(np.mean((raw - y_test) ** 2)) if raw is not None else math.nan
    metrics["fit_s"] = fit_s
    metrics["rounds"] = rounds
    metrics["finite"] = bool(np.all(np.isfinite(p)))
    return metrics, p


# ---------------------------------------------------------------------------------------- CV
@dataclass
class CVResult:
    """Per-fold rows, pooled out-of-fold predictions per configuration, and the labels."""

    rows: list
    oof: dict
    y: np.ndarray
    configs: list
    n_splits: int
    seed: int
    settings: Settings


def folds_for(y, n_splits, seed, min_train=1):
    """Stratified k-fold splits (shuffled with ``seed``); checks that each class fills every fold
    and has at least ``min_train`` rows in every training part (2 for early stopping)."""
    from sklearn.model_selection import StratifiedKFold

    smallest = int(min(np.sum(y == 0), np.sum(y == 1)))
    if n_splits < 2:
        raise DataError(f"--folds must be at least 2, got {n_splits}")
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

    ``progress`` is called with no arguments after each fit (e.g. a tqdm bar's ``update``).
    """
    settings = settings or Settings(random_state=seed)
    y = np.asarray(y, dtype=np.int64)
    folds = folds_for(y, n_splits, seed, min_train=2 if settings.early_stopping else 1)
    rows = []
    oof = {c: np.full(len(y), np.nan) for c in configs}
    for fold, (train, test) in enumerate(folds):
        for config in configs:
            metrics, p = fit_and_score(config, settings, X[train], y[train], X[test], y[test], build)
            oof[config][test] = p
            rows.append({"engine": config.engine, "config": config.name, "fold": fold, **metrics})
            if progress is not None:
                progress()
    return CVResult(rows, oof, y, list(configs), n_splits, seed, settings)


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
SUMMARY_COLUMNS = ("pr_auc", "roc_auc", "logloss", "brier", "best_f1", "raw_logloss", "raw_brier", "fit_s", "rounds")


def summarize(result):
    """One row per (engine, configuration): mean and standard deviation over folds of each metric."""
    out = []
    for config in result.configs:
        rows = [r for r in result.rows if r["engine"] == config.engine and r["config"] == config.name]
        entry = {"engine": config.engine, "config": config.name, "loss": config.loss,
                 "gamma": config.gamma if config.loss == "focal" else None,
                 "alpha": config.alpha if config.loss == "focal" else None,
                 "hessian": config.hessian if config.loss == "focal" else None,
                 "folds": len(rows), "diverged_folds": sum(not r["finite"] for r in rows)}
        for key in SUMMARY_COLUMNS:
            vals = np.array([r[key] for r in rows], dtype=np.float64)
            ok = vals[np.isfinite(vals)]
            entry[key] = float(ok.mean()) if ok.size == vals.size and ok.size else math.nan
            entry[key + "_sd"] = float(ok.std(ddof=1)) if ok.size == vals.size and ok.size > 1 else math.nan
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


def recommend(result, metric="pr_auc"):
    """Per engine, a verdict on focal loss versus logloss, and the overall best configuration.

    Focal loss is called better only when the fold-paired gain of its best setting over logloss
    has a Bonferroni-corrected 95% interval (over the focal settings tried) above zero: choosing the
    best of many settings on the same folds otherwise mistakes noise for gain.
    Returns a dict with ``lines`` (text) and the per-engine details.
    """
    title, higher = METRICS[metric]
    summary = {(s["engine"], s["config"]): s for s in summarize(result)}
    lines, engines = [], {}
    for engine in dict.fromkeys(c.engine for c in result.configs):
        et = ENGINE_TITLES.get(engine, engine)
        focal = [c for c in result.configs if c.engine == engine and c.loss == "focal"]
        if (engine, "logloss") not in summary or not focal:
            continue
        base = _fold_values(result, engine, "logloss", metric)
        means = {c: summary[(engine, c.name)][metric] for c in focal}
        finite = [c for c in focal if np.isfinite(means[c])]
        if not finite:
            lines.append(f"{et}: every focal setting diverged on some fold; keep logloss.")
            continue
        best = (max if higher else min)(finite, key=lambda c: means[c])
        gain, half, wins, k = paired_difference(
            _fold_values(result, engine, best.name, metric), base, higher, n_comparisons=len(focal)
        )
        helps = bool(np.isfinite(gain) and gain - half > 0)
        single = paired_difference(_fold_values(result, engine, best.name, metric), base, higher)[1]
        detail = (f"best focal setting {_call(best)}: {title} "
                  f"{means[best]:.4f} vs {summary[(engine, 'logloss')][metric]:.4f} for logloss "
                  f"(gain {gain:+.4f} +- {half:.4f}, better on {wins} of {k} folds)")
        if helps:
            lines.append(f"{et}: focal loss beat logloss on {title}; {detail}. Try it, and confirm on held-out data.")
        elif np.isfinite(gain) and gain - single > 0 and len(focal) > 1:
            lines.append(f"{et}: focal loss looks better on {title}, but not clearly once the {len(focal)} settings "
                         f"tried are accounted for; {detail}. Keep logloss unless held-out data confirms the gain.")
        elif np.isfinite(gain) and gain + half < 0:
            lines.append(f"{et}: focal loss is worse than logloss on {title} even at its best setting; {detail}. Keep logloss.")
        else:
            lines.append(f"{et}: no clear gain from focal loss on {title}; {detail}. Keep logloss.")
        entry = {"best_focal": best.name, "gamma": best.gamma, "alpha": best.alpha, "hessian": best.hessian, "gain": gain,
                 "ci_half_width": half, "ci_half_width_uncorrected": single, "folds_better": wins, "folds": k,
                 "focal_helps": helps}
        if (engine, "weighted logloss") in summary:
            wg, wh, ww, _ = paired_difference(_fold_values(result, engine, "weighted logloss", metric), base, higher)
            entry.update(weighted_gain=wg, weighted_ci_half_width=wh)
            verdict = "better" if wg - wh > 0 else ("worse" if wg + wh < 0 else "no clear difference")
            lines.append(f"{et}: weighted logloss vs logloss on {title}: {verdict} ({wg:+.4f} +- {wh:.4f}).")
        b_ll, f_ll = summary[(engine, "logloss")]["logloss"], summary[(engine, best.name)]["logloss"]
        raw_ll = summary[(engine, best.name)]["raw_logloss"]
        if np.isfinite(b_ll) and np.isfinite(f_ll):
            raw = f", raw sigmoid {raw_ll:.4f}" if np.isfinite(raw_ll) else ""
            lines.append(f"{et}: calibration: log loss {f_ll:.4f} for the focal posterior{raw} vs {b_ll:.4f} for logloss.")
        engines[engine] = entry
    ranked = [s for s in summary.values() if np.isfinite(s[metric])]
    if ranked:
        top = (max if higher else min)(ranked, key=lambda s: s[metric])
        lines.append(f"Highest mean {title}: {ENGINE_TITLES.get(top['engine'], top['engine'])} {top['config']} ({top[metric]:.4f}).")
    lines.append("All differences are paired by fold; +- is a 95% interval (Bonferroni over the focal settings for the focal gain).")
    return {"metric": metric, "lines": lines, "engines": engines}


def format_table(summary_rows, metric="pr_auc"):
    """The summary as fixed-width text: mean (sd for the ranking metric) per configuration."""
    header = ["engine", "config", "PR-AUC", "ROC-AUC", "log loss", "Brier", "best F1", "raw log loss", "rounds", "fit s"]
    keys = ["pr_auc", "roc_auc", "logloss", "brier", "best_f1", "raw_logloss", "rounds", "fit_s"]
    body = []
    for s in summary_rows:
        cells = [ENGINE_TITLES.get(s["engine"], s["engine"]), s["config"]]
        for key in keys:
            v = s[key]
            if not np.isfinite(v):
                cells.append("-" if key == "raw_logloss" else "diverged")
            elif key == metric:
                cells.append(f"{v:.4f}±{s[key + '_sd']:.3f}" if np.isfinite(s[key + "_sd"]) else f"{v:.4f}")
            elif key == "fit_s":
                cells.append(f"{v:.2f}")
            elif key == "rounds":
                cells.append(f"{v:.0f}")
            else:
                cells.append(f"{v:.4f}")
        body.append(cells)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    fmt = lambda r: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([fmt(header), "  ".join("-" * w for w in widths), *map(fmt, body)])


def settings_dict(result):
    """The settings of a run, for the JSON output."""
    return {"folds": result.n_splits, "seed": result.seed, **asdict(result.settings)}


__all__ = [
    "Config",
    "CVResult",
    "Settings",
    "build_model",
    "cross_validate",
    "encode_features",
    "encode_target",
    "fold_metrics",
    "format_table",
    "inner_cv_select",
    "make_grid",
    "paired_difference",
    "recommend",
    "summarize",
]
