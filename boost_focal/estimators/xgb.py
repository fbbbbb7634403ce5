"""``FocalXGBClassifier``: XGBoost trained on the focal loss, as a scikit-learn classifier.

Training goes through ``xgb.train`` with a closure objective, so the estimator controls what
``XGBClassifier`` gets wrong with custom objectives: labels are encoded once from ``classes_``,
the starting score is the focal-optimal constant stored in the model as ``base_score``
(``binary:logistic`` takes sigmoid(start); ``multi:softprob`` takes the raw margin vector on
XGBoost >= 3.1), sample weights reach the gradients, and early stopping follows the focal metric.
"""

import copy
import re
import warnings

import numpy as np
from scipy import sparse, special

from .._validation import check_gamma
from ._base import FocalBoostClassifier, seed_from
from ._calibration import xgboost_temperature_slope
from ._scale import xgboost_reg_lambda

# estimator attribute -> XGBoost booster parameter (None values are left to XGBoost's defaults)
_BOOSTER_PARAMS = {
    "learning_rate": "eta",
    "max_depth": "max_depth",
    "max_leaves": "max_leaves",
    "max_bin": "max_bin",
    "grow_policy": "grow_policy",
    "min_child_weight": "min_child_weight",
    "min_split_loss": "gamma",  # XGBoost's own "gamma"; ours is the focal gamma
    "max_delta_step": "max_delta_step",
    "subsample": "subsample",
    "sampling_method": "sampling_method",
    "colsample_bytree": "colsample_bytree",
    "colsample_bylevel": "colsample_bylevel",
    "colsample_bynode": "colsample_bynode",
    "reg_alpha": "alpha",  # XGBoost's own "alpha" (L1); ours is the focal alpha
    "reg_lambda": "lambda",
    "tree_method": "tree_method",
    "device": "device",
    "n_jobs": "nthread",
    "verbosity": "verbosity",
    "max_cat_to_onehot": "max_cat_to_onehot",
    "max_cat_threshold": "max_cat_threshold",
    "monotone_constraints": "monotone_constraints",
    "interaction_constraints": "interaction_constraints",
}

# keyword arguments that belong to the DMatrix, not to the booster
_DATA_KWARGS = ("feature_types", "feature_weights")

# largest |start| whose sigmoid survives XGBoost's float32 base_score strictly inside (0, 1)
_MAX_STORED_LOGIT = 15.0


def _import_xgboost():
    try:
        import xgboost
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "FocalXGBClassifier needs xgboost: pip install xgboost (from a checkout: pip install '.[xgboost]')"
        ) from exc
    return xgboost


def stores_vector_intercept(xgb):
    """XGBoost >= 3.1 keeps a per-class base_score vector for multi:softprob."""
    major, minor = (int(p) for p in re.findall(r"\d+", xgb.__version__)[:2])
    return (major, minor) >= (3, 1)


