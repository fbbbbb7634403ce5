"""``FocalLGBMClassifier``: LightGBM trained on the focal loss, as a scikit-learn classifier.

Training goes through ``lgb.train`` with a closure objective and ``metric="None"`` (LightGBM's
default metric would score raw margins as if they were probabilities). The focal-optimal
starting score is given to every Dataset as ``init_score``; LightGBM does not store it in the
model, so the estimator adds ``init_score_`` back at predict time.
"""

import warnings

import numpy as np
from scipy import sparse

from ._base import FocalBoostClassifier, seed_from
from ._calibration import lightgbm_temperature_growth, lightgbm_temperature_slope

# estimator attribute -> LightGBM parameter
_BOOSTER_PARAMS = {
    "boosting_type": "boosting",
    "num_leaves": "num_leaves",
    "max_depth": "max_depth",
    "learning_rate": "learning_rate",
    "subsample_for_bin": "bin_construct_sample_cnt",
    "min_split_gain": "min_gain_to_split",
    "min_child_weight": "min_sum_hessian_in_leaf",
    "min_child_samples": "min_data_in_leaf",
    "subsample": "bagging_fraction",
    "subsample_freq": "bagging_freq",
    "colsample_bytree": "feature_fraction",
    "reg_alpha": "lambda_l1",
    "reg_lambda": "lambda_l2",
    "n_jobs": "num_threads",
    "verbose": "verbosity",
}

_OBJECTIVE = "it is always the focal loss (set gamma, alpha, hessian)"
_ROUNDS = "use n_estimators"
_STOPPING = "use early_stopping_rounds (with eval_set in fit)"
_METRIC = "use eval_metric"


def _import_lightgbm():
    try:
        import lightgbm
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "FocalLGBMClassifier needs lightgbm: pip install lightgbm (from a checkout: pip install '.[lightgbm]')"
        ) from exc
    return lightgbm


