"""Eval-set metrics computed during training, and early stopping on the last eval set.

Both libraries hand a custom metric the raw margin of one eval set per call. An
:class:`EvalRecorder` knows, for every eval set, its encoded labels and weights (validated once
in ``fit``), turns the margin into the value of the chosen metric, keeps the full history at
float64 precision and decides when to stop. The library adapters only translate calling
conventions, so XGBoost and LightGBM stop on exactly the same rule.
"""

import math

import numpy as np

from ._threads import kernel_threads


def focal_metric(y, w, margin, loss, to_proba):
    """Mean focal loss: sum_i w_i FL(z_i; y_i) / sum_i w_i (the training objective itself)."""
    total = float(np.sum(loss.loss(margin, y, w), dtype=np.float64))
    return total / (float(w.sum()) if w is not None else y.shape[0])


def logloss_metric(y, w, margin, loss, to_proba):
    """Mean negative log-likelihood -sum_i w_i log P(y_i | x_i) / sum_i w_i of the reported probabilities."""
    p = to_proba(margin)[np.arange(y.shape[0]), y]
    # A reported probability can round to exactly 0; clipping at 1e-15 (as scikit-learn's
    # log_loss does) keeps the mean finite instead of returning inf.
    nll = -np.log(np.clip(p, 1e-15, 1.0))
    return float(np.average(nll, weights=w))


def error_metric(y, w, margin, loss, to_proba):
    """Weighted share of rows whose most probable class is not the label."""
    wrong = np.argmax(to_proba(margin), axis=1) != y
    return float(np.average(wrong, weights=w))


def auc_metric(y, w, margin, loss, to_proba):
    """ROC AUC (one-vs-rest, macro-averaged, for more than two classes)."""
    from sklearn.metrics import roc_auc_score

    p = to_proba(margin)
    if p.shape[1] == 2:
        return float(roc_auc_score(y, p[:, 1], sample_weight=w))
    return float(roc_auc_score(y, p, multi_class="ovr", labels=np.arange(p.shape[1]), sample_weight=w))


def aucpr_metric(y, w, margin, loss, to_proba):
    """Average precision, the area under the precision-recall curve (macro over classes if K > 2)."""
    from sklearn.metrics import average_precision_score

    p = to_proba(margin)
    if p.shape[1] == 2:
        return float(average_precision_score(y, p[:, 1], sample_weight=w))
    onehot = np.eye(p.shape[1], dtype=np.int8)[y]
    return float(average_precision_score(onehot, p, average="macro", sample_weight=w))


# name -> (function, higher is better)
METRICS = {
    "focal": (focal_metric, False),
    "logloss": (logloss_metric, False),
    "error": (error_metric, False),
    "auc": (auc_metric, True),
    "aucpr": (aucpr_metric, True),
}


class _ScorerMetric:
    """A scikit-learn scorer (a name such as "average_precision" or a ``make_scorer`` object) as
    ``f(y_true, proba, sample_weight)`` plus its direction.

    Scorers are called with an estimator and X; here only the probabilities exist, so the scorer's
    score function is called on them directly, with the response it asks for: the probability of
    ``classes_[1]`` (binary, "predict_proba"/"decision_function" responses), the full matrix
    (multiclass), or the most probable class ("predict"). Its sign gives the direction.
    """

    def __init__(self, scorer, name):
        self.scorer = scorer
        self.__name__ = name
        self.greater_is_better = getattr(scorer, "_sign", 1) > 0

    def __call__(self, y_true, proba, sample_weight, classes=None):
        """The score of ``proba`` (columns in ``classes`` order; default: the sorted labels of y)."""
        scorer = self.scorer
        response = getattr(scorer, "_response_method", "predict")
        response = response if isinstance(response, str) else response[0]
        if response == "predict":
            classes = np.unique(y_true) if classes is None else np.asarray(classes)
            pred = classes[np.argmax(proba, axis=1)]
        elif proba.shape[1] == 2:
            pred = proba[:, 1]
        else:
            pred = proba
        kwargs = dict(getattr(scorer, "_kwargs", {}))
        if sample_weight is not None:
            kwargs["sample_weight"] = sample_weight
        return float(scorer._score_func(y_true, pred, **kwargs))


def _scorer(name_or_scorer):
    """A scikit-learn scorer from a registered name or a scorer object, else None."""
    from sklearn.metrics import get_scorer, get_scorer_names

    if isinstance(name_or_scorer, str):
        if name_or_scorer not in get_scorer_names():
            return None
        return _ScorerMetric(get_scorer(name_or_scorer), name_or_scorer)
    if hasattr(name_or_scorer, "_score_func") and hasattr(name_or_scorer, "_sign"):
        name = getattr(name_or_scorer._score_func, "__name__", "custom")
        return _ScorerMetric(name_or_scorer, name)
    return None