class FocalXGBClassifier(FocalBoostClassifier):
    """XGBoost classifier trained on the focal loss (Lin et al. 2017), scikit-learn compatible.

    Binary or multiclass (softmax) is chosen from ``y``; labels may be any type.

    Parameters
    ----------
    gamma : float in [0, 50], default 2.0
        Focal focusing parameter (0 = cross-entropy). NOT XGBoost's ``gamma``: the minimum
        split loss is ``min_split_loss`` here.
    alpha : None, float, sequence, dict or "balanced", default None
        Class weights: a float is the weight of ``classes_[1]`` (binary; class 0 gets 1 - alpha);
        a sequence gives one weight per class in ``classes_`` order (any non-negative numbers: only
        their ratios matter); a dict maps class labels to weights; "balanced" uses inverse class
        frequencies of the training labels. NOT XGBoost's
        ``alpha`` (L1 penalty), which is ``reg_alpha`` here.
    hessian : {"bohning", "exact", "abs", "clip"}, default "bohning"
        Second-derivative safeguard (see :class:`boost_focal.FocalLoss`).
    probability : {"calibrated", "posterior", "raw"}, default "calibrated"
        What ``predict_proba`` returns. "calibrated": the class posterior of the tempered margin
        z / T + b (``temperature_``, ``margin_shift_``): T fitted on the last ``eval_set`` after
        training (under a weak prior centred on the rule that follows, early-stopped or not),
        or without one T = 1 + s min(gamma, 2) min(1, B / 10), B = learning_rate x trees
        (``boosting_budget_``: the sum of the trees' rates under a learning-rate schedule),
        s = 3/32 for two classes, 3/16 for 3-6 and 3/16 (6 / K)^2 for K > 6 classes: 1.1875 / 1.375
        at gamma 2 from B = 10 on (1.14 at K = 10), nearer the exact posterior for few rounds;
        for two classes, b makes the mean
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
        (its own direction). A callable is called as ``f(y_true, proba, sample_weight)`` (original
        labels, ``predict_proba`` output, weights or None) and minimised, unless it has an
        attribute ``greater_is_better = True``.
    early_stopping_rounds : int or None
        Stop after this many rounds without improvement of ``eval_metric`` on the last eval set;
        predictions then use the best round (``best_iteration_``).
    scale_pos_weight : float or None
        Binary only: multiplies the weight of ``classes_[1]`` rows (applied to the gradients,
        unlike XGBoost with a custom objective, which ignores it; with ``alpha="balanced"`` as well
        the classes are re-weighted twice, and fit warns).
    enable_categorical : bool, default True
        Let pandas categorical columns be split natively.
    missing : float, default NaN
        Value treated as missing.
    importance_type : str or None
        For ``feature_importances_`` (XGBoost's default "gain" when None).
    callbacks : list of xgboost.callback.TrainingCallback or None
        Extra XGBoost callbacks (copied for each fit).
    learning_rate, max_depth, max_leaves, max_bin, grow_policy, min_child_weight, min_split_loss,
    max_delta_step, subsample, sampling_method, colsample_bytree, colsample_bylevel,
    colsample_bynode, reg_alpha, tree_method, device, n_jobs, random_state, verbosity,
    max_cat_to_onehot, max_cat_threshold, monotone_constraints, interaction_constraints
        As in ``xgboost.XGBClassifier`` (None = XGBoost's default).
    reg_lambda : float or None
        XGBoost's L2 penalty on leaf values. None: ``1 + 2 min(gamma, 2)`` (5 at the default
        gamma = 2, 1 at gamma = 0) with ``loss_scale="auto"`` and a tree booster, else XGBoost's
        own default of 1. Focal Hessians are concentrated on the hard rows, so a few of them make
        a leaf whose value lambda = 1 barely shrinks; with 5 the default probabilities were within
        1.05x of ``XGBClassifier``'s on more of the real tables measured
        (``docs/calibration_choice.md``, "XGBoost's reg_lambda under focal loss").
        ``get_xgb_params()`` shows the value used.
    **kwargs
        Any other XGBoost booster parameter, passed through (``feature_types`` and
        ``feature_weights`` go to the training DMatrix).

    Attributes
    ----------
    classes_, n_classes_, n_features_in_, feature_names_in_ (DataFrame input with string names)
    booster_ : xgboost.Booster (also ``get_booster()``); its margins include the starting score
        except for multiclass on XGBoost < 3.1 (then add ``init_score_``).
    init_score_ : float or ndarray (K,)
        The focal-optimal constant starting margin.
    alpha_ : ndarray (K,)
        Per-class alpha used in training ("balanced" resolved).
    loss_ : FocalLoss
        The loss trained on (``loss_.posterior(margin)`` is the posterior).
    best_iteration_, n_estimators_, best_score_, evals_result_, feature_importances_
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

    _library_name = "XGBoost"
    _engine = "xgboost"
    # + the per-row start added at predict time when the booster cannot store it (see _start)
    _saved_attributes = FocalBoostClassifier._saved_attributes + ("_margin_offset",)
    _reserved_params = {
        "objective": "it is always the focal loss (set gamma, alpha, hessian)",
        "obj": "it is always the focal loss (set gamma, alpha, hessian)",
        "base_score": "the starting score is the focal-optimal constant (init_score_)",
        "num_class": "the number of classes comes from y",
        "num_boost_round": "use n_estimators",
        "custom_metric": "use eval_metric",
        "feval": "use eval_metric",
    }

    def __init__(
        self,
        *,
        gamma=2.0,
        alpha=None,
        hessian="bohning",
        probability="calibrated",
        loss_scale="auto",
        n_estimators=100,
        learning_rate=None,
        max_depth=None,
        max_leaves=None,
        max_bin=None,
        grow_policy=None,
        min_child_weight=None,
        min_split_loss=None,
        max_delta_step=None,
        subsample=None,
        sampling_method=None,
        colsample_bytree=None,
        colsample_bylevel=None,
        colsample_bynode=None,
        reg_alpha=None,
        reg_lambda=None,
        scale_pos_weight=None,
        tree_method=None,
        device=None,
        n_jobs=None,
        random_state=None,
        verbosity=None,
        missing=np.nan,
        enable_categorical=True,
        max_cat_to_onehot=None,
        max_cat_threshold=None,
        monotone_constraints=None,
        interaction_constraints=None,
        importance_type=None,
        eval_metric=None,
        early_stopping_rounds=None,
        callbacks=None,
        **kwargs,
    ):
        self.gamma = gamma
        self.alpha = alpha
        self.hessian = hessian
        self.probability = probability
        self.loss_scale = loss_scale
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.max_leaves = max_leaves
        self.max_bin = max_bin
        self.grow_policy = grow_policy
        self.min_child_weight = min_child_weight
        self.min_split_loss = min_split_loss
        self.max_delta_step = max_delta_step
        self.subsample = subsample
        self.sampling_method = sampling_method
        self.colsample_bytree = colsample_bytree
        self.colsample_bylevel = colsample_bylevel
        self.colsample_bynode = colsample_bynode
        self.reg_alpha = reg_alpha
        self.reg_lambda = reg_lambda
        self.scale_pos_weight = scale_pos_weight
        self.tree_method = tree_method
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbosity = verbosity
        self.missing = missing
        self.enable_categorical = enable_categorical
        self.max_cat_to_onehot = max_cat_to_onehot
        self.max_cat_threshold = max_cat_threshold
        self.monotone_constraints = monotone_constraints
        self.interaction_constraints = interaction_constraints
        self.importance_type = importance_type
        self.eval_metric = eval_metric
        self.early_stopping_rounds = early_stopping_rounds
        self.callbacks = callbacks
        self._extra_params = kwargs

    # ------------------------------------------------------------ public API
    def fit(self, X, y, sample_weight=None, *, eval_set=None, sample_weight_eval_set=None, verbose=False,
            xgb_model=None, base_margin=None, base_margin_eval_set=None, feature_weights=None):
        """Fit on X (array, sparse matrix or DataFrame) and labels y.

        ``eval_set``: list of (X, y) pairs scored with ``eval_metric`` each round (the last one
        drives early stopping); ``sample_weight_eval_set``: one weight array (or None) per pair;
        ``verbose``: print the evaluation every round (True) or every ``verbose`` rounds.
        ``xgb_model`` (warm start), ``base_margin``/``base_margin_eval_set`` and
        ``feature_weights`` (pass it as a constructor keyword) are refused with the reason: see
        docs/parity.md.
        """
        _refuse_fit_arguments(xgb_model=xgb_model, base_margin=base_margin,
                              base_margin_eval_set=base_margin_eval_set, feature_weights=feature_weights)
        return self._fit(X, y, sample_weight, eval_set, sample_weight_eval_set, verbose)

    # ------------------------------------------------------------ XGBClassifier parity
    @property
    def best_iteration(self):
        """As ``XGBClassifier.best_iteration``: the round predictions use (``best_iteration_``)."""
        if not hasattr(self, "best_iteration_"):
            raise AttributeError("best_iteration: the estimator is not fitted")
        return self.best_iteration_

    @property
    def best_score(self):
        """As ``XGBClassifier.best_score``: the eval metric at ``best_iteration`` (None without eval_set)."""
        if not hasattr(self, "best_score_"):
            raise AttributeError("best_score: the estimator is not fitted")
        return self.best_score_

    def evals_result(self):
        """As ``XGBClassifier.evals_result()``: {eval set name: {metric name: [value per round]}}."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        return self.evals_result_

    def get_xgb_params(self):
        """The XGBoost booster parameters the estimator's parameters map to (objective, base_score
        and num_class are added in fit)."""
        params = self._booster_params_for_check(dict(getattr(self, "_extra_params", {})))
        params.pop("objective")
        return params

    def get_num_boosting_rounds(self):
        """Rounds predictions use (``n_estimators_``; XGBClassifier returns the parameter)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        return self.n_estimators_

    def predict_proba(self, X, validate_features=True, base_margin=None, iteration_range=None):
        """Class probabilities (n, n_classes) in ``classes_`` order; ``iteration_range=(start, stop)``
        uses those rounds only (default: up to ``best_iteration`` + 1), as in XGBClassifier."""
        _refuse_base_margin(base_margin)
        return self._proba_from_margin(self._margin_window(X, *_iteration_range(iteration_range)))

    def predict(self, X, output_margin=False, validate_features=True, base_margin=None, iteration_range=None):
        """The most probable class (a label of ``classes_``); ``output_margin=True`` returns the
        raw margins (starting score included) instead, as XGBClassifier does."""
        _refuse_base_margin(base_margin)
        margin = self._margin_window(X, *_iteration_range(iteration_range))
        if output_margin:
            return margin
        return self.classes_[np.argmax(self._proba_from_margin(margin), axis=1)]

    def apply(self, X, iteration_range=None):
        """Leaf index of every row in every tree, as ``XGBClassifier.apply``."""
        start, stop = self._round_window(*_iteration_range(iteration_range))
        X = self._validate_X(X, reset=False)
        xgb = _import_xgboost()
        data = xgb.DMatrix(X, missing=self.missing, enable_categorical=self.enable_categorical, nthread=self.n_jobs)
        return self.booster_.predict(data, pred_leaf=True, iteration_range=(start, stop), validate_features=False)

    def predict_contribs(self, X, iteration_range=None):
        """SHAP values of the margin, (n, n_features + 1) or (n, K, n_features + 1); the last
        column is the bias, starting score included, so each row sums to ``decision_function``.
        (XGBClassifier has none: its users call ``get_booster().predict(..., pred_contribs=True)``.)"""
        start, stop = self._round_window(*_iteration_range(iteration_range))
        X = self._validate_X(X, reset=False)
        xgb = _import_xgboost()
        data = xgb.DMatrix(X, missing=self.missing, enable_categorical=self.enable_categorical, nthread=self.n_jobs)
        contribs = np.asarray(
            self.booster_.predict(data, pred_contribs=True, iteration_range=(start, stop), validate_features=False),
            dtype=np.float64,
        )
        if self._margin_offset is not None:
            contribs[..., -1] += self._margin_offset
        return contribs

    @property
    def coef_(self):
        raise AttributeError(
            "coef_ exists only for booster='gblinear' in XGBClassifier; FocalXGBClassifier does not expose it: "
            "read get_booster().get_dump() for a linear booster"
        )

    @property
    def intercept_(self):
        raise AttributeError(
            "intercept_: the starting margin of FocalXGBClassifier is init_score_ (the focal-optimal constant)"
        )

    def get_booster(self):
        """The trained ``xgboost.Booster`` (as in ``XGBClassifier``)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        return self.booster_

    @property
    def feature_importances_(self):
        """Importance per feature (``importance_type``, default "gain"), normalised to sum to 1."""
        booster = self.get_booster()
        scores = booster.get_score(importance_type=self.importance_type or "gain")
        names = booster.feature_names or [f"f{i}" for i in range(self.n_features_in_)]
        values = np.array([scores.get(name, 0.0) for name in names], dtype=np.float32)
        total = values.sum()
        return values / total if total > 0 else values

    # ------------------------------------------------------------ library hooks
    def _import_library(self):
        return _import_xgboost()

    def _check_extra_params(self):
        extra = super()._check_extra_params()
        # Only the keywords are configured: named parameters may depend on the data (constraints
        # per feature) that the 2-row check booster lacks, and their names are known anyway.
        unknown = _unused_xgboost_params(self._booster_params_for_check(extra, named=False), extra)
        if unknown:
            # XGBoost only logs a warning for a parameter it does not use: a typo would vanish.
            raise ValueError(
                f"unknown XGBoost parameter(s) {unknown} (or not used by this booster); see "
                "https://xgboost.readthedocs.io/en/stable/parameter.html"
            )
        return extra

    def _booster_params_for_check(self, extra, named=True):
        """Booster parameters of the estimator's parameters (``named``) and keywords, no device."""
        params = {"objective": "binary:logistic", "disable_default_eval_metric": 1}
        for attr, key in _BOOSTER_PARAMS.items():
            value = getattr(self, attr)
            if named and value is not None and key != "device":  # no device needed to name parameters
                params[key] = value
        default_lambda = self._default_reg_lambda(extra) if named else None
        if default_lambda is not None:
            params["lambda"] = default_lambda
        params.update({k: v for k, v in extra.items() if k not in _DATA_KWARGS and k != "device"})
        return params

    def _file_margin_offset(self):
        return self._margin_offset

    _learning_rate_names = ("eta", "learning_rate")
    _default_learning_rate = 0.3  # XGBoost's eta

    def _temperature_slope(self):
        # XGBoost's margins over-shoot less than LightGBM's with two classes and with many
        # (docs/calibration_choice.md)
        return xgboost_temperature_slope(self.n_classes_)

    def _after_load(self):
        # A model file keeps no thread count: predict with n_jobs threads, as after fit.
        if self.n_jobs is not None:
            self.booster_.set_param({"nthread": self.n_jobs})

    def _use_quantile_dmatrix(self, extra):
        return self.tree_method in (None, "hist", "auto") and extra.get("booster") != "gblinear"

    def _start(self, xgb):
        """(base_score for the booster or None, per-row offset the DMatrix must carry or None)."""
        start = self.init_score_
        if self.n_classes_ == 2:
            if abs(start) <= _MAX_STORED_LOGIT:
                return float(special.expit(start)), None
            return None, float(start)
        if stores_vector_intercept(xgb):
            return [float(v) for v in start], None
        return None, np.asarray(start, dtype=np.float64)

    def _booster_params(self, extra, base_score):
        """The ``params`` dict for ``xgb.train`` (a Dask variant can reuse it as is)."""
        params = {
            "objective": "binary:logistic" if self.n_classes_ == 2 else "multi:softprob",
            "disable_default_eval_metric": 1,
        }
        if self.n_classes_ > 2:
            params["num_class"] = self.n_classes_
        # XGBoost needs a base_score strictly inside (0, 1) for binary:logistic; when the
        # start is stored per row instead, 0.5 makes the booster's own offset exactly 0.
        params["base_score"] = base_score if base_score is not None else (0.5 if self.n_classes_ == 2 else 0.0)
        for attr, key in _BOOSTER_PARAMS.items():
            value = getattr(self, attr)
            if value is not None:
                params[key] = value
        default_lambda = self._default_reg_lambda(extra)
        if default_lambda is not None:
            params["lambda"] = default_lambda
        seed = seed_from(self.random_state)
        if seed is not None:
            params["seed"] = seed
        params.update({k: v for k, v in extra.items() if k not in _DATA_KWARGS})
        return params

    def _default_reg_lambda(self, extra):
        """The lambda fit gives XGBoost, _scale.xgboost_reg_lambda(gamma), or None (XGBoost's own):
        set when reg_lambda is None (and no ``lambda`` / ``reg_lambda`` keyword), loss_scale="auto"
        (the scale it was measured with) and the booster grows trees (gblinear's own default is 0).
        None for an invalid gamma too, so that get_xgb_params() answers and fit raises check_gamma's
        own error."""
        if (
            self.reg_lambda is not None
            or {"lambda", "reg_lambda"} & set(extra)
            or not (isinstance(self.loss_scale, str) and self.loss_scale == "auto")
            or extra.get("booster", "gbtree") == "gblinear"
        ):
            return None
        try:
            gamma = check_gamma(self.gamma)
        except (TypeError, ValueError):
            return None
        return xgboost_reg_lambda(gamma)

    def _dmatrix(self, xgb, X, y, w, offset, quantile, ref=None, data_kwargs=None):
        kwargs = dict(
            label=np.asarray(y, dtype=np.float32),  # XGBoost's float32; int64 labels cost ~25 ms more per DMatrix
            weight=w,
            missing=self.missing,
            enable_categorical=self.enable_categorical,
            nthread=self.n_jobs,
            **(data_kwargs or {}),
        )
        if offset is not None:
            kwargs["base_margin"] = np.broadcast_to(offset, (X.shape[0],) + np.shape(offset)).copy()
        if quantile:
            return xgb.QuantileDMatrix(X, max_bin=self.max_bin, ref=ref, **kwargs)
        return xgb.DMatrix(X, **kwargs)

    def _train_booster(self, X, y, w, evals, objective, recorder, n_estimators, extra, verbose, rates):
        xgb = _import_xgboost()
        base_score, offset = self._start(xgb)
        self._margin_offset = offset  # added at predict time when the booster cannot store it
        quantile = self._use_quantile_dmatrix(extra)
        data_kwargs = {k: extra[k] for k in _DATA_KWARGS if k in extra}
        dtrain = self._dmatrix(xgb, X, y, w if w.size else None, offset, quantile, data_kwargs=data_kwargs)
        dvalid = [
            self._dmatrix(xgb, Xe, ye, we, offset, quantile, ref=dtrain if quantile else None)
            for Xe, ye, we in evals
        ]
        # the rate log first: it must wrap set_param before any callback sets a rate, and read the
        # round's rate before a schedule sets the next one (LearningRateScheduler, after each round)
        callbacks = [_rate_logger(xgb, rates)] + (copy.deepcopy(self.callbacks) if self.callbacks else [])
        custom_metric = None
        if dvalid:
            index = {id(d): i for i, d in enumerate(dvalid)}

            def custom_metric(predt, dmatrix):
                return recorder.name, recorder.evaluate(index[id(dmatrix)], predt)

            callbacks.append(_stopper(xgb, recorder))
        return self._call_train(
            xgb,
            self._booster_params(extra, base_score),
            dtrain,
            n_estimators,
            list(zip(dvalid, recorder.names)),
            lambda predt, dmatrix: objective(predt),
            custom_metric,
            callbacks,
            verbose,
        )

    def _call_train(self, xgb, params, dtrain, n_estimators, evals, obj, custom_metric, callbacks, verbose):
        """The single call into XGBoost's trainer (swap point for a distributed variant).

        ``xgb.train``'s loop without its per-round Python layer (``boost_focal._xgb_loop``: the
        same models; it runs ``xgb.train`` itself where the lean path does not apply).
        """
        from .._xgb_loop import train_with

        return train_with(
            params,
            dtrain,
            num_boost_round=n_estimators,
            evals=evals,
            obj=obj,
            custom_metric=custom_metric,
            verbose_eval=verbose,
            callbacks=callbacks or None,
            own_objective=True,
        )

    _hessian_threshold_names = "min_child_weight"

    def _predicts_tree_windows(self):
        return self._extra_params.get("booster") != "gblinear"

    def _n_splits(self):
        if self._extra_params.get("booster") == "gblinear":
            return None
        return int(sum(self.booster_.get_score(importance_type="weight").values()))

    def _logloss_hessian_factor(self):
        return 2.0  # multi:softprob: 2 p (1 - p)

    def _rounds_trained(self):
        return self.booster_.num_boosted_rounds()

    def _predict_margin(self, X, n_rounds, start=0):
        booster = self.booster_
        iteration_range = (start, n_rounds)
        inplace = (isinstance(X, np.ndarray) or sparse.isspmatrix_csr(X) or isinstance(X, sparse.csr_array)) and (
            self._extra_params.get("booster") != "gblinear"
        )
        if inplace:
            if isinstance(X, sparse.csr_array):  # inplace_predict reads csr_matrix only (xgboost 3.2)
                X = sparse.csr_matrix(X)
            margin = booster.inplace_predict(
                X, iteration_range=iteration_range, predict_type="margin", missing=self.missing, validate_features=False
            )
        else:
            xgb = _import_xgboost()
            data = xgb.DMatrix(X, missing=self.missing, enable_categorical=self.enable_categorical, nthread=self.n_jobs)
            margin = booster.predict(data, output_margin=True, iteration_range=iteration_range, validate_features=False)
        margin = np.asarray(margin, dtype=np.float64)
        if self.n_classes_ > 2:
            margin = margin.reshape(X.shape[0], self.n_classes_)
        if self._margin_offset is not None:
            margin = margin + self._margin_offset
        return margin


