"""Issue 16: the estimators' loss scale, focal temperature, metric direction and non-model warnings.

References are independent of the code under test: the loss scale is checked against the mean
Hessian of ``FocalLoss.grad_hess`` over every training row at the starting score and the plain
logloss Hessian p (1 - p); the tempered probabilities against ``FocalLoss.posterior`` of
z / T + b; metric directions against scikit-learn's own scores of each round's model.
"""

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from scipy.special import expit
from sklearn.datasets import make_classification
from sklearn.metrics import average_precision_score, log_loss, make_scorer, roc_auc_score

from boost_focal import FocalLGBMClassifier, FocalLoss, FocalXGBClassifier
from boost_focal.estimators._calibration import (
    MAX_SHIFT,
    PRIOR_SD_LOG_T,
    PRIOR_SD_SHIFT,
    default_temperature,
    fit_temperature,
    posterior_sums,
    solve_shift,
    solve_shifts,
    training_shift,
    training_shifts,
)

ESTIMATORS = (FocalXGBClassifier, FocalLGBMClassifier)
ids = ["xgb", "lgbm"]


@pytest.fixture(scope="module")
def binary():
    X, y = make_classification(1500, 8, n_informative=4, weights=[0.9], flip_y=0.05, random_state=3)
    return X, y


@pytest.fixture(scope="module")
def hpc_with_two_row_class(shared_data):
    """hpc_jobs (4 classes, real) with its rarest class cut to 2 rows: the issue's failing case."""
    frame = pd.read_parquet(shared_data / "hpc_jobs.parquet")
    y = frame.pop("target").astype(str).to_numpy()
    X = frame.apply(lambda c: c.cat.codes if isinstance(c.dtype, pd.CategoricalDtype) else c).to_numpy(float)
    labels, counts = np.unique(y, return_counts=True)
    rare = labels[np.argmin(counts)]
    others = np.random.default_rng(0).choice(np.flatnonzero(y != rare), 1200, replace=False)
    keep = np.sort(np.concatenate([others, np.flatnonzero(y == rare)[:2]]))
    return X[keep], y[keep], rare


def _fit(cls, X, y, **params):
    params.setdefault("n_jobs", 1)
    fit_kwargs = params.pop("_fit", {})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = cls(**params).fit(X, y, **fit_kwargs)
    return model, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


# ---------------------------------------------------------------------------- loss scale
@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
@pytest.mark.parametrize("alpha", [None, 0.9, "balanced"])
def test_auto_loss_scale_matches_logloss_hessian_at_start(cls, binary, alpha):
    X, y = binary
    model = cls(n_estimators=1, alpha=alpha, n_jobs=1).fit(X, y)
    fl = FocalLoss(model.loss_.gamma, model.alpha_.tolist(), model.hessian)
    _, h = fl.grad_hess(np.full(y.shape[0], model.init_score_), y)
    p = y.mean()
    np.testing.assert_allclose(model.loss_scale_, max(1.0, p * (1 - p) / h.mean()), rtol=1e-9)
    if alpha == "balanced":  # here the focal start Hessian is the smaller one: the scale is raised
        assert model.loss_scale_ > 1.0
        np.testing.assert_allclose(model.loss_scale_ * h.mean(), p * (1 - p), rtol=1e-9)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_multiclass_auto_loss_scale_uses_the_library_hessian_convention(cls, hpc_with_two_row_class):
    X, y, _ = hpc_with_two_row_class
    model = cls(n_estimators=1, alpha="balanced", n_jobs=1).fit(X, y)
    codes = np.searchsorted(model.classes_, y)
    k = model.n_classes_
    margin = np.tile(model.init_score_, (y.shape[0], 1))
    _, h = FocalLoss(model.loss_.gamma, model.alpha_.tolist(), model.hessian).grad_hess(margin, codes)
    prior = np.bincount(codes, minlength=k) / y.shape[0]
    factor = 2.0 if cls is FocalXGBClassifier else k / (k - 1.0)  # multi:softprob / LightGBM multiclass
    assert model.loss_scale_ > 100.0  # the majority class's alpha is tiny: raised a lot
    np.testing.assert_allclose(model.loss_scale_ * h.sum(axis=1).mean(), factor * np.sum(prior * (1 - prior)), rtol=1e-9)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_loss_scale_changes_nothing_without_regularisers(cls, binary):
    """c * FL has the same Newton steps and split order: with every Hessian threshold and L2
    penalty off, the scale must not change the model (up to float32 rounding)."""
    X, y = binary
    off = dict(min_child_weight=0.0, reg_lambda=0.0, n_estimators=10, n_jobs=1, probability="posterior")
    if cls is FocalLGBMClassifier:
        off.update(min_child_samples=5)
    a = cls(loss_scale=1.0, **off).fit(X, y)
    b = cls(loss_scale=8.0, **off).fit(X, y)
    # (XGBoost's tiny fixed epsilons in Hessian units move a few leaves by ~3e-4)
    np.testing.assert_allclose(a.decision_function(X), b.decision_function(X), atol=1e-3)
    assert a.loss_scale_ == 1.0 and b.loss_scale_ == 8.0
    # with an L2 penalty the scale matters: that is what it is for
    on = {**off, "reg_lambda": 5.0}
    diff = cls(loss_scale=1.0, **on).fit(X, y).decision_function(X) - cls(loss_scale=8.0, **on).fit(X, y).decision_function(X)
    assert np.abs(diff).max() > 0.05