class FocalLGBMClassifier(FocalBoostClassifier):
    """LightGBM classifier trained on the focal loss (Lin et al. 2017), scikit-learn compatible.

    Binary or multiclass (softmax) is chosen from ``y``; labels may be any type.

    Parameters
    ----------
    gamma : float in [0, 50], default 2.0
        Focal focusing parameter (0 = cross-entropy).
    alpha : None, float, sequence, dict or "balanced", default None
        Class weights: a float is the weight of ``classes_[1]`` (binary; class 0 gets 1 - alpha);
        a sequence gives one weight per class in ``classes_`` order (any non-negative numbers: only
        their ratios matter); a dict maps class labels to weights; "balanced" uses inverse class
        frequencies of the training labels.
    hessian : {"bohning", "exact", "abs", "clip"}, default "bohning"
        Second-derivative safeguard (see :class:`boost_focal.FocalLoss`).
    probability : {"calibrated", "posterior", "raw"}, default "calibrated"
        What ``predict_proba`` returns. "calibrated": the class posterior of the tempered margin
        z / T + b (``temperature_``, ``margin_shift_``): T fitted on the last ``eval_set`` after
        training (under a weak prior centred on the rule that follows, early-stopped or not),
        or without one T = 1 + s min(gamma, 2) min(1, B / 10), B = learning_rate x trees
        (``boosting_budget_``: the sum of the trees' rates under a learning-rate schedule),
        s = 1/8 for two classes, 3/16 for more: 1.25 / 1.375 at gamma 2 from B = 10 on, nearer the
        exact posterior for few rounds; with two classes T keeps rising past B = 10 by
        (T_10 - 1) log10(B / 10) (1.37 at 300 rounds x 0.1), since LightGBM's margins keep
        spreading there; for
        two classes, b makes the mean
        probability on the training rows their class frequency, as logloss has it (multiclass: one
        b per class when the class alphas differ, else b = 0). See ``docs/math.md`` 7.2 and
        ``docs/calibration.md``; :meth:`calibrate` refits T and b on held-out rows. "posterior": the
        class posterior recovered from the focal margin as is. "raw": plain sigmoid/softmax of the
        margin. ``predict`` takes the most probable class of it.
    loss_scale : "auto" or float > 0, default "auto"
        Train on loss_scale * FL. "auto" (``loss_scale_``) makes the mean Hessian at the starting
        score equal to the library's own logloss Hessian at its starting score, so that Hessian
        thresholds and L2 penalties mean what they mean for the library's logloss classifier
        (focal Hessians are smaller by about alpha_t (1 - p_t)^gamma). 1.0 trains on the focal
        loss of Lin et al. as is. The minimiser, the starting score and the posterior do not depend
        on it.
    n_estimators : int, default 100
        Boosting rounds.
    eval_metric : None, "focal", "logloss", "error", "auc", "aucpr", a scikit-learn scorer, or callable
        Metric recorded on each ``eval_set`` (default: the focal loss). A scikit-learn scorer name
        ("average_precision", "roc_auc", "neg_log_loss", ...) or ``make_scorer`` object is maximised
        (its own direction). A callable ``f(y_true, proba, sample_weight)`` is minimised, unless it
        has an attribute ``greater_is_better = True``.
    early_stopping_rounds : int or None
        Stop after this many rounds without improvement of ``eval_metric`` on the last eval set;
        predictions then use the best round (``best_iteration_``).
    class_weight : dict, "balanced" or None
        Multiplies the sample weights, as in ``LGBMClassifier`` (alpha is the focal analogue;
        with ``alpha="balanced"`` as well the classes are re-weighted twice, and fit warns).
    scale_pos_weight : float or None
        Binary only: multiplies the weight of ``classes_[1]`` rows (applied to the gradients,
        unlike LightGBM with a custom objective, which ignores it; with ``alpha="balanced"`` as well
        the classes are re-weighted twice, and fit warns).
    verbose : int, default -1
        LightGBM's log level (-1 is silent).
    boosting_type, num_leaves, max_depth, learning_rate, subsample_for_bin, min_split_gain,
    min_child_weight, min_child_samples, subsample, subsample_freq, colsample_bytree, reg_alpha,
    reg_lambda, random_state, n_jobs, importance_type
        As in ``lightgbm.LGBMClassifier`` (same defaults).
    **kwargs
        Any other LightGBM parameter, passed through.

    Attributes
    ----------
    classes_, n_classes_, n_features_in_, feature_names_in_ (DataFrame input with string names)
    booster_ : lightgbm.Booster; its raw scores do NOT include the starting score (add
        ``init_score_``).
    init_score_ : float or ndarray (K,)
        The focal-optimal constant starting margin.
    alpha_, loss_, best_iteration_, n_estimators_, best_score_, evals_result_, feature_importances_
    loss_scale_ : float
        The factor the focal loss was multiplied by in training (see ``loss_scale``).
    temperature_ : float
        The focal temperature T of ``probability="calibrated"``.
    margin_shift_ : float or ndarray of shape (n_classes,)
        The shift b of ``probability="calibrated"`` (margin / T + b): a number for two classes;
        for more, one per class (mean zero), nonzero only when the class alphas differ.
    boosting_budget_ : float
        The sum of the learning rates of the trees kept (learning_rate x ``n_estimators_`` unless
        a callback changed the rate during training): the budget B of the temperature.
    """

    _library_name = "LightGBM"
    _engine = "lightgbm"
    _reserved_params = {
        **dict.fromkeys(("objective", "objective_type", "app", "application", "loss"), _OBJECTIVE),
        **dict.fromkeys(("metric", "metrics", "metric_types"), _METRIC),
        **dict.fromkeys(("num_class", "num_classes"), "the number of classes comes from y"),
        **dict.fromkeys(
            ("num_iterations", "num_iteration", "n_iter", "num_tree", "num_trees", "num_round", "num_rounds",
             "nrounds", "num_boost_round", "max_iter"),
            _ROUNDS,
        ),
        **dict.fromkeys(("early_stopping_round", "early_stopping", "n_iter_no_change"), _STOPPING),
        **dict.fromkeys(("is_unbalance", "unbalance", "unbalanced_sets"), "use alpha='balanced' or class_weight"),
        "init_score": "the starting score is the focal-optimal constant (init_score_)",
        "boost_from_average": "the starting score is the focal-optimal constant (init_score_)",
    }

    def __init__(
        self,
        *,
        gamma=2.0,
        alpha=None,
        hessian="bohning",
        probability="calibrated",
        loss_scale="auto",
        boosting_type="gbdt",
        num_leaves=31,
        max_depth=-1,
        learning_rate=0.1,
        n_estimators=100,
        subsample_for_bin=200000,
        class_weight=None,
        min_split_gain=0.0,
        min_child_weight=1e-3,
        min_child_samples=20,
        subsample=1.0,
        subsample_freq=0,
        colsample_bytree=1.0,
        reg_alpha=0.0,
        reg_lambda=0.0,
        scale_pos_weight=None,
        random_state=None,
        n_jobs=None,
        importance_type="split",
        verbose=-1,
        eval_metric=None,
        early_stopping_rounds=None,
        **kwargs,
    ):
        self.gamma = gamma
        self.alpha = alpha
        self.hessian = hessian
        self.probability = probability
        self.loss_scale = loss_scale
        self.boosting_type = boosting_type
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.n_estimators = n_estimators
        self.subsample_for_bin = subsample_for_bin
        self.class_weight = class_weight
        self.min_split_gain = min_split_gain
        self.min_child_weight = min_child_weight
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.subsample_freq = subsample_freq
        self.colsample_bytree = colsample_bytree
        self.reg_alpha = reg_alpha
        self.reg_lambda = reg_lambda
        self.scale_pos_weight = scale_pos_weight
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.importance_type = importance_type
        self.verbose = verbose
        self.eval_metric = eval_metric
        self.early_stopping_rounds = early_stopping_rounds
        self._extra_params = kwargs

    # ------------------------------------------------------------ public API
    def fit(
        self,
        X,
        y,
        sample_weight=None,
        *,
        eval_set=None,
        eval_X=None,
        eval_y=None,
        eval_sample_weight=None,
        categorical_feature="auto",
        callbacks=None,
        init_model=None,
        init_score=None,
        eval_init_score=None,
        eval_class_weight=None,
        eval_names=None,
        feature_name="auto",
        eval_metric=None,
    ):
        """Fit on X (array, sparse matrix or DataFrame with categorical columns) and labels y.

        ``eval_set``: list of (X, y) pairs scored with ``eval_metric`` each round (the last one
        drives early stopping), or, as in LightGBM >= 4.7, ``eval_X`` and ``eval_y`` (one each,
        or tuples of them); ``eval_sample_weight``: one weight array (or None) per eval set;
        ``categorical_feature`` and ``callbacks`` as in ``lightgbm.train``.
        """
        _refuse_fit_arguments(init_model=init_model, init_score=init_score, eval_init_score=eval_init_score,
                              eval_class_weight=eval_class_weight, eval_names=eval_names,
                              eval_metric=eval_metric)
        if feature_name != "auto":
            raise ValueError("fit(feature_name=...) is not supported: pass a pandas DataFrame with column names")
        if eval_X is not None or eval_y is not None:
            if eval_set is not None:
                raise ValueError("pass either eval_set or eval_X/eval_y, not both")
            xs = eval_X if isinstance(eval_X, tuple) else (eval_X,)
            ys = eval_y if isinstance(eval_y, tuple) else (eval_y,)
            if eval_X is None or eval_y is None or len(xs) != len(ys):
                raise ValueError("eval_X and eval_y must be given together, one y per X")
            eval_set = list(zip(xs, ys))
        return self._fit(
            X,
            y,
            sample_weight,
            eval_set,
            eval_sample_weight,
            categorical_feature=categorical_feature,
            callbacks=callbacks,
        )

    # ------------------------------------------------------------ LGBMClassifier parity
    def predict_proba(self, X, raw_score=False, start_iteration=0, num_iteration=None, pred_leaf=False,
                      pred_contrib=False, validate_features=False, **kwargs):
        """Class probabilities (n, n_classes); the options as in ``LGBMClassifier.predict_proba``:
        ``raw_score`` returns margins (starting score included), ``pred_leaf`` leaf indices,
        ``pred_contrib`` SHAP values of the margin whose bias column includes the starting score;
        ``start_iteration``/``num_iteration`` choose the rounds (default: up to best_iteration_ + 1)."""
        out = self._special_prediction(X, raw_score, start_iteration, num_iteration, pred_leaf, pred_contrib, kwargs)
        return out if out is not None else self._proba_from_margin(self._window(X, start_iteration, num_iteration))

    def predict(self, X, raw_score=False, start_iteration=0, num_iteration=None, pred_leaf=False,
                pred_contrib=False, validate_features=False, **kwargs):
        """The most probable class (a label of ``classes_``), or the ``predict_proba`` options' output."""
        out = self._special_prediction(X, raw_score, start_iteration, num_iteration, pred_leaf, pred_contrib, kwargs)
        if out is not None:
            return out
        proba = self._proba_from_margin(self._window(X, start_iteration, num_iteration))
        return self.classes_[np.argmax(proba, axis=1)]

    def _window(self, X, start_iteration, num_iteration):
        if num_iteration is not None and num_iteration <= 0:
            num_iteration = None  # LightGBM: <= 0 means "the best iteration or all"
        stop = None if num_iteration is None else start_iteration + num_iteration
        return self._margin_window(X, start_iteration, stop)

    def _special_prediction(self, X, raw_score, start_iteration, num_iteration, pred_leaf, pred_contrib, kwargs):
        if kwargs:
            raise TypeError(
                f"unsupported predict option(s) {sorted(kwargs)}: threads come from n_jobs; see docs/parity.md"
            )
        if raw_score:
            return self._window(X, start_iteration, num_iteration)
        if not (pred_leaf or pred_contrib):
            return None
        start, stop = self._round_window(start_iteration, None if not num_iteration or num_iteration <= 0
                                         else start_iteration + num_iteration)
        X = self._validate_X(X, reset=False)
        threads = {} if self.n_jobs is None else {"num_threads": self.n_jobs}
        out = self.booster_.predict(_spmatrix(X), start_iteration=start, num_iteration=stop - start,
                                    pred_leaf=bool(pred_leaf), pred_contrib=bool(pred_contrib) and not pred_leaf,
                                    validate_features=False, **threads)
        if pred_leaf or sparse.issparse(out):
            return out
        out = np.asarray(out, dtype=np.float64)
        width = self.n_features_in_ + 1
        if self.n_classes_ > 2:  # LightGBM: (n, K * (n_features + 1)), bias last in each block
            out = out.reshape(out.shape[0], self.n_classes_, width)
            out[:, :, -1] += self.init_score_
            return out.reshape(out.shape[0], -1)
        out[:, -1] += self.init_score_
        return out

    @property
    def n_features_(self):
        """As ``LGBMClassifier.n_features_``."""
        return self.n_features_in_

    @property
    def feature_name_(self):
        """As ``LGBMClassifier.feature_name_``: the booster's feature names."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        return self.booster_.feature_name()

    @property
    def n_iter_(self):
        """As ``LGBMClassifier.n_iter_``: rounds predictions use."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        return self.n_estimators_

    @property
    def objective_(self):
        """What ``LGBMClassifier.objective_`` names: here always the focal loss (``loss_``)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        return self.loss_

    @property
    def feature_importances_(self):
        """Importance per feature (``importance_type``: "split" counts or total "gain"), as LightGBM."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        return self.booster_.feature_importance(importance_type=self.importance_type)

    # ------------------------------------------------------------ library hooks
    def _import_library(self):
        return _import_lightgbm()

    def _file_margin_offset(self):
        return self.init_score_  # LightGBM never stores the starting score itself

    _learning_rate_names = ("learning_rate", "shrinkage_rate", "eta")
    _default_learning_rate = 0.1  # LightGBM's

    def _temperature_slope(self):
        # LightGBM's multiclass margins over-shoot more than its binary ones (docs/calibration_choice.md)
        return lightgbm_temperature_slope(self.n_classes_)

    def _temperature_growth(self):
        # with LightGBM's L2 penalty of 0 its binary margins keep spreading past B = 10
        return lightgbm_temperature_growth(self.n_classes_)

    def _check_extra_params(self):
        extra = super()._check_extra_params()
        known = _known_lightgbm_params()
        unknown = sorted(k for k in extra if known is not None and k not in known)
        if unknown:
            # LightGBM only logs unknown parameters, and not at verbose=-1: a typo would vanish.
            raise ValueError(
                f"unknown LightGBM parameter(s) {unknown}; see "
                "https://lightgbm.readthedocs.io/en/latest/Parameters.html"
            )
        boosting = next((extra[k] for k in ("boosting", "boosting_type", "boost") if k in extra), self.boosting_type)
        if boosting in ("rf", "random_forest"):
            # LightGBM's random forest fits every tree to the gradients of one constant start with a
            # built-in objective; it takes neither a custom objective nor an init score.
            raise ValueError(
                f"boosting_type={boosting!r} is not supported: LightGBM's random forest mode takes no custom "
                "objective. Use boosting_type='gbdt' (or 'dart') with row and column subsampling (subsample, "
                "subsample_freq, colsample_bytree) instead"
            )
        return extra

    def _booster_params(self, extra, objective):
        """The ``params`` dict for ``lgb.train`` (a Dask variant can reuse it as is)."""
        params = {"objective": objective, "metric": "None"}
        if self.n_classes_ > 2:
            params["num_class"] = self.n_classes_
        for attr, key in _BOOSTER_PARAMS.items():
            value = getattr(self, attr)
            if value is not None:
                params[key] = value
        seed = seed_from(self.random_state)
        if seed is not None:
            params["seed"] = seed
        params.update(extra)
        return params

    def _init_scores(self, n):
        """The starting margin for n rows: shape (n,) binary, (n, K) multiclass."""
        return np.broadcast_to(self.init_score_, (n,) + np.shape(self.init_score_)).copy()

    def _train_booster(self, X, y, w, evals, objective, recorder, n_estimators, extra, verbose, rates,
                       categorical_feature="auto", callbacks=None):
        lgb = _import_lightgbm()
        params = self._booster_params(extra, lambda preds, dataset: objective(preds))
        data_params = {**params, "objective": "none"}  # the Dataset takes no callable
        dtrain = lgb.Dataset(
            _spmatrix(X), label=y, weight=w if w.size else None, init_score=self._init_scores(X.shape[0]),
            categorical_feature=categorical_feature, params=data_params,
        ).construct()
        if not _has_splittable_feature(dtrain):
            # LightGBM aborts a custom-objective fit when binning left no usable feature (tiny
            # data with min_child_samples, constant columns). No split is possible, so the
            # best model is the starting score alone: a booster with zero trees.
            warnings.warn(
                f"no feature of X can be split (n_rows={X.shape[0]}, min_child_samples="
                f"{self.min_child_samples}): the model is the constant starting score. Lower "
                "min_child_samples (and min_data_in_bin) or add data for trees to be grown.",
                UserWarning,
                stacklevel=4,
            )
            return lgb.Booster(params=data_params, train_set=dtrain)
        dvalid = [
            lgb.Dataset(_spmatrix(Xe), label=ye, weight=we, init_score=self._init_scores(Xe.shape[0]), reference=dtrain,
                        categorical_feature=categorical_feature)
            for Xe, ye, we in evals
        ]
        callbacks = [*_rate_loggers(rates), *(callbacks or [])]
        feval = None
        if dvalid:
            index = {id(d): i for i, d in enumerate(dvalid)}

            def feval(preds, dataset):
                return recorder.name, recorder.evaluate(index[id(dataset)], preds), recorder.higher_is_better

            callbacks.append(_stopper(lgb, recorder))
        booster = self._call_train(lgb, params, dtrain, n_estimators, dvalid, recorder.names, feval, callbacks)
        # The closure objective would make the booster unpicklable (and it holds the labels).
        booster.params.pop("objective", None)
        return booster

    def _call_train(self, lgb, params, dtrain, n_estimators, dvalid, names, feval, callbacks):
        """The single call into LightGBM's trainer (swap point for a distributed variant)."""
        return lgb.train(
            params,
            dtrain,
            num_boost_round=n_estimators,
            valid_sets=dvalid or None,
            valid_names=names or None,
            feval=feval,
            callbacks=callbacks or None,
        )

    _hessian_threshold_names = "min_child_weight (min_sum_hessian_in_leaf)"

    def _n_splits(self):
        return int(self.booster_.feature_importance(importance_type="split").sum())

    def _logloss_hessian_factor(self):
        return self.n_classes_ / (self.n_classes_ - 1.0)  # multiclass: K/(K-1) p (1 - p)

    def _rounds_trained(self):
        return self.booster_.current_iteration()

    def _predict_margin(self, X, n_rounds, start=0):
        # num_threads as in training: without it LightGBM predicts on every core, and a process
        # forked after such a call hangs in its first OpenMP region (libgomp is not fork-safe).
        threads = {} if self.n_jobs is None else {"num_threads": self.n_jobs}
        raw = self.booster_.predict(
            _spmatrix(X), raw_score=True, start_iteration=start, num_iteration=n_rounds - start,
            validate_features=False, **threads
        )
        raw = np.asarray(raw, dtype=np.float64)
        if self.n_classes_ > 2:
            raw = raw.reshape(X.shape[0], self.n_classes_)
        return raw + self.init_score_