def _iteration_range(iteration_range):
    """XGBoost's (start, stop) with stop 0 meaning "all rounds used" -> (start, stop or None)."""
    if iteration_range is None:
        return 0, None
    try:
        start, stop = iteration_range
    except (TypeError, ValueError):
        raise ValueError(f"iteration_range must be a (start, stop) pair, got {iteration_range!r}") from None
    return start, (None if stop == 0 else stop)


def _refuse_base_margin(base_margin):
    if base_margin is not None:
        raise ValueError(
            "base_margin is not supported: the model's starting score is the fitted focal-optimal constant "
            "(init_score_); add a per-row offset to decision_function(X) and apply loss_.posterior yourself"
        )


def _refuse_fit_arguments(**given):
    reasons = {
        "xgb_model": "warm start is not supported: alpha='balanced' and the starting score are fitted on the "
                     "new data and would not match the old trees; fit with more n_estimators, or continue a "
                     "booster with xgb.train(params, dtrain, obj=FocalLoss(...), xgb_model=booster)",
        "base_margin": "the starting score is the fitted focal-optimal constant (init_score_); for per-row "
                       "offsets use xgb.train(obj=FocalLoss(...)) with DMatrix(base_margin=...)",
        "base_margin_eval_set": "the eval sets start from init_score_ like the training data",
        "feature_weights": "pass feature_weights=... to the constructor (it goes to the training DMatrix)",
    }
    for name, value in given.items():
        if value is not None:
            raise ValueError(f"fit({name}=...) is not supported: {reasons[name]}")