def test_xgb_default_reg_lambda_grows_with_gamma(binary):
    """reg_lambda=None: the booster gets lambda = 1 + 2 min(gamma, 2) with loss_scale="auto" (and
    get_xgb_params says so); an explicit reg_lambda or ``lambda``, another loss scale, gblinear
    and an invalid gamma leave XGBoost's own choice."""
    X, y = binary

    def booster_lambda(**params):
        model = FocalXGBClassifier(n_estimators=2, n_jobs=1, **params).fit(X, y)
        config = json.loads(model.get_booster().save_config())
        used = float(config["learner"]["gradient_booster"]["tree_train_param"]["lambda"])
        return used, model.get_xgb_params().get("lambda")

    assert booster_lambda() == (5.0, 5.0)
    assert booster_lambda(gamma=0.5) == (2.0, 2.0)
    assert booster_lambda(gamma=4.0) == (5.0, 5.0)
    assert booster_lambda(gamma=0.0) == (1.0, 1.0)  # logloss: XGBClassifier's lambda
    assert booster_lambda(gamma=np.array(2.0)) == (5.0, 5.0)  # a 0-d array, as check_gamma takes it
    assert booster_lambda(reg_lambda=1.0) == (1.0, 1.0)
    assert booster_lambda(reg_lambda=0.0) == (0.0, 0.0)
    assert booster_lambda(**{"lambda": 2.5}) == (2.5, 2.5)
    assert booster_lambda(loss_scale=1.0) == (1.0, None)  # XGBoost's default, not set by us
    assert "lambda" not in FocalXGBClassifier(booster="gblinear").get_xgb_params()
    assert "lambda" not in FocalXGBClassifier(gamma="two").get_xgb_params()
    with pytest.raises(TypeError, match="gamma must be a real number"):
        FocalXGBClassifier(gamma="two", n_estimators=2).fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
@pytest.mark.parametrize("bad", [0, -1.0, np.nan, np.inf, "big", True])
def test_bad_loss_scale(cls, binary, bad):
    with pytest.raises(ValueError, match="loss_scale must be"):
        cls(loss_scale=bad, n_estimators=2).fit(*binary)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_per_class_alpha_above_one_is_a_relative_weight(cls, binary):
    X, y = binary
    a = cls(alpha=[1.0, 9.0], n_estimators=5, n_jobs=1).fit(X, y)
    b = cls(alpha=[0.1, 0.9], n_estimators=5, n_jobs=1).fit(X, y)
    np.testing.assert_allclose(a.alpha_, [1 / 9, 1.0])
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------------------- never a silent non-model
@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_balanced_alpha_with_a_two_row_class_grows_a_real_model(cls, hpc_with_two_row_class):
    X, y, rare = hpc_with_two_row_class
    model, caught = _fit(cls, X, y, alpha="balanced", n_estimators=60, learning_rate=0.1)
    assert model.alpha_.min() < 0.01  # the majority class's balanced alpha (sum-to-1 convention)
    assert not [m for m in caught if "split" in m or "barely move" in m]
    assert model._n_splits() > 50
    proba = model.predict_proba(X)
    common = model.classes_ != rare
    auc = roc_auc_score(y == model.classes_[common][0], proba[:, np.flatnonzero(common)[0]])
    assert auc > 0.75


def test_xgb_raw_focal_scale_starves_the_trees(hpc_with_two_row_class):
    """The issue's failure in the raw focal units (loss_scale=1): balanced alphas of ~0.001 put most
    leaves under min_child_weight=1, so XGBoost grows a small fraction of the splits it grows at the
    logloss scale, and ranks the common classes worse."""
    X, y, rare = hpc_with_two_row_class
    raw, _ = _fit(FocalXGBClassifier, X, y, alpha="balanced", loss_scale=1.0, n_estimators=20)
    auto, _ = _fit(FocalXGBClassifier, X, y, alpha="balanced", n_estimators=20)
    assert raw.loss_scale_ == 1.0 and auto.loss_scale_ > 100
    assert raw._n_splits() < 0.1 * auto._n_splits()
    common = np.flatnonzero(auto.classes_ != rare)
    auc = [roc_auc_score(y == auto.classes_[k], m.predict_proba(X)[:, k]) for m in (raw, auto) for k in common[:1]]
    assert auc[1] > auc[0] + 0.02


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_no_split_model_warns_with_the_fix(cls, binary):
    X, y = binary
    _, caught = _fit(cls, X, y, min_child_weight=1e6, n_estimators=5)
    assert any("made a split" in m and "constant starting score" in m for m in caught)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_barely_moving_model_warns(cls, binary):
    X, y = binary
    params = dict(n_estimators=3, learning_rate=1e-6, min_child_weight=0.0)
    _, caught = _fit(cls, X, y, **params)
    assert any("barely move the margin" in m for m in caught)
    _, caught = _fit(cls, X, y, n_estimators=3)
    assert not any("barely move" in m or "made a split" in m for m in caught)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
@pytest.mark.parametrize("gamma", [50.5, 2000.0])
def test_gamma_beyond_the_trainable_range_is_an_error(cls, binary, gamma):
    with pytest.raises(ValueError, match=r"gamma=.* is beyond what the estimators train with \(0 <= gamma <= 50"):
        cls(gamma=gamma).fit(*binary)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
@pytest.mark.parametrize("gamma", [20.0, 50.0])
def test_large_gamma_still_trains(cls, binary, gamma):
    X, y = binary
    model, caught = _fit(cls, X, y, gamma=gamma, n_estimators=30)
    assert not [m for m in caught if "split" in m or "barely" in m]
    assert roc_auc_score(y, model.predict_proba(X)[:, 1]) > 0.8
    # the starting score is still the focal optimum: the mean derivative vanishes there
    fl = FocalLoss(gamma, None, "exact")
    g, _ = fl.grad_hess(np.full(y.shape[0], model.init_score_), y)
    assert abs(g.mean()) < 1e-9 * np.abs(g).mean() + 1e-300