def check_eval_metric(eval_metric):
    """(metric, higher_is_better) for an ``eval_metric`` argument.

    None -> "focal"; a built-in name (its own direction); a scikit-learn scorer name such as
    "average_precision", "roc_auc" or "neg_log_loss", or a ``sklearn.metrics.make_scorer`` object
    (direction from the scorer: ``greater_is_better``); or a callable
    ``f(y_true, proba, sample_weight) -> float``, minimised unless it has an attribute
    ``greater_is_better = True``.
    """
    if eval_metric is None:
        return "focal", False
    if isinstance(eval_metric, str) and eval_metric in METRICS:
        return eval_metric, METRICS[eval_metric][1]
    scorer = _scorer(eval_metric)
    if scorer is not None:
        return scorer, scorer.greater_is_better
    if callable(eval_metric):
        greater = getattr(eval_metric, "greater_is_better", False)
        if not isinstance(greater, (bool, np.bool_)):
            raise TypeError(
                f"eval_metric.greater_is_better must be True or False, got {greater!r}"
            )
        return eval_metric, bool(greater)
    raise ValueError(
        f"eval_metric must be None (the focal loss), one of {', '.join(map(repr, METRICS))}, a scikit-learn "
        "scorer name (e.g. 'average_precision', 'neg_log_loss') or scorer object (sklearn.metrics.make_scorer), "
        "or a callable f(y_true, proba, sample_weight) -> float (minimised; set f.greater_is_better = True to "
        f"maximise); got {eval_metric!r}"
    )


def check_early_stopping_rounds(rounds, n_eval_sets):
    if rounds is None:
        return None
    if isinstance(rounds, bool) or not isinstance(rounds, (int, np.integer)) or rounds < 1:
        raise ValueError(f"early_stopping_rounds must be None or a positive integer, got {rounds!r}")
    if n_eval_sets == 0:
        raise ValueError(
            "early_stopping_rounds needs a validation set: pass eval_set=[(X_valid, y_valid)] to fit "
            "(the last eval set drives early stopping)"
        )
    return int(rounds)


class EvalRecorder:
    """History of one metric on each eval set, and the early-stopping rule.

    Rule: stop after ``rounds`` consecutive rounds without a strict improvement of the metric
    on the LAST eval set (XGBoost's convention); the best round is the first one that reached
    the best value. ``rounds=None`` records without stopping.
    """

    def __init__(self, metric, eval_sets, loss, to_proba, classes, rounds=None, n_jobs=None, higher_is_better=None):
        self.eval_sets = eval_sets  # list of (y_encoded int64, weights float64 or None)
        self.loss = loss
        self.to_proba = to_proba
        self.classes = classes
        self.rounds = rounds
        self.n_jobs = n_jobs
        if callable(metric):
            self.name = getattr(metric, "__name__", None) or "custom"
            if not self.name.isidentifier():  # lambdas, partials: keep log names parseable
                self.name = "custom"
            self.higher_is_better = check_eval_metric(metric)[1] if higher_is_better is None else higher_is_better
            self._fn = self._user_metric(metric)
        else:
            self.name = metric
            self._fn, self.higher_is_better = METRICS[metric]
        self.names = [f"validation_{i}" for i in range(len(eval_sets))]
        self.history = [[] for _ in eval_sets]
        self.best_iteration = None
        self.best_score = None
        self._since_best = 0

    def _user_metric(self, f):
        classes = self.classes

        if isinstance(f, _ScorerMetric):

            def call(y, w, margin, loss, to_proba):
                return f(classes[y], to_proba(margin), w, classes)

            return call

        def call(y, w, margin, loss, to_proba):
            return float(f(classes[y], to_proba(margin), w))

        return call

    def evaluate(self, index, margin):
        """Metric value of eval set ``index`` for this round's raw margin; recorded."""
        y, w = self.eval_sets[index]
        margin = np.asarray(margin)
        if margin.ndim == 1 and self.classes.shape[0] > 2:
            margin = margin.reshape(y.shape[0], -1)
        with kernel_threads(self.n_jobs, margin.size):
            value = self._fn(y, w, np.ascontiguousarray(margin), self.loss, self.to_proba)
        self.history[index].append(value)
        return value

    def after_round(self, iteration):
        """Update the best round from the last eval set; True when training should stop."""
        if not self.history:
            return False
        values = self.history[-1]
        if len(values) != iteration + 1:  # the library skipped an evaluation: never stop blindly
            return False
        value = values[-1]
        improved = not math.isnan(value) and (
            self.best_score is None
            or (value > self.best_score if self.higher_is_better else value < self.best_score)
        )
        if improved:
            self.best_score, self.best_iteration, self._since_best = value, iteration, 0
            return False
        self._since_best += 1
        return self.rounds is not None and self._since_best >= self.rounds

    def stalled_warning(self):
        """A message when early stopping kept the first round of a longer run, else None.

        That is what a score minimised by mistake looks like (a higher-is-better metric given as a
        plain callable), and also what a learning rate too large for the data looks like.
        """
        n_rounds = len(self.history[-1]) if self.history else 0
        if self.rounds is None or self.best_iteration != 0 or n_rounds < 2:
            return None
        direction = "maximised" if self.higher_is_better else "minimised"
        return (
            f"early stopping kept round 0 of {n_rounds}: eval_metric {self.name!r} ({direction}) never improved "
            "after the first round. If higher values of your metric are better, say so: pass a scikit-learn "
            "scorer name (e.g. eval_metric='average_precision') or set greater_is_better = True on the "
            "callable; otherwise lower learning_rate."
        )

    def results(self):
        """``{"validation_i": {metric_name: [value per round]}}``, like the libraries' evals_result."""
        return {name: {self.name: list(values)} for name, values in zip(self.names, self.history)}