def _unused_xgboost_params(params, extra):
    """Names in ``extra`` that XGBoost reports as not used when configuring a booster with ``params``.

    XGBoost has no list of its parameters; its learner checks them (validate_parameters) when
    it is configured and warns 'Parameters: { "gama" } are not used.' A 2-row booster configured
    once: informally timed (xgboost 3.2, shared 2-core VM under load) at 0.5 ms for the configure
    alone and about 5 ms for the whole check, once per fit; skipped when there are no keywords. Only keyword arguments are judged: a named
    estimator parameter that a booster type ignores stays XGBoost's warning.
    """
    if not extra:
        return []
    xgb = _import_xgboost()
    data = xgb.DMatrix(np.zeros((2, 1)), label=np.array([0.0, 1.0]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            xgb.Booster({**params, "validate_parameters": True}, [data]).save_config()
        except xgb.core.XGBoostError as exc:
            raise ValueError(f"invalid XGBoost parameter value: {exc}".split("\nStack trace")[0]) from None
    names = set()
    for warning in caught:
        match = re.search(r"Parameters: \{(.*?)\} are not used", str(warning.message), re.S)
        if match:
            names.update(re.findall(r'"([^"]+)"', match.group(1)))
    return sorted(k for k in extra if k in names)


def _rate_logger(xgb, rates):
    """An XGBoost callback that records each round's learning rate in ``rates`` (a RateLog)."""

    class _RateLogger(xgb.callback.TrainingCallback):
        def before_training(self, model):
            rates.install(model, "set_param")
            return model

        def after_iteration(self, model, epoch, evals_log):
            rates.round_done()
            return False

        def after_training(self, model):
            rates.uninstall()
            return model

    return _RateLogger()


def _stopper(xgb, recorder):
    """An XGBoost callback that applies the recorder's early-stopping rule after each round."""

    class _FocalEarlyStopping(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            return recorder.after_round(epoch)

    return _FocalEarlyStopping()


__all__ = ["FocalXGBClassifier"]