# ---------------------------------------------------------------------------- focal temperature
#: the no-eval-set temperature at gamma 2 from a boosting budget (learning rate x trees) of 10 on:
#: XGBoost binary 1 + 2 * 3/32, LightGBM binary 1 + 2 / 8, multiclass (up to 6 classes) 1 + 2 * 3/16 (docs/math.md 7.2)
FULL_T = {("xgb", 2): 1.1875, ("xgb", "multi"): 1.375, ("lgbm", 2): 1.25, ("lgbm", "multi"): 1.375}


def full_temperature(cls, k=2):
    return FULL_T[("xgb" if issubclass(cls, FocalXGBClassifier) else "lgbm", 2 if k == 2 else "multi")]


def full_growth(cls, k=2):
    """The no-eval-set temperature's growth per decade of budget past 10: LightGBM binary only."""
    return 1.0 if k == 2 and not issubclass(cls, FocalXGBClassifier) else 0.0


def budget_temperature(full, budget, growth=0.0):
    """The documented no-eval-set rule (math.md 7.2): T rises linearly to ``full`` at a budget of
    10, then by ``growth`` x (full - 1) per decade of budget."""
    return 1.0 + (full - 1.0) * min(1.0, budget / 10.0) * (1.0 + growth * math.log10(max(1.0, budget / 10.0)))


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_calibrated_without_eval_set_is_the_posterior_of_the_default_temperature(cls, binary):
    X, y = binary
    model = cls(n_estimators=20, learning_rate=0.5, n_jobs=1).fit(X, y)  # budget 10: the full temperature
    assert model.probability == "calibrated"
    T = full_temperature(cls)
    assert model.temperature_ == T
    z = model.decision_function(X)
    b = model.margin_shift_
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], model.loss_.posterior(z / T + b), rtol=1e-12)
    # b: the mean probability on the training rows is the class frequency there (and b = 0 is not)
    assert abs(model.loss_.posterior(z / T + b).mean() - y.mean()) < 2e-8
    assert abs(model.loss_.posterior(z / T).mean() - y.mean()) > 1e-4
    post = cls(n_estimators=20, learning_rate=0.5, n_jobs=1, probability="posterior").fit(X, y)
    np.testing.assert_allclose(post.predict_proba(X)[:, 1], post.loss_.posterior(z), rtol=1e-12)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_no_eval_set_temperature_grows_with_the_boosting_budget(cls, binary, hpc_with_two_row_class):
    """T - 1 is proportional to learning rate x trees up to a budget of 10, then constant (XGBoost)
    or rising by (T_10 - 1) per decade of budget (LightGBM, two classes); the learning rate is read
    wherever the booster gets it (named, a keyword alias, the default)."""
    X, y = binary
    Xm, ym, _ = hpc_with_two_row_class
    full = full_temperature(cls)
    growth = full_growth(cls)
    for params, budget in (
        (dict(n_estimators=10, learning_rate=0.1), 1.0),
        (dict(n_estimators=30, learning_rate=0.1), 3.0),
        (dict(n_estimators=40, learning_rate=0.25), 10.0),
        (dict(n_estimators=300, learning_rate=0.1), 30.0),
        (dict(n_estimators=20), 20 * (0.3 if cls is FocalXGBClassifier else 0.1)),  # library default
        (dict(n_estimators=20, eta=0.05), 1.0),  # a keyword alias of the learning rate
    ):
        model = cls(n_jobs=1, **params).fit(X, y)
        assert model.temperature_ == pytest.approx(budget_temperature(full, budget, growth), rel=1e-12), params
        assert model.temperature_ == pytest.approx(
            default_temperature(2.0, budget, (full - 1) / 2, growth), rel=1e-12
        )
    # the figures of the docs at 300 rounds x 0.1 and 1000 x 0.1, gamma 2
    expected = {FocalXGBClassifier: (1.1875, 1.1875), FocalLGBMClassifier: (1 + 0.25 * (1 + math.log10(3)), 1.5)}[cls]
    for trees, T in zip((300, 1000), expected):
        assert default_temperature(2.0, trees * 0.1, (full - 1) / 2, growth) == pytest.approx(T, rel=1e-12)
    # gamma scales it (capped at 2); multiclass (4 classes): the 3/16 slope
    assert cls(n_estimators=30, learning_rate=0.1, gamma=1.0, n_jobs=1).fit(X, y).temperature_ == pytest.approx(
        1 + (full - 1) / 2 * 0.3
    )
    assert cls(n_estimators=30, learning_rate=0.1, gamma=4.0, n_jobs=1).fit(X, y).temperature_ == pytest.approx(
        1 + (full - 1) * 0.3
    )
    multi = cls(n_estimators=30, learning_rate=0.1, n_jobs=1).fit(Xm, ym)
    assert multi.temperature_ == pytest.approx(1 + (full_temperature(cls, 4) - 1) * 0.3)
    # no rounds at all (budget 0): the exact posterior
    assert default_temperature(2.0, 0.0) == 1.0
    # never flatter than the raw sigmoid's tails: at most 1 + gamma, which growth 1 reaches at
    # gamma 0.5 and slope 1/8 only past a budget of 1e8 (1 + 0.0625 (1 + log10(B / 10)) > 1.5)
    assert default_temperature(0.5, 1e7, 0.125, 1.0) == pytest.approx(1 + 0.0625 * 7)
    assert default_temperature(0.5, 1e9, 0.125, 1.0) == 1.5
    assert type(default_temperature(2.0, 300.0, 0.125, 1.0)) is float


