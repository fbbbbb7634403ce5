"""FocalXGBClassifier / FocalLGBMClassifier: behaviour of the scikit-learn estimators (issues 4, 9).

The reference for "correct" is independent of the estimators' code wherever possible: the
libraries' own classifiers at gamma = 0 (cross-entropy), FocalLoss evaluated on the estimators'
margins, and scikit-learn's model-selection machinery. Everything runs with n_jobs=1 on small
data (the CI machine has two cores).
"""

import pickle
from pathlib import Path

import joblib
import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from scipy import sparse
from scipy.special import expit, softmax
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.metrics import average_precision_score, log_loss
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import boost_focal
from boost_focal import FocalLGBMClassifier, FocalLoss, FocalXGBClassifier
from boost_focal.estimators import xgb as xgb_module

FIXTURES = Path(__file__).parent / "fixtures"
ESTIMATORS = (FocalXGBClassifier, FocalLGBMClassifier)
ids = ["xgb", "lgbm"]


def make(cls, **params):
    return cls(n_jobs=1, n_estimators=params.pop("n_estimators", 20), **params)


@pytest.fixture(scope="module")
def binary():
    X, y = make_classification(600, 8, n_informative=5, weights=[0.85], flip_y=0.03, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def multi():
    X, y = make_classification(
        900, 8, n_informative=6, n_classes=3, weights=[0.6, 0.3, 0.1], flip_y=0.03, random_state=1
    )
    return X, y


@pytest.fixture(scope="module")
def hpc():
    frame = pd.read_csv(FIXTURES / "hpc_jobs.csv.gz")
    for col in ("protocol", "day"):
        frame[col] = frame[col].astype("category")
    return frame.drop(columns="target"), frame["target"].to_numpy()


def test_exports():
    assert boost_focal.FocalXGBClassifier is FocalXGBClassifier
    assert boost_focal.FocalLGBMClassifier is FocalLGBMClassifier


# --------------------------------------------------------------------------- probabilities
@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
@pytest.mark.parametrize("task", ["binary", "multi"])
def test_probabilities_are_link_of_margin(cls, task, binary, multi):
    X, y = binary if task == "binary" else multi
    model = make(cls, gamma=2.0, learning_rate=0.5).fit(X, y)
    margin = model.decision_function(X)
    proba = model.predict_proba(X)
    k = model.n_classes_
    assert proba.shape == (X.shape[0], k)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # calibrated (default, no eval set) == FocalLoss.posterior of the margin at the no-eval-set
    # temperature (20 rounds x 0.5 = a budget of 10: binary 1 + 2 * 3/32 for XGBoost, 1 + 2/8 for
    # LightGBM; multiclass 1 + 2 * 3/16), shifted by b for two classes (set on the training rows;
    # multiclass at equal alphas: b = 0)
    T = (1.1875 if cls is FocalXGBClassifier else 1.25) if k == 2 else 1.375
    assert model.probability == "calibrated" and model.temperature_ == T
    assert bool(np.any(model.margin_shift_ != 0.0)) == (k == 2)
    post = model.loss_.posterior(margin / T + model.margin_shift_)
    expected = np.column_stack([1 - post, post]) if k == 2 else post
    np.testing.assert_allclose(proba, expected, rtol=1e-12, atol=1e-15)
    # posterior == FocalLoss.posterior of the margin
    model.set_params(probability="posterior")
    post = model.loss_.posterior(margin)
    expected = np.column_stack([1 - post, post]) if k == 2 else post
    np.testing.assert_allclose(model.predict_proba(X), expected, rtol=1e-12, atol=1e-15)
    proba = model.predict_proba(X)
    # raw == sigmoid / softmax of the margin, from the same fitted model
    model.set_params(probability="raw")
    raw = model.predict_proba(X)
    expected = np.column_stack([expit(-margin), expit(margin)]) if k == 2 else softmax(margin, axis=1)
    np.testing.assert_allclose(raw, expected, rtol=1e-12, atol=1e-15)
    # the focal posterior is not the raw link at gamma = 2: the switch is real
    assert np.abs(raw - proba).max() > 1e-3
    # predict is the argmax of what predict_proba returns, as labels from classes_
    for mode in ("raw", "posterior", "calibrated"):
        model.set_params(probability=mode)
        np.testing.assert_array_equal(model.predict(X), model.classes_[np.argmax(model.predict_proba(X), axis=1)])


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
@pytest.mark.parametrize("task", ["binary", "multi"])
def test_posterior_equals_raw_at_gamma_zero(cls, task, binary, multi):
    X, y = binary if task == "binary" else multi
    model = make(cls, gamma=0.0).fit(X, y)
    post = model.predict_proba(X)
    raw = clone(model).set_params(probability="raw").fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(post, raw)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_binary_predict_thresholds_posterior_at_half(cls, binary):
    """With unequal alpha the posterior's 0.5 is not margin 0; predict follows the posterior."""
    X, y = binary
    model = make(cls, gamma=1.0, alpha=0.9).fit(X, y)
    eta = model.predict_proba(X)[:, 1]
    np.testing.assert_array_equal(model.predict(X), np.where(eta > 0.5, 1, 0))
    assert ((model.decision_function(X) > 0) != (eta > 0.5)).any()  # the two thresholds differ here


# --------------------------------------------------------------------------- equivalence at gamma = 0
def test_xgb_matches_xgbclassifier_at_gamma_zero(binary, multi):
    """gamma=0, alpha=None, hessian='exact' is XGBoost's logistic / softprob loss.

    Binary: same parameters. Multiclass: multi:softprob uses the Hessian 2 p (1 - p), twice the
    softmax diagonal, so the same trees need learning_rate and reg_lambda halved; min_child_weight
    is 0 in both, because a child whose Hessian sum sits on that limit is kept or refused by
    float32 rounding, differently in the two (seen at depth 4 on these data).
    """
    X, y = binary
    ours = make(FocalXGBClassifier, gamma=0.0, hessian="exact", n_estimators=40).fit(X[:400], y[:400])
    ref = xgb.XGBClassifier(n_jobs=1, n_estimators=40, base_score=float(expit(ours.init_score_)))
    ref.fit(X[:400], y[:400])
    np.testing.assert_allclose(ours.predict_proba(X[400:]), ref.predict_proba(X[400:]), rtol=0, atol=1e-6)

    X, y = multi
    ours = make(
        FocalXGBClassifier, gamma=0.0, hessian="exact", n_estimators=40, learning_rate=0.15, reg_lambda=0.5,
        min_child_weight=0.0, loss_scale=1.0,
    ).fit(X[:600], y[:600])
    ref = xgb.XGBClassifier(n_jobs=1, n_estimators=40, min_child_weight=0.0, base_score=ours.init_score_.tolist())
    ref.fit(X[:600], y[:600])
    np.testing.assert_allclose(ours.predict_proba(X[600:]), ref.predict_proba(X[600:]), rtol=0, atol=1e-6)
    # loss_scale="auto" (default) is 2 here: XGBoost's own multiclass Hessian is 2 p (1 - p), so
    # Hessian thresholds and lambda see the same Hessian sums as in XGBClassifier (its gradient
    # is not doubled, which is why the trees above needed learning_rate and lambda halved)
    ours = make(FocalXGBClassifier, gamma=0.0, hessian="exact", n_estimators=1).fit(X[:600], y[:600])
    assert ours.loss_scale_ == pytest.approx(2.0, rel=1e-12)


def test_lgbm_matches_lgbmclassifier_at_gamma_zero(binary, multi):
    """gamma=0 is LightGBM's binary / multiclass loss; LGBMClassifier starts from the log-odds /
    log class frequencies, which is the focal starting score at gamma = 0.

    Multiclass: LightGBM's softmax Hessian is K/(K-1) p (1 - p), so learning_rate and
    min_child_weight are divided by K/(K-1). Small trees (num_leaves=7) avoid splits whose gain is
    tied up to rounding, which either model may break either way.
    """
    X, y = binary
    ours = make(FocalLGBMClassifier, gamma=0.0, hessian="exact", n_estimators=40).fit(X[:400], y[:400])
    ref = lgb.LGBMClassifier(n_jobs=1, n_estimators=40, verbose=-1).fit(X[:400], y[:400])
    np.testing.assert_allclose(ours.predict_proba(X[400:]), ref.predict_proba(X[400:]), rtol=0, atol=1e-6)

    X, y = multi
    c = 3 / 2
    ours = make(
        FocalLGBMClassifier, gamma=0.0, hessian="exact", n_estimators=40, num_leaves=7, learning_rate=0.1 / c,
        min_child_weight=1e-3 / c,
    ).fit(X[:600], y[:600])
    ref = lgb.LGBMClassifier(n_jobs=1, n_estimators=40, num_leaves=7, verbose=-1).fit(X[:600], y[:600])
    np.testing.assert_allclose(ours.predict_proba(X[600:]), ref.predict_proba(X[600:]), rtol=0, atol=1e-6)


# --------------------------------------------------------------------------- starting score
@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
@pytest.mark.parametrize("task", ["binary", "multi"])
def test_starting_score_is_focal_optimum(cls, task, binary, multi):
    X, y = binary if task == "binary" else multi
    model = make(cls, gamma=2.0, alpha="balanced").fit(X, y)
    k = len(np.unique(y))
    expected = FocalLoss(2.0, "balanced").resolve_alpha(y).init_score(y, n_classes=k)
    np.testing.assert_allclose(model.init_score_, expected, rtol=1e-10, atol=1e-12)
    # the library's raw scores + the starting score are the margins
    if cls is FocalLGBMClassifier:
        raw = model.booster_.predict(X, raw_score=True)
        np.testing.assert_allclose(model.decision_function(X), raw + model.init_score_, rtol=1e-12)
    else:
        raw = model.booster_.predict(xgb.DMatrix(X), output_margin=True)
        np.testing.assert_allclose(model.decision_function(X), raw, rtol=1e-6)  # base_score in the model


def test_xgb_start_not_stored_in_booster_is_added_back(binary, multi, monkeypatch):
    """The per-row fallback (|start| too large for binary:logistic's float32 base_score, or an
    XGBoost without vector intercepts) trains and predicts the same model."""
    for X, y, attr in ((binary[0], binary[1], "_MAX_STORED_LOGIT"), (multi[0], multi[1], "stores_vector_intercept")):
        stored = make(FocalXGBClassifier).fit(X, y)
        monkeypatch.setattr(xgb_module, attr, -1.0 if attr == "_MAX_STORED_LOGIT" else (lambda _: False))
        offset = make(FocalXGBClassifier).fit(X, y)
        monkeypatch.undo()
        assert stored._margin_offset is None and offset._margin_offset is not None
        np.testing.assert_allclose(offset.decision_function(X), stored.decision_function(X), rtol=0, atol=1e-4)


def test_xgb_extreme_start_uses_offset(binary):
    X, y = binary
    model = make(FocalXGBClassifier, gamma=0.0, alpha=1e-8, probability="raw").fit(X, y)
    assert model.init_score_ < -15 and model._margin_offset == model.init_score_
    assert np.all(np.isfinite(model.decision_function(X)))


# --------------------------------------------------------------------------- labels
@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
@pytest.mark.parametrize(
    "labels",
    [np.array(["no", "yes"]), np.array([3, 10]), np.array([False, True]), np.array(["a", "b", "c"]),
     np.array([-5, 7, 100])],
    ids=["str2", "int2", "bool", "str3", "int3"],
)
def test_any_label_type(cls, labels, multi):
    X, y = multi
    y = labels[y % labels.shape[0]]
    model = make(cls, n_estimators=10).fit(X, y)
    np.testing.assert_array_equal(model.classes_, np.unique(y))
    assert model.n_classes_ == labels.shape[0]
    pred = model.predict(X)
    assert pred.dtype == y.dtype and set(pred) <= set(y)
    assert (pred == y).mean() > 0.5


@pytest.mark.parametrize(
    "y",
    [np.array([0, 1, 1, 0] * 50), np.array([-3, 4, 4, -1], dtype=np.int8), np.array([-128, 127], dtype=np.int8),
     np.array([True, False, True]), np.array([True, True]), np.array([7, 9, 7], dtype=np.uint16),
     np.array([0.0, 1.0, 1.0], dtype=np.float32), np.array([-1.0, 3.0, -1.0]), np.array([2.0, 2.0]),
     np.array([-0.0, 0.0, 1.0]), np.array([0.5, 1.0]), np.array([np.inf, 0.0]), np.array([1e300, 0.0]),
     np.array([5, 10**9]), np.array([2**62, -(2**62)]), np.array([np.iinfo(np.uint64).max, 0], dtype=np.uint64)],
)
def test_label_encoding_by_counting_equals_np_unique(y):
    """encode_labels counts small-range integer labels instead of sorting them (O(n)); its classes
    and codes are np.unique's, dtype and all, and other labels take np.unique itself (None)."""
    from boost_focal.estimators._base import _unique_small_integers

    classes, codes = np.unique(y, return_inverse=True)
    found = _unique_small_integers(y)
    integral = y.dtype.kind in "iub" or (np.all(np.isfinite(y)) and np.all(y == np.round(y)) and not np.signbit(y).any())
    if integral and int(y.max()) - int(y.min()) <= 1 << 16:
        assert found is not None
    if found is not None:
        assert found[0].dtype == classes.dtype and np.array_equal(found[0], classes)
        assert np.array_equal(np.signbit(found[0]), np.signbit(classes)) if y.dtype.kind == "f" else True
        assert found[1].dtype.kind == "i" and np.array_equal(found[1], codes.ravel())


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_clear_errors(cls, binary):
    X, y = binary
    with pytest.raises(ValueError, match="1 class"):
        make(cls).fit(X, np.zeros_like(y))
    with pytest.raises(ValueError, match="hessian must be one of"):
        make(cls, hessian="newton").fit(X, y)
    with pytest.raises(ValueError, match=r"alpha has 3 per-class weights but the problem has 2 classes.*classes in y"):
        make(cls, alpha=[0.2, 0.3, 0.5]).fit(X, y)
    with pytest.raises(ValueError, match="float alpha"):
        make(cls, alpha=0.3).fit(X, np.arange(X.shape[0]) % 3)
    with pytest.raises(ValueError, match="alpha as a dict"):
        make(cls, alpha={0: 0.5, 2: 0.5}).fit(X, y)
    y_nan = y.astype(float)
    y_nan[3] = np.nan
    with pytest.raises(ValueError, match="missing labels"):
        make(cls).fit(X, y_nan)
    y_none = y.astype(object)
    y_none[3] = None
    with pytest.raises(ValueError, match="missing labels"):
        make(cls).fit(X, y_none)
    with pytest.raises(ValueError, match="Unknown label type"):
        make(cls).fit(X, np.linspace(0, 1, X.shape[0]))
    with pytest.raises(ValueError, match="gamma must be"):
        make(cls, gamma=-1).fit(X, y)
    with pytest.raises(ValueError, match="probability must be"):
        make(cls, probability="tempered").fit(X, y)
    with pytest.raises(ValueError, match="posterior of those classes is undefined"):
        make(cls, alpha=[1.0, 0.0]).fit(X, y)
    with pytest.raises(ValueError, match="early_stopping_rounds needs a validation set"):
        make(cls, early_stopping_rounds=5).fit(X, y)
    with pytest.raises(ValueError, match="eval_metric must be"):
        make(cls, eval_metric="f1_typo").fit(X, y, eval_set=[(X, y)])
    with pytest.raises(ValueError, match="not in the training classes"):
        make(cls).fit(X, y, eval_set=[(X, y + 1)])
    with pytest.raises(ValueError, match="sets the .* parameter 'objective' itself"):
        make(cls, objective="binary:logistic").fit(X, y)
    with pytest.raises(ValueError, match="scale_pos_weight applies to binary problems only"):
        make(cls, scale_pos_weight=3.0).fit(X, np.arange(X.shape[0]) % 3)
    with pytest.raises(ValueError, match="weight.*zero|zero.*weight"):
        make(cls).fit(X, y, sample_weight=np.zeros(X.shape[0]))
    with pytest.raises(ValueError, match="only one class"):
        make(cls).fit(X, y, sample_weight=(y == 1).astype(float))


def test_lgbm_eval_X_eval_y_like_lightgbm_4_7(binary):
    X, y = binary
    a = make(FocalLGBMClassifier, early_stopping_rounds=3, n_estimators=100)
    a.fit(X[:400], y[:400], eval_set=[(X[400:], y[400:])])
    b = clone(a)
    b.fit(X[:400], y[:400], eval_X=(X[400:],), eval_y=(y[400:],))
    assert a.evals_result_ == b.evals_result_ and a.best_iteration_ == b.best_iteration_
    with pytest.raises(ValueError, match="either eval_set or eval_X"):
        b.fit(X, y, eval_set=[(X, y)], eval_X=X, eval_y=y)


def test_lgbm_rejects_unknown_parameter(binary):
    with pytest.raises(ValueError, match=r"unknown LightGBM parameter\(s\) \['extra_treez'\]"):
        make(FocalLGBMClassifier, extra_treez=True).fit(*binary)


@pytest.mark.parametrize("params", [dict(boosting_type="rf"), dict(boosting="random_forest"), dict(boost="rf")])
def test_lgbm_random_forest_mode_is_refused_clearly(binary, params):
    """LightGBM's rf mode takes no custom objective: a clear error before training, naming the
    parameter and the alternative (LightGBM itself failed on an init-score check inside rf.hpp)."""
    with pytest.raises(ValueError, match=r"boosting_type='(rf|random_forest)' is not supported.*subsample"):
        make(FocalLGBMClassifier, subsample=0.8, subsample_freq=1, **params).fit(*binary)
    make(FocalLGBMClassifier, boosting_type="dart").fit(*binary)  # the other modes train


# --------------------------------------------------------------------------- weights
def test_xgb_integer_weights_equal_repeated_rows(multi):
    """A weight of k trains bit-for-bit the model of k copies of the row (0 = row removed).

    Fewer distinct values than bins, so that the quantile sketch sees weights and copies alike.
    Without the 21-bit rounding of the gradients in the objective, rows of weight 3 differ by
    float32 rounding and flip ties between equally good splits (the sklearn check's failure).
    """
    X, y = multi[0][:120], multi[1][:120]
    w = np.random.default_rng(0).integers(0, 5, X.shape[0])
    weighted = make(FocalXGBClassifier).fit(X, y, sample_weight=w)
    repeated = make(FocalXGBClassifier).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_array_equal(weighted.predict_proba(X), repeated.predict_proba(X))


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_zero_weight_is_a_removed_row(cls, multi):
    """(LightGBM's row-count parameters make weight k differ from k copies in general; zero
    weights are exact because the estimator drops those rows.)"""
    X, y = multi
    w = (np.arange(X.shape[0]) % 4 != 0).astype(float)
    weighted = make(cls).fit(X, y, sample_weight=w)
    removed = make(cls).fit(X[w > 0], y[w > 0])
    np.testing.assert_array_equal(weighted.predict_proba(X), removed.predict_proba(X))


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_scale_pos_weight_and_class_weight_are_sample_weights(cls, binary):
    X, y = binary
    w = np.where(y == 1, 3.0, 1.0)
    ref = make(cls).fit(X, y, sample_weight=w).predict_proba(X)
    np.testing.assert_array_equal(make(cls, scale_pos_weight=3.0).fit(X, y).predict_proba(X), ref)
    if cls is FocalLGBMClassifier:
        np.testing.assert_array_equal(make(cls, class_weight={0: 1.0, 1: 3.0}).fit(X, y).predict_proba(X), ref)
    plain = make(cls).fit(X, y).predict_proba(X)
    assert np.abs(plain - ref).max() > 1e-3  # the weights did something


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_alpha_forms(cls, multi):
    X, y = multi
    labels = np.array(["x", "y", "z"])[y]
    seq = make(cls, alpha=[0.2, 0.3, 0.5]).fit(X, labels)
    dct = make(cls, alpha={"z": 0.5, "x": 0.2, "y": 0.3}).fit(X, labels)
    np.testing.assert_array_equal(seq.predict_proba(X), dct.predict_proba(X))
    np.testing.assert_array_equal(seq.alpha_, [0.2, 0.3, 0.5])
    bal = make(cls, alpha="balanced").fit(X, labels)
    counts = np.bincount(y)
    np.testing.assert_allclose(bal.alpha_, (1 / counts) / (1 / counts).sum())


# --------------------------------------------------------------------------- eval sets, early stopping
@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
@pytest.mark.parametrize("task", ["binary", "multi"])
def test_focal_metric_and_early_stopping(cls, task, binary, multi):
    X, y = binary if task == "binary" else multi
    Xt, Xv, yt, yv = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    wv = np.random.default_rng(1).uniform(0.5, 2.0, yv.shape[0])
    model = make(cls, n_estimators=300, learning_rate=0.3, early_stopping_rounds=5)
    kw = "sample_weight_eval_set" if cls is FocalXGBClassifier else "eval_sample_weight"
    model.fit(Xt, yt, eval_set=[(Xt, yt), (Xv, yv)], **{kw: [None, wv]})
    history = model.evals_result_["validation_1"]["focal"]
    best = model.best_iteration_
    assert len(model.evals_result_["validation_0"]["focal"]) == len(history)
    assert len(history) == best + 1 + 5 < 300  # stopped 5 rounds after the best
    assert history[best] == min(history) == model.best_score_
    assert model.n_estimators_ == best + 1
    # the recorded metric is the weighted mean focal loss of the predicted margins at the best round
    margin = model.decision_function(Xv)
    codes = np.searchsorted(model.classes_, yv)
    expected = model.loss_.loss(margin, codes, wv).sum() / wv.sum()
    np.testing.assert_allclose(model.best_score_, expected, rtol=1e-5)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_named_and_callable_metrics(cls, binary):
    X, y = binary
    Xt, Xv, yt, yv = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    model = make(cls, n_estimators=200, learning_rate=0.3, eval_metric="aucpr", early_stopping_rounds=10)
    model.fit(Xt, yt, eval_set=[(Xv, yv)])
    history = model.evals_result_["validation_0"]["aucpr"]
    assert history[model.best_iteration_] == max(history) == model.best_score_
    np.testing.assert_allclose(model.best_score_, average_precision_score(yv, model.predict_proba(Xv)[:, 1]))

    def valid_log_loss(y_true, proba, sample_weight):
        return log_loss(y_true, proba, sample_weight=sample_weight, labels=np.unique(y))

    model = make(cls, n_estimators=200, learning_rate=0.3, eval_metric=valid_log_loss, early_stopping_rounds=10,
                 probability="posterior")
    model.fit(Xt, yt, eval_set=[(Xv, yv)])
    history = model.evals_result_["validation_0"]["valid_log_loss"]
    assert history[model.best_iteration_] == min(history)
    np.testing.assert_allclose(model.best_score_, log_loss(yv, model.predict_proba(Xv)))
    # calibrated (default): the metric is recorded with the no-eval-set temperature during training;
    # the temperature fitted on the eval set afterwards can only lower that eval log loss
    model = make(cls, n_estimators=200, learning_rate=0.3, eval_metric=valid_log_loss, early_stopping_rounds=10)
    model.fit(Xt, yt, eval_set=[(Xv, yv)])
    assert log_loss(yv, model.predict_proba(Xv)) <= model.best_score_ + 1e-12


# --------------------------------------------------------------------------- inputs
@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_dataframe_with_categoricals(cls, hpc):
    X, y = hpc
    Xt, Xv, yt, yv = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    model = make(cls, n_estimators=30).fit(Xt, yt)
    np.testing.assert_array_equal(model.feature_names_in_, X.columns)
    np.testing.assert_array_equal(model.classes_, ["F", "L", "M", "VF"])
    assert model.n_features_in_ == 7 and model.feature_importances_.shape == (7,)
    # categories are matched by value, not by code: reordering them changes nothing
    recoded = Xv.copy()
    recoded["protocol"] = recoded["protocol"].cat.reorder_categories(recoded["protocol"].cat.categories[::-1])
    np.testing.assert_allclose(model.predict_proba(recoded), model.predict_proba(Xv), rtol=1e-12)
    assert (model.predict(Xv) == yv).mean() > 0.7  # majority class: 0.51
    assert model.feature_importances_[list(X.columns).index("protocol")] > 0


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_matches_dense(cls, fmt, binary):
    """Sparse input gives the model of the dense input with the library's own semantics for
    unstored entries: missing for XGBoost (as XGBClassifier), zero for LightGBM."""
    X, y = binary
    X = np.where(np.abs(X) < 0.5, 0.0, X)
    Xs = sparse.csr_matrix(X).asformat(fmt)
    dense_equivalent = np.where(X == 0, np.nan, X) if cls is FocalXGBClassifier else X
    dense = make(cls).fit(dense_equivalent, y)
    sp = make(cls).fit(Xs, y)
    np.testing.assert_allclose(sp.predict_proba(Xs), dense.predict_proba(dense_equivalent), rtol=1e-6)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_missing_values_are_routed(cls, binary):
    X, y = binary
    X = X.copy()
    X[::7, 0] = np.nan
    model = make(cls).fit(X, y)
    assert np.all(np.isfinite(model.predict_proba(X)))


# --------------------------------------------------------------------------- parameters
@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_kwargs_pass_through_and_clone(cls, binary):
    X, y = binary
    extra = {"num_parallel_tree": 2} if cls is FocalXGBClassifier else {"extra_trees": True}
    model = make(cls, **extra)
    assert model.get_params()[next(iter(extra))] == next(iter(extra.values()))
    twin = clone(model)
    assert twin.get_params() == model.get_params()
    assert make(cls).fit(X, y).predict_proba(X).tolist() != model.fit(X, y).predict_proba(X).tolist()
    twin.set_params(**{next(iter(extra)): 1 if cls is FocalXGBClassifier else False})
    np.testing.assert_array_equal(twin.fit(X, y).predict_proba(X), make(cls).fit(X, y).predict_proba(X))
    assert "gamma" in model.get_params() and model.get_params()["gamma"] == 2.0


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_params_reach_the_library(cls, binary):
    X, y = binary
    model = make(cls, max_depth=2, random_state=3).fit(X, y)
    if cls is FocalXGBClassifier:
        import json

        config = json.loads(model.get_booster().save_config())
        assert config["learner"]["gradient_booster"]["tree_train_param"]["max_depth"] == "2"
        assert model.get_booster().num_boosted_rounds() == 20
    else:
        assert model.booster_.params["max_depth"] == 2 and model.booster_.params["seed"] == 3
        assert model.booster_.num_trees() == 20


# --------------------------------------------------------------------------- sklearn integration
@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_pipeline_gridsearch_cross_val(cls, binary):
    X, y = binary
    pipe = make_pipeline(StandardScaler(), make(cls, n_estimators=15))
    grid = GridSearchCV(
        pipe,
        {f"{cls.__name__.lower()}__gamma": [0.0, 2.0], f"{cls.__name__.lower()}__alpha": [None, 0.75]},
        scoring="average_precision",
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 4 and np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    scores = cross_val_score(make(cls, n_estimators=15), X, y, scoring="average_precision", cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.5)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_pickle_and_joblib_round_trip(cls, multi, tmp_path):
    X, y = multi
    Xt, Xv, yt, yv = train_test_split(X, y, random_state=0)
    model = make(cls, early_stopping_rounds=3, n_estimators=100).fit(Xt, yt, eval_set=[(Xv, yv)])
    back = pickle.loads(pickle.dumps(model))
    joblib.dump(model, tmp_path / "m.joblib")
    loaded = joblib.load(tmp_path / "m.joblib")
    for other in (back, loaded):
        np.testing.assert_array_equal(other.predict_proba(X), model.predict_proba(X))
        np.testing.assert_array_equal(other.predict(X), model.predict(X))
        assert other.best_iteration_ == model.best_iteration_


def test_lgbm_without_usable_feature_is_the_starting_score():
    X = np.ones((30, 2))
    y = np.arange(30) % 2
    with pytest.warns(UserWarning, match="no feature of X can be split"):
        model = make(FocalLGBMClassifier).fit(X, y)
    assert model.n_estimators_ == 0
    np.testing.assert_allclose(model.decision_function(X), model.init_score_)


def test_real_data_example_runs(capsys):
    """examples/estimator_real_data.py (hpc_jobs, 4 classes, categoricals) runs and its asserts hold."""
    import runpy

    runpy.run_path(str(Path(__file__).resolve().parents[1] / "examples" / "estimator_real_data.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "FocalLGBMClassifier (posterior)" in out and "XGBClassifier" in out