def _refuse_fit_arguments(**given):
    reasons = {
        "init_model": "warm start is not supported: alpha='balanced' and the starting score are fitted on the "
                      "new data and would not match the old trees; fit with more n_estimators, or continue a "
                      "booster with lgb.train({'objective': FocalLoss(...)}, dataset, init_model=booster)",
        "init_score": "the starting score is the fitted focal-optimal constant (init_score_); for per-row "
                      "offsets use lgb.train with Dataset(init_score=...)",
        "eval_init_score": "the eval sets start from init_score_ like the training data",
        "eval_class_weight": "pass eval sample weights (eval_sample_weight) instead",
        "eval_names": "the eval sets are named validation_0, validation_1, ... (evals_result_ keys)",
        "eval_metric": "set eval_metric in the constructor (FocalLGBMClassifier(eval_metric=...))",
    }
    for name, value in given.items():
        if value is not None:
            raise ValueError(f"fit({name}=...) is not supported: {reasons[name]}")


def _known_lightgbm_params():
    """Every LightGBM parameter name and alias (None if this LightGBM cannot list them)."""
    try:
        from lightgbm.basic import _ConfigAliases

        aliases = _ConfigAliases._get_all_param_aliases()
    except Exception:  # pragma: no cover - a private helper of LightGBM; skip the check if it moved
        return None
    return {name for names in aliases.values() for name in names} | set(aliases)