def _schedule(cls, rates):
    """Fit keywords (constructor, fit) of a learning-rate schedule of the library's own callback."""
    if cls is FocalXGBClassifier:
        import xgboost as xgb

        return dict(callbacks=[xgb.callback.LearningRateScheduler(list(rates))]), {}
    import lightgbm as lgb

    return {}, dict(callbacks=[lgb.reset_parameter(learning_rate=list(rates))])


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_boosting_budget_is_the_sum_of_the_rates_a_schedule_set(cls, binary):
    """A learning-rate schedule (the library's callback) changes the budget, hence the no-eval-set
    temperature: the budget is the sum of the rates the trees were trained with, not the
    constructor's rate x trees. Reference: the same model at a constant rate."""
    import pickle

    X, y = binary
    n = 40
    constant = cls(n_estimators=n, learning_rate=0.02, n_jobs=1).fit(X, y)
    assert constant.boosting_budget_ == pytest.approx(0.8, rel=1e-12)
    # the schedule sets 0.02 for every round the library lets it set, from a constructor rate of 0.3
    ctor, fit = _schedule(cls, [0.02] * n)
    model = cls(n_estimators=n, learning_rate=0.3, n_jobs=1, **ctor).fit(X, y, **fit)
    if cls is FocalXGBClassifier:
        # LearningRateScheduler sets the rate after each round: round 0 trains at the constructor's 0.3
        assert model.boosting_budget_ == pytest.approx(0.3 + (n - 1) * 0.02, rel=1e-12)
    else:  # reset_parameter sets it before each round, round 0 included: the constant-rate model
        assert model.boosting_budget_ == pytest.approx(0.8, rel=1e-12)
        np.testing.assert_array_equal(model.predict_proba(X), constant.predict_proba(X))
    assert model.temperature_ == pytest.approx(
        default_temperature(2.0, model.boosting_budget_, (full_temperature(cls) - 1) / 2, full_growth(cls)), rel=1e-12
    )
    # a decaying schedule: the budget of the trees kept only
    rates = [0.5 * 0.9**i for i in range(n)]
    ctor, fit = _schedule(cls, rates)
    decayed = cls(n_estimators=n, learning_rate=0.5, n_jobs=1, **ctor).fit(X, y, **fit)
    used = [0.5] + rates[: n - 1] if cls is FocalXGBClassifier else rates
    assert decayed.boosting_budget_ == pytest.approx(sum(used), rel=1e-12)
    assert decayed.temperature_ < cls(n_estimators=n, learning_rate=0.5, n_jobs=1).fit(X, y).temperature_
    # the wrapper that read the rates is gone: the booster pickles and its method is the library's
    method = "set_param" if cls is FocalXGBClassifier else "reset_parameter"
    assert method not in vars(decayed.booster_)
    pickle.loads(pickle.dumps(decayed.booster_))


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
@pytest.mark.parametrize("stopped", [False, True], ids=["all-rounds", "early-stopped"])
def test_temperature_is_fitted_on_the_eval_set(cls, binary, stopped):
    X, y = binary
    tr, va = slice(0, 1000), slice(1000, None)
    params = dict(n_estimators=150, learning_rate=0.3, n_jobs=1, early_stopping_rounds=10 if stopped else None)
    model = cls(**params).fit(X[tr], y[tr], eval_set=[(X[va], y[va])])
    T, b = model.temperature_, model.margin_shift_
    assert 1.0 <= T <= 3.0 and -3.0 <= b <= 3.0
    # the fit's centre: the no-eval-set temperature of the kept trees' budget (learning rate x
    # trees, ramped to the full temperature at 10), early-stopped or not (docs/math.md 7.2)
    budget = 0.3 * model.n_estimators_
    assert model.boosting_budget_ == pytest.approx(budget)
    centre = budget_temperature(full_temperature(cls), budget, full_growth(cls))
    if stopped:
        assert model.n_estimators_ < 150 and centre > 1.0
    z = model.decision_function(X[va])

    def objective(t, s):  # independent: total log loss + the documented Gaussian prior
        p = model.loss_.posterior(z / t + s)
        nll = log_loss(y[va], np.column_stack([1 - p, p]), normalize=False)
        return nll + 0.5 * (np.log(t / centre) / PRIOR_SD_LOG_T) ** 2 + 0.5 * (s / PRIOR_SD_SHIFT) ** 2

    def best(t):  # the objective at temperature t with its best eval-set shift
        return optimize.minimize_scalar(lambda s: objective(t, s), bounds=(-3.0, 3.0), method="bounded",
                                        options={"xatol": 1e-7}).fun

    # T is the temperature of the best (T, b) pair on the eval set: better than the centre and
    # nearby temperatures inside the bounds, each with its own best shift
    fitted = best(T)
    for t in [centre, 1.0, min(T * 1.1, 3.0), max(T / 1.1, 1.0)]:
        assert fitted <= best(t) + 1e-6
    log_t = optimize.minimize_scalar(lambda v: best(np.exp(v)), bounds=(0.0, np.log(3.0)), method="bounded",
                                     options={"xatol": 1e-7}).x
    assert abs(np.log(T) - log_t) < 1e-3 or fitted <= best(np.exp(log_t)) + 1e-9
    # b is then set on the training rows: their mean probability is their class frequency
    z_train = model.decision_function(X[tr])
    assert abs(model.loss_.posterior(z_train / T + b).mean() - y[tr].mean()) < 2e-8
    # calibrate() refits T and b, both on the given rows (the eval-set pair of fit)
    again = cls(**params)
    again.fit(X[tr], y[tr], eval_set=[(X[va], y[va])]) if stopped else again.fit(X[tr], y[tr])
    again.calibrate(X[va], y[va])
    np.testing.assert_allclose(again.temperature_, T, rtol=1e-6, atol=1e-6)
    assert again.margin_shift_ != b
    assert objective(again.temperature_, again.margin_shift_) <= best(T) + 1e-6


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
@pytest.mark.parametrize("stopped, rate", [(False, 0.1), (True, 0.1), (False, 0.3)],
                         ids=["all-rounds", "early-stopped", "budget-18"])
