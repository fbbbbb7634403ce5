"""FocalMetric: value, the four calling conventions, and its contract with the libraries."""

import copy
import inspect
import pickle

import numpy as np
import pytest
from sklearn.metrics import log_loss

from boost_focal import FocalLoss
from boost_focal.metric import FocalMetric

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")


def _binary(n=300, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=2.0, size=n).astype(dtype)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.int64)
    return z, y, rng.uniform(0.1, 3.0, n)


def _multi(n=300, k=4, seed=1):
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=2.0, size=(n, k))
    return z, rng.integers(0, k, n), rng.uniform(0.1, 3.0, n)


# ---------------------------------------------------------------------------- value
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gamma0_is_weighted_log_loss(dtype):
    z, y, w = _binary(dtype=dtype)
    m = FocalMetric(FocalLoss(gamma=0.0))
    p = 1 / (1 + np.exp(-z.astype(np.float64)))
    tol = 1e-6 if dtype == np.float32 else 1e-12
    assert m.value(z, y) == pytest.approx(log_loss(y, p), rel=tol)
    assert m.value(z, y, w) == pytest.approx(log_loss(y, p, sample_weight=w), rel=tol)


def test_multiclass_gamma0_is_log_loss():
    z, y, w = _multi()
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    m = FocalMetric(FocalLoss(gamma=0.0))
    assert m.value(z, y, w) == pytest.approx(log_loss(y, p, sample_weight=w, labels=range(4)), rel=1e-12)


@pytest.mark.parametrize("make", [_binary, _multi])
def test_value_is_weighted_mean_of_focal_loss(make):
    z, y, w = make()
    fl = FocalLoss(gamma=2.0, alpha=0.25 if z.ndim == 1 else [0.1, 0.2, 0.3, 0.4])
    m = fl.metric()
    assert m.value(z, y, w) == pytest.approx(fl.loss(z, y, w).sum() / w.sum(), rel=1e-12)
    assert m.value(z, y) == pytest.approx(fl.loss(z, y).mean(), rel=1e-12)
    assert fl.metric(weighted=False).value(z, y, w) == pytest.approx(fl.loss(z, y).mean(), rel=1e-12)


# ---------------------------------------------------------------------------- call conventions
def test_the_four_calling_conventions_agree():
    z, y, w = _binary()
    fl = FocalLoss(gamma=1.0, alpha=0.4)
    m = fl.metric(name="fl1")
    expected = m.value(z, y, w)
    X = np.zeros((len(y), 1))
    # xgb.train(custom_metric=m): m(predt, dmatrix) -> (name, value)
    assert m(z.astype(np.float32), xgb.DMatrix(X, y, weight=w)) == ("fl1", pytest.approx(expected, rel=1e-6))
    # lgb.train(feval=m): m(preds, dataset) -> (name, value, is_higher_better)
    ds = lgb.Dataset(X, y, weight=w, params={"verbose": -1}).construct()
    name, value, higher = m(z, ds)
    assert (name, higher) == ("fl1", False) and value == pytest.approx(expected, rel=1e-6)  # weights stored as f32
    # XGBClassifier(eval_metric=m): m(y, p) or m(y, p, sample_weight=w) -> float
    assert m(y, z, sample_weight=w) == pytest.approx(expected, rel=1e-12)
    assert m(y, z) == pytest.approx(m.value(z, y), rel=1e-12)
    assert isinstance(m(y, z), float)
    # LGBMClassifier(eval_metric=m): m(y, p, weight_or_None) -> (name, value, False)
    assert m(y, z, w) == ("fl1", pytest.approx(expected, rel=1e-12), False)
    assert m(y, z, None) == ("fl1", pytest.approx(m.value(z, y), rel=1e-12), False)


def test_signature_name_pickle_and_copy():
    m = FocalLoss(gamma=2.0).metric(name="focal_g2")
    # LGBMClassifier counts 3 parameters -> passes the weight positionally
    assert list(inspect.signature(m).parameters) == ["y_true", "y_pred", "sample_weight"]
    assert "loss" in inspect.signature(FocalMetric).parameters  # the class keeps its own signature
    assert m.__name__ == "focal_g2" and FocalMetric.__name__ == "FocalMetric"  # XGBClassifier uses __name__
    z, y, w = _binary()
    for clone in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert clone.__name__ == "focal_g2" and clone.value(z, y, w) == m.value(z, y, w)


def test_bad_arguments():
    with pytest.raises(TypeError, match="FocalLoss"):
        FocalMetric("focal")
    with pytest.raises(ValueError, match="resolve_alpha"):
        FocalLoss(alpha="balanced").metric()
    with pytest.raises(TypeError, match="name"):
        FocalLoss().metric(name="")
    z, y, w = _binary()
    m = FocalLoss().metric()
    with pytest.raises(TypeError, match="called as"):
        m(z)
    with pytest.raises(TypeError, match="called as"):
        m(y, z, weights=w)
    with pytest.raises(ValueError, match="sums to 0"):
        m.value(z, y, np.zeros_like(w))
    with pytest.raises(ValueError, match="labels"):
        m.value(z, y + 1)
    with pytest.raises(ValueError, match="NaN"):
        m.value(np.full_like(z, np.nan), y)


# ---------------------------------------------------------------------------- inside the libraries
def test_xgbclassifier_reports_the_metric_by_name():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
    fl = FocalLoss(gamma=2.0)
    clf = xgb.XGBClassifier(objective=fl, eval_metric=fl.metric(name="fl"), n_estimators=5, n_jobs=1,
                            disable_default_eval_metric=True)
    clf.fit(X, y, eval_set=[(X, y)], verbose=False)
    history = clf.evals_result()["validation_0"]
    assert list(history) == ["fl"]
    m = clf.predict(X, output_margin=True)
    assert history["fl"][-1] == pytest.approx(fl.metric().value(m, y), abs=1e-6)


def test_lgbmclassifier_multiclass_metric_matches_direct_value():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 4))
    y = np.digitize(X[:, 0] + rng.normal(size=300), [-0.5, 0.5])
    w = rng.uniform(0.5, 2.0, 300)
    fl = FocalLoss(gamma=2.0, alpha=[0.5, 0.2, 0.3])
    clf = lgb.LGBMClassifier(objective=fl, n_estimators=5, metric="None", verbose=-1, n_jobs=1)
    params = inspect.signature(lgb.LGBMClassifier.fit).parameters
    evals = {"eval_X": (X,), "eval_y": (y,)} if "eval_X" in params else {"eval_set": [(X, y)]}
    clf.fit(X, y, sample_weight=w, eval_sample_weight=[w], eval_metric=fl.metric(), **evals)
    value = clf.evals_result_["valid_0"]["focal"][-1]
    assert value == pytest.approx(fl.metric().value(clf.booster_.predict(X, raw_score=True), y, w), rel=1e-7)