def _spmatrix(X):
    """LightGBM reads scipy sparse matrices but not the newer sparse arrays (csr_array)."""
    if sparse.issparse(X) and not sparse.isspmatrix(X):
        return sparse.csr_matrix(X) if X.format == "csr" else sparse.csc_matrix(X)
    return X


def _has_splittable_feature(dataset):
    """True when binning kept at least one feature with two or more bins."""
    return any(dataset.feature_num_bin(i) > 1 for i in range(dataset.num_feature()))


def _rate_loggers(rates):
    """LightGBM callbacks that record each round's learning rate in ``rates`` (a RateLog): one
    before every other callback of a round (it wraps reset_parameter, which lightgbm.reset_parameter
    calls before each round), one first after it (the round's rate, before any callback changes it).
    LightGBM runs callbacks by ``order``, and gives those without one orders -len(callbacks)..-1."""

    def install(env):
        rates.install(env.model, "reset_parameter")

    def record(env):
        rates.round_done()

    install.order = record.order = -(2**31)
    install.before_iteration = True
    return install, record


def _stopper(lgb, recorder):
    """A LightGBM callback that applies the recorder's early-stopping rule after each round."""
    best = {"results": []}

    def callback(env):
        iteration = env.iteration - env.begin_iteration
        stop = recorder.after_round(iteration)
        if recorder.best_iteration == iteration:
            best["results"] = list(env.evaluation_result_list)
        if stop:
            raise lgb.callback.EarlyStopException(recorder.best_iteration, best["results"])

    callback.order = 30  # after LightGBM's own logging/recording callbacks
    return callback


__all__ = ["FocalLGBMClassifier"]