def test_eval_set_fit_is_centred_on_the_kept_trees_budget(cls, binary, stopped, rate, monkeypatch):
    """The eval-set fit shrinks T towards the no-eval-set temperature of the trees kept (learning
    rate x trees, ramped to the full temperature at 10, then for LightGBM binary still rising),
    early-stopped or not; calibrate() too. (Until 2026-12-07 an early-stopped model's fit was
    centred on T = 1.)"""
    from boost_focal.estimators import _base

    centres = []

    def spy(posterior, margin, y, w, gamma, centre=1.0, shift=None):
        centres.append(centre)
        return fit_temperature(posterior, margin, y, w, gamma, centre, shift)

    monkeypatch.setattr(_base, "fit_temperature", spy)
    X, y = binary
    tr, va = slice(0, 1000), slice(1000, None)
    params = dict(n_estimators=60, learning_rate=rate, n_jobs=1, early_stopping_rounds=5 if stopped else None)
    model = cls(**params).fit(X[tr], y[tr], eval_set=[(X[va], y[va])])
    budget = rate * model.n_estimators_
    if stopped:
        assert model.n_estimators_ < 60
    expected = budget_temperature(full_temperature(cls), budget, full_growth(cls))
    assert expected > 1.0
    if budget > 10 and full_growth(cls):  # past the full budget the centre is above the full temperature
        assert expected == pytest.approx(1 + (full_temperature(cls) - 1) * (1 + math.log10(1.8)))
    model.calibrate(X[va], y[va])
    assert centres == [pytest.approx(expected, rel=1e-12)] * 2


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_balanced_alpha_with_row_reweighting_warns(cls, binary):
    """alpha="balanced" and class_weight / scale_pos_weight both re-weight the classes; together
    they square the rare class's weight, which the user is told (and either alone is silent)."""
    X, y = binary
    params = dict(n_estimators=3, n_jobs=1)
    reweight = {"class_weight": "balanced"} if cls is FocalLGBMClassifier else {"scale_pos_weight": 9.0}
    _, caught = _fit(cls, X, y, alpha="balanced", **reweight, **params)
    assert any("re-weighted twice" in m and next(iter(reweight)) in m for m in caught)
    for alone in ({"alpha": "balanced"}, {"alpha": None, **reweight}, {"alpha": 0.25, **reweight}):
        _, caught = _fit(cls, X, y, **alone, **params)
        assert not any("re-weighted twice" in m for m in caught)
    if cls is FocalLGBMClassifier:
        _, caught = _fit(cls, X, y, alpha="balanced", class_weight={0: 1.0, 1: 3.0}, **params)
        assert any("re-weighted twice" in m for m in caught)


# ---------------------------------------------------------------------------- training-rows shift
def test_solve_shift_finds_the_root_and_stops_at_an_unreachable_bound():
    calls = []

    def mean_at(shifts):
        calls.append(shifts.copy())
        return expit(shifts - 0.7)

    b, slope = solve_shift(mean_at, expit(0.0))
    assert abs(expit(b - 0.7) - 0.5) <= 0.5e-7 and len(calls) <= 8
    assert calls[0].shape == (2,) and all(c.shape == (1,) for c in calls[1:])  # b and b + h, then secant steps
    assert slope == pytest.approx(0.25, rel=1e-3)  # d/db expit(b - 0.7) at the root
    calls.clear()
    assert solve_shift(mean_at, expit(0.0), start=0.69, slope=0.25)[0] == pytest.approx(0.7, abs=1e-6)
    assert len(calls) <= 3  # a good start and slope: a couple of steps
    assert solve_shift(lambda shifts: expit(shifts - 10.0), 0.5)[0] == pytest.approx(MAX_SHIFT, abs=1e-9)
    assert solve_shift(lambda shifts: expit(shifts + 10.0), 0.5)[0] == pytest.approx(-MAX_SHIFT, abs=1e-9)


def test_training_shift_on_many_rows_matches_the_frequency():
    """Above SHIFT_SUBSAMPLE_ROWS the subsample only starts the solver: the full rows decide."""
    rng = np.random.default_rng(1)
    z = rng.normal(-2.0, 1.5, 60_000)
    y = (rng.random(60_000) < expit(z + 0.3)).astype(int)
    w = rng.uniform(0.5, 2.0, 60_000)
    post = FocalLoss(2.0, None).posterior
    for weights in (None, w):
        b = training_shift(post, z, y, weights, 1.25)
        freq = np.average(y, weights=weights)
        assert abs(np.average(post(z / 1.25 + b), weights=weights) - freq) <= 1e-7 * min(freq, 1 - freq)


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_posterior_sums_multiclass_is_the_direct_sum(monkeypatch):
    """Stacked and chunked sums == a loop over the shift vectors, weighted and not."""
    import boost_focal.estimators._calibration as cal

    rng = np.random.default_rng(4)
    z, w = rng.normal(size=(300, 4)), rng.uniform(0.0, 2.0, 300)
    shifts = rng.normal(size=(7, 4))
    post = FocalLoss(2.0, None).posterior
    for weights in (None, w):
        direct = np.array([np.average(post(z + b), axis=0, weights=weights) * (300 if weights is None else w.sum())
                           for b in shifts])
        np.testing.assert_allclose(posterior_sums(post, z, weights, shifts), direct, rtol=1e-12)
        monkeypatch.setattr(cal, "STACK_ENTRIES", 2 * z.size)  # chunks of two shift vectors, one of one
        np.testing.assert_allclose(posterior_sums(post, z, weights, shifts), direct, rtol=1e-12)
        monkeypatch.undo()
    assert posterior_sums(post, z[:0], None, shifts).shape == (7, 4)


def test_solve_shifts_finds_the_root_mean_zero_and_respects_the_bounds():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(2000, 4)) + np.array([1.0, 0.0, -1.0, -2.5])
    mean_at = lambda shifts: np.array([_softmax(z + b).mean(axis=0) for b in shifts])  # noqa: E731
    target = np.array([0.3, 0.3, 0.25, 0.15])
    b = solve_shifts(mean_at, target)
    assert np.abs(mean_at(b[None])[0] - target).max() <= 1e-7 * target.min()
    assert abs(b.sum()) < 1e-12 and b[3] > b[0]  # mean zero; the rare-by-margin class raised
    # a target beyond the bounds: stops at them, finite, no NaN
    far = solve_shifts(mean_at, np.array([1e-9, 1e-9, 1e-9, 1 - 3e-9]))
    assert np.all(np.isfinite(far)) and np.abs(far).max() <= 2 * MAX_SHIFT
    assert far[3] == far.max()


def test_solve_shifts_updates_the_jacobian_instead_of_estimating_it_at_every_step():
    """Broyden's update after each step: one Jacobian estimate (K + 1 stacked shift vectors) for
    the whole solve on a subsample's Jacobian, few full-row steps; and a misleading starting
    Jacobian is replaced by a fresh estimate, not followed."""
    from boost_focal.estimators._calibration import _solve_shifts

    rng = np.random.default_rng(7)
    n = 20_000
    z = rng.normal(size=(n, 5)) * 1.5 + np.array([1.0, 0.5, 0.0, -1.0, -2.5])
    target = np.array([0.3, 0.25, 0.2, 0.15, 0.1])
    calls = {"full": 0, "jacobian": 0}

    def mean_at(shifts):
        calls["full"] += 1
        return np.array([_softmax(z + b).mean(axis=0) for b in shifts])

    sub = z[::5]

    def jacobian_at(shifts):  # the subsample's means: a Jacobian with sampling error
        calls["jacobian"] += 1
        return np.array([_softmax(sub + b).mean(axis=0) for b in shifts])

    b, _ = _solve_shifts(mean_at, target, jacobian_at)
    assert np.abs(mean_at(b[None])[0] - target).max() <= 1e-7 * target.min()
    assert calls["jacobian"] == 1 and calls["full"] <= 12  # 1 + steps (10 from zeros) + the check above
    # a wrong first Jacobian (the sign of every slope flipped): re-estimated, then solved
    calls.update(full=0, jacobian=0)
    good = (np.array([_softmax(sub + 1e-5 * e).mean(axis=0) for e in np.eye(5)]) - _softmax(sub).mean(axis=0)).T / 1e-5
    b2, _ = _solve_shifts(mean_at, target, jacobian_at, jacobian=-good)
    assert np.abs(mean_at(b2[None])[0] - target).max() <= 1e-7 * target.min()
    assert calls["jacobian"] >= 1
    np.testing.assert_allclose(b2, b, atol=1e-6)


def test_training_shifts_on_many_rows_matches_the_frequencies():
    """Above SHIFT_SUBSAMPLE_ROWS a subsample starts the solver and steers its steps; the means
    over all rows decide."""
    rng = np.random.default_rng(6)
    n = 30_000
    z = rng.normal(size=(n, 4)) * 1.5 + np.array([1.0, 0.0, -1.0, -2.5])
    y = np.array([rng.choice(4, p=p) for p in _softmax(z[:, :] * 0.7)])
    w = rng.uniform(0.5, 2.0, n)
    loss = FocalLoss(2.0, None)
    for weights in (None, w):
        b = training_shifts(loss.posterior, z, y, weights, 1.25)
        freq = np.bincount(y, weights=weights, minlength=4) / (n if weights is None else w.sum())
        mean = np.average(loss.posterior(z / 1.25 + b), axis=0, weights=weights)
        assert np.abs(mean - freq).max() <= 1e-7 * freq.min()


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
@pytest.mark.parametrize("case", ["all-rounds", "early-stopped", "weighted"])
def test_multiclass_balanced_shift_matches_the_class_frequencies(cls, hpc_with_two_row_class, case, tmp_path):
    """With unequal class alphas (here "balanced") the multiclass posterior's per-class means on the
    training rows miss the class frequencies; margin_shift_ (K,) makes each mean the frequency.
    The shift survives calibrate() (only T is refitted) and save/load."""
    from boost_focal.model_io import load_booster

    X, y, _ = hpc_with_two_row_class
    tr, va = slice(0, 900), slice(900, None)
    params = dict(n_estimators=40, learning_rate=0.3, n_jobs=1, alpha="balanced")
    fit_kwargs, w = {}, None
    if case == "early-stopped":
        params["early_stopping_rounds"] = 5
        fit_kwargs["eval_set"] = [(X[va], y[va])]
    if case == "weighted":
        w = np.random.default_rng(0).uniform(0.2, 3.0, 900)
        fit_kwargs["sample_weight"] = w
    model, _ = _fit(cls, X[tr], y[tr], **params, _fit=fit_kwargs)
    T, b = model.temperature_, model.margin_shift_
    assert b.shape == (4,) and abs(b.sum()) < 1e-9 and np.abs(b).max() > 1e-3
    codes = np.searchsorted(model.classes_, y[tr])
    freq = np.bincount(codes, weights=w, minlength=4) / (900 if w is None else w.sum())
    proba = model.predict_proba(X[tr])
    assert np.abs(np.average(proba, axis=0, weights=w) - freq).max() <= 1e-6 * freq.min() + 1e-12
    z = model.decision_function(X[tr])
    np.testing.assert_allclose(b, training_shifts(model.loss_.posterior, z, codes, w, T), atol=1e-5)
    # without it the per-class means miss the class frequencies on the training rows
    unshifted = np.average(model.loss_.posterior(z / T), axis=0, weights=w)
    assert np.abs(unshifted - freq).max() > 1e-3
    # calibrate(): T refitted on held-out rows, the training shift kept
    again = model.calibrate(X[va], y[va])
    np.testing.assert_array_equal(again.margin_shift_, b)
    np.testing.assert_allclose(
        again.predict_proba(X[va]), model.loss_.posterior(model.decision_function(X[va]) / again.temperature_ + b),
        rtol=1e-10)
    # save/load: the estimator and the library-level reader
    path = tmp_path / ("model.json" if cls is FocalXGBClassifier else "model.txt")
    again.save_model(path)
    loaded = cls().load_model(path)
    np.testing.assert_array_equal(loaded.margin_shift_, again.margin_shift_)
    np.testing.assert_array_equal(loaded.predict_proba(X), again.predict_proba(X))
    np.testing.assert_allclose(load_booster(path).predict_proba(X), again.predict_proba(X), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
@pytest.mark.parametrize("case", ["all-rounds", "early-stopped", "weighted", "alpha=0.9", "dataframe"])
def test_shift_is_set_on_the_training_rows(cls, binary, case):
    """margin_shift_ makes the mean P(class 1) on the training rows (weighted) their class
    frequency, from the fitted model's own training margins (kept during training, plus the
    trees after the kept round) -- the same number a prediction pass over X gives."""
    X, y = binary
    tr, va = slice(0, 1000), slice(1000, None)
    params = dict(n_estimators=60, learning_rate=0.3, n_jobs=1, alpha=0.9 if case == "alpha=0.9" else None)
    fit_kwargs = {}
    w = None
    Xtr = pd.DataFrame(X[tr]) if case == "dataframe" else X[tr]
    if case == "early-stopped":
        params["early_stopping_rounds"] = 5
        fit_kwargs["eval_set"] = [(X[va], y[va])]
    if case == "weighted":
        w = np.random.default_rng(0).uniform(0.2, 3.0, 1000)
        w[::13] = 0.0  # dropped rows
        fit_kwargs["sample_weight"] = w
    model = cls(**params).fit(Xtr, y[tr], **fit_kwargs)
    if case == "early-stopped":
        assert model.n_estimators_ < 60
    T, b = model.temperature_, model.margin_shift_
    z = model.decision_function(Xtr)
    expected = training_shift(model.loss_.posterior, z, y[tr], w, T)
    assert b == pytest.approx(expected, abs=1e-6)
    p = model.predict_proba(Xtr)[:, 1]
    assert abs(np.average(p, weights=w) - np.average(y[tr], weights=w)) < 1e-7
    # the shift does something: without it the mean misses the frequency
    assert abs(np.average(model.loss_.posterior(z / T), weights=w) - np.average(y[tr], weights=w)) > 1e-5
    if case == "alpha=0.9":  # the "mean probability ~15% below the base rate", undone
        assert b > 0.1


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_shift_without_a_kept_round_predicts_the_training_rows(cls, binary):
    """A callback that stops training before the last planned round leaves no kept margins of the
    final model: the shift then comes from a prediction pass, with the same result."""
    X, y = binary
    model = cls(n_estimators=60, learning_rate=0.3, n_jobs=1)
    if cls is FocalXGBClassifier:
        import xgboost as xgb

        class Stop(xgb.callback.TrainingCallback):
            def after_iteration(self, model, epoch, evals_log):
                return epoch >= 19

        model.set_params(callbacks=[Stop()])
        model.fit(X, y)
    else:
        def stop(env):
            if env.iteration >= 19:
                import lightgbm as lgb

                raise lgb.callback.EarlyStopException(env.iteration, [])

        model.fit(X, y, callbacks=[stop])
    assert model.n_estimators_ == 20
    z = model.decision_function(X)
    T = model.temperature_
    assert T == pytest.approx(budget_temperature(full_temperature(cls), 20 * model._learning_rate(), full_growth(cls)))
    assert model.margin_shift_ == pytest.approx(training_shift(model.loss_.posterior, z, y, None, T), abs=1e-6)


def test_gblinear_shift_uses_a_prediction_pass(binary):
    X, y = binary
    model = FocalXGBClassifier(booster="gblinear", n_estimators=20, n_jobs=1).fit(X, y)
    z = model.decision_function(X)
    assert model.temperature_ == pytest.approx(1 + 0.1875 * 0.6)  # budget 20 x 0.3 = 6
    assert model.margin_shift_ == pytest.approx(
        training_shift(model.loss_.posterior, z, y, None, model.temperature_), abs=1e-6
    )


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_no_shift_for_posterior_mode_gamma_zero_or_equal_alpha_multiclass(cls, binary, hpc_with_two_row_class):
    X, y = binary
    assert cls(n_estimators=10, n_jobs=1, probability="posterior").fit(X, y).margin_shift_ == 0.0
    assert cls(n_estimators=10, n_jobs=1, gamma=0.0).fit(X, y).margin_shift_ == 0.0
    Xm, ym, _ = hpc_with_two_row_class
    for params in ({}, {"alpha": "balanced", "gamma": 0.0}, {"alpha": "balanced", "probability": "posterior"}):
        shift = cls(n_estimators=10, n_jobs=1, **params).fit(Xm, ym).margin_shift_
        assert shift.shape == (4,) and not np.any(shift)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_a_tiny_eval_set_moves_the_temperature_little(cls, binary):
    """The prior is worth a few rows: 30 eval rows with 3 positives leave (T, b) near the centre,
    where an unpenalised fit of two parameters on 3 positives would be noise."""
    X, y = binary
    pos, neg = np.flatnonzero(y[1000:] == 1)[:3] + 1000, np.flatnonzero(y[1000:] == 0)[:27] + 1000
    tiny = np.concatenate([pos, neg])
    model = cls(n_estimators=150, learning_rate=0.3, n_jobs=1).fit(X[:1000], y[:1000])
    model.calibrate(X[tiny], y[tiny])
    big = cls(n_estimators=150, learning_rate=0.3, n_jobs=1).fit(X[:1000], y[:1000]).calibrate(X[1000:], y[1000:])
    centre = budget_temperature(full_temperature(cls), 150 * 0.3, full_growth(cls))
    assert abs(np.log(model.temperature_ / centre)) < abs(np.log(big.temperature_ / centre))
    assert abs(model.margin_shift_) < 0.6


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_multiclass_temperature_only(cls, hpc_with_two_row_class):
    X, y, _ = hpc_with_two_row_class
    model = cls(n_estimators=40, n_jobs=1).fit(X[:900], y[:900], eval_set=[(X[900:], y[900:])])
    assert 1.0 <= model.temperature_ <= 3.0 and not np.any(model.margin_shift_)
    z = model.decision_function(X[900:])
    np.testing.assert_allclose(model.predict_proba(X[900:]), model.loss_.posterior(z / model.temperature_), rtol=1e-10)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_gamma_zero_calibrated_is_temperature_one_sigmoid(cls, binary):
    X, y = binary
    model = cls(gamma=0.0, n_estimators=20, n_jobs=1).fit(X, y)
    assert model.temperature_ == 1.0
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], expit(model.decision_function(X)), rtol=1e-12)


# ---------------------------------------------------------------------------- metric direction
def _ap_by_round(model, X, y):
    """Average precision of each round's model, computed by scikit-learn from the booster."""
    out = []
    for r in range(1, model._rounds_trained() + 1):
        z = np.asarray(model._predict_margin(X, r), dtype=np.float64)
        out.append(average_precision_score(y, z))
    return np.array(out)


def _greater(f):
    f.greater_is_better = True
    return f


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
@pytest.mark.parametrize(
    "metric",
    [
        "average_precision",
        make_scorer(average_precision_score, response_method="predict_proba"),
        _greater(lambda y_true, proba, w: average_precision_score(y_true, proba[:, 1], sample_weight=w)),
    ],
    ids=["scorer-name", "scorer-object", "flagged-callable"],
)
def test_maximised_metric_stops_at_its_best_round(cls, binary, metric):
    X, y = binary
    tr, va = slice(0, 1000), slice(1000, None)
    model, caught = _fit(cls, X[tr], y[tr], n_estimators=300, learning_rate=0.3, eval_metric=metric,
                         early_stopping_rounds=15, _fit={"eval_set": [(X[va], y[va])]})
    history = np.array(next(iter(model.evals_result_["validation_0"].values())))
    assert model.best_iteration_ == int(np.argmax(history)) > 0
    assert len(history) == model.best_iteration_ + 16  # stopped 15 rounds after the maximum
    ap = _ap_by_round(model, X[va], y[va])  # the rounds the booster kept (LightGBM drops the rest)
    assert ap.size > model.best_iteration_
    # (LightGBM's first one-leaf-deep rounds score many tied margins, whose float64 values differ in
    # the last bits between its training-time scores and predict(): ties break apart slightly)
    np.testing.assert_allclose(history[: ap.size], ap, rtol=0, atol=2e-3)
    assert not [m for m in caught if "kept round 0" in m]


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_minimised_score_by_mistake_warns(cls, binary):
    X, y = binary
    tr, va = slice(0, 1000), slice(1000, None)

    def ap(y_true, proba, w):
        return average_precision_score(y_true, proba[:, 1])

    model, caught = _fit(cls, X[tr], y[tr], n_estimators=300, learning_rate=0.3, eval_metric=ap,
                         early_stopping_rounds=15, _fit={"eval_set": [(X[va], y[va])]})
    assert model.best_iteration_ == 0
    assert any("kept round 0" in m and "greater_is_better" in m for m in caught)


@pytest.mark.parametrize("bad", [1, "yes"])
def test_bad_direction_flag(binary, bad):
    def f(y_true, proba, w):
        return 0.0

    f.greater_is_better = bad
    with pytest.raises(TypeError, match="greater_is_better must be True or False"):
        FocalXGBClassifier(eval_metric=f, n_estimators=2).fit(*binary, eval_set=[binary])


@pytest.mark.parametrize("cls,suffix", [(FocalXGBClassifier, ".json"), (FocalLGBMClassifier, ".txt")], ids=ids)
def test_saved_model_keeps_the_fitted_temperature(cls, suffix, binary, tmp_path):
    from boost_focal.model_io import load_booster

    X, y = binary
    model = cls(n_estimators=60, learning_rate=0.3, n_jobs=1).fit(X[:1000], y[:1000], eval_set=[(X[1000:], y[1000:])])
    assert model.temperature_ != full_temperature(cls)  # fitted on the eval set
    path = tmp_path / f"model{suffix}"
    model.save_model(path)
    loaded = cls().load_model(path)
    assert (loaded.temperature_, loaded.margin_shift_, loaded.loss_scale_) == (
        model.temperature_, model.margin_shift_, model.loss_scale_)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    # the library-level reader applies the same temperature
    np.testing.assert_allclose(load_booster(path).predict_proba(X), model.predict_proba(X), rtol=1e-6, atol=1e-9)
