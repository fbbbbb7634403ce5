"""FocalLoss as an XGBoost objective: xgb.train and XGBClassifier, binary and multiclass.

Equivalence at gamma = 0 (alpha None, exact Hessian) with the built-in objectives proves the
gradient, the Hessian, the weights and the output layout reach XGBoost as intended. Scaling
applied: binary:logistic uses grad p - y, hess p(1 - p), exactly our gamma=0 derivatives, so no
scaling; multi:softprob uses hess 2 p(1 - p) (xgboost/src/objective/multiclass_obj.cu), twice
our exact softmax diagonal p(1 - p), so the multiclass comparison doubles our Hessian.
"""

import json
import pickle
import sys
import types

import numpy as np
import pytest

xgb = pytest.importorskip("xgboost")

from adapter_data import load_shared, weighted_classification  # noqa: E402
from boost_focal import FocalLoss  # noqa: E402
from boost_focal import _frameworks as fw  # noqa: E402
from boost_focal._frameworks import xgb_base_score  # noqa: E402

CE = FocalLoss(gamma=0.0, alpha=None, hessian="exact")  # plain cross-entropy
# One XGBoost thread: tests share 2 cores, where OpenMP barriers stall badly under contention.
ONE = {"nthread": 1}


def _base_score(bst):
    return json.loads(bst.save_config())["learner"]["learner_model_param"]["base_score"]


# ---------------------------------------------------------------------------- equivalence
@pytest.mark.parametrize("weighted", [False, True])
def test_train_binary_gamma0_matches_binary_logistic(weighted):
    X, y, w = weighted_classification()
    d = xgb.DMatrix(X, y, weight=w if weighted else None)
    params = {"objective": "binary:logistic", "base_score": 0.3, "max_depth": 4, "eta": 0.3}
    ours = xgb.train({**ONE, **params}, d, 25, obj=CE).predict(d, output_margin=True)
    builtin = xgb.train({**ONE, **params}, d, 25).predict(d, output_margin=True)
    np.testing.assert_allclose(ours, builtin, atol=1e-5, rtol=0)
    assert np.ptp(ours) > 2  # the models learned something, so the match is not trivial


@pytest.mark.parametrize("weighted", [False, True])
def test_train_multiclass_gamma0_matches_softprob(weighted):
    X, y, w = weighted_classification(n_classes=4)
    d = xgb.DMatrix(X, y, weight=w if weighted else None)
    params = {"objective": "multi:softprob", "num_class": 4, "base_score": [0.1, 0.2, -0.1, 0.0], "max_depth": 4}

    def doubled(predt, dtrain):  # multi:softprob's Hessian is 2 p (1 - p)
        g, h = CE(predt, dtrain)
        assert g.shape == predt.shape == (600, 4) and g.dtype == np.float32
        return g, 2.0 * h

    ours = xgb.train({**ONE, **params}, d, 15, obj=doubled).predict(d, output_margin=True)
    builtin = xgb.train({**ONE, **params}, d, 15).predict(d, output_margin=True)
    np.testing.assert_allclose(ours, builtin, atol=1e-5, rtol=0)


def test_sklearn_binary_gamma0_weighted_matches_builtin():
    X, y, w = weighted_classification(seed=1)
    kw = dict(n_estimators=20, max_depth=3, base_score=0.4)
    ours = xgb.XGBClassifier(n_jobs=1, objective=CE, **kw).fit(X, y, sample_weight=w)
    builtin = xgb.XGBClassifier(n_jobs=1, objective="binary:logistic", **kw).fit(X, y, sample_weight=w)
    unweighted = xgb.XGBClassifier(n_jobs=1, objective=CE, **kw).fit(X, y)
    m = ours.predict(X, output_margin=True)
    np.testing.assert_allclose(m, builtin.predict(X, output_margin=True), atol=1e-5, rtol=0)
    assert np.abs(m - unweighted.predict(X, output_margin=True)).max() > 0.1  # the weights mattered
    # XGBClassifier applies the sigmoid of binary:logistic to the custom objective's margin
    np.testing.assert_allclose(ours.predict_proba(X)[:, 1], 1 / (1 + np.exp(-m)), rtol=1e-5)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_sklearn_and_train_give_the_same_weighted_model(n_classes):
    """The same FocalLoss instance through XGBClassifier and xgb.train: identical margins."""
    X, y, w = weighted_classification(n_classes=n_classes, seed=2)
    fl = FocalLoss(gamma=2.0, alpha=0.25 if n_classes == 2 else [0.2, 0.5, 0.3])
    params = dict(max_depth=3, learning_rate=0.3)
    base = 0.5 if n_classes == 2 else [0.0] * n_classes
    clf = xgb.XGBClassifier(n_jobs=1, objective=fl, n_estimators=15, base_score=base, **params)
    clf.fit(X, y, sample_weight=w)
    objective = "binary:logistic" if n_classes == 2 else "multi:softprob"
    extra = {} if n_classes == 2 else {"num_class": n_classes}
    bst = xgb.train({**ONE, "objective": objective, "base_score": base, **extra, **params},
                    xgb.DMatrix(X, y, weight=w), 15, obj=fl)
    np.testing.assert_allclose(clf.predict(X, output_margin=True),
                               bst.predict(xgb.DMatrix(X), output_margin=True), atol=1e-6, rtol=0)


def test_instance_is_picklable_and_reusable():
    X, y, w = weighted_classification(seed=3)
    fl = FocalLoss(gamma=2.0, alpha=0.25)
    d = xgb.DMatrix(X, y, weight=w)
    params = {"objective": "binary:logistic", "max_depth": 3}
    a = xgb.train({**ONE, **params}, d, 10, obj=fl).predict(d, output_margin=True)
    b = xgb.train({**ONE, **params}, d, 10, obj=pickle.loads(pickle.dumps(fl))).predict(d, output_margin=True)
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------- training
@pytest.mark.parametrize(
    "name, params",
    [("lending_club", {"objective": "binary:logistic"}),
     ("satellite_statlog", {"objective": "multi:softprob", "num_class": 6})],
)
def test_gamma2_decreases_train_focal_loss_every_round(shared_data, name, params):
    X, y = load_shared(shared_data, name, n_max=4000)
    fl = FocalLoss(gamma=2.0, alpha=0.25 if name == "lending_club" else None)
    d = xgb.DMatrix(X, y)
    history = {}
    bst = xgb.train({**ONE, **params, "eta": 0.1, "max_depth": 4, "disable_default_eval_metric": 1}, d, 30, obj=fl,
                    evals=[(d, "train")], custom_metric=fl.metric(), evals_result=history, verbose_eval=False)
    recorded = np.array(history["train"]["focal"])
    # independent check: the loss of each round's margins, from FocalLoss itself
    direct = np.array([fl.loss(bst.predict(d, output_margin=True, iteration_range=(0, t + 1)), y).mean()
                       for t in range(30)])
    np.testing.assert_allclose(recorded, direct, atol=1e-6)  # XGBoost logs 5 decimals
    assert np.all(np.diff(direct) < 0), np.diff(direct)
    assert direct[-1] < 0.7 * direct[0]


def test_balanced_alpha_is_resolved_from_the_training_labels():
    X, y, _ = weighted_classification(n_classes=3, seed=4)
    d = xgb.DMatrix(X, y)
    params = {"objective": "multi:softprob", "num_class": 3, "max_depth": 3}
    a = xgb.train({**ONE, **params}, d, 8, obj=FocalLoss(alpha="balanced")).predict(d, output_margin=True)
    resolved = FocalLoss(alpha="balanced").resolve_alpha(y)
    assert not isinstance(resolved.alpha, str)
    b = xgb.train({**ONE, **params}, d, 8, obj=resolved).predict(d, output_margin=True)
    np.testing.assert_array_equal(a, b)


def test_cache_follows_set_label_between_trainings():
    """The same DMatrix, relabelled: a second training must see the new labels."""
    X, y, _ = weighted_classification(seed=5)
    fl = FocalLoss()
    params = {"objective": "binary:logistic", "max_depth": 3}
    d = xgb.DMatrix(X, y)
    xgb.train({**ONE, **params}, d, 5, obj=fl)
    d.set_label(1 - y)
    relabelled = xgb.train({**ONE, **params}, d, 5, obj=fl).predict(d, output_margin=True)
    fresh = xgb.DMatrix(X, 1 - y)
    expected = xgb.train({**ONE, **params}, fresh, 5, obj=fl).predict(fresh, output_margin=True)
    np.testing.assert_array_equal(relabelled, expected)


def test_labels_are_validated_once_per_booster(monkeypatch):
    X, y, _ = weighted_classification(seed=6)
    calls = []
    real = fw.check_labels
    monkeypatch.setattr(fw, "check_labels", lambda *a, **k: calls.append(1) or real(*a, **k))
    xgb.train({**ONE, "objective": "binary:logistic"}, xgb.DMatrix(X, y), 6, obj=FocalLoss())
    assert len(calls) == 1


# ---------------------------------------------------------------------------- starting score
@pytest.mark.parametrize("n_classes", [2, 4])
def test_base_score_starts_at_init_score_and_is_stored(tmp_path, n_classes):
    X, y, w = weighted_classification(n_classes=n_classes, seed=7)
    fl = FocalLoss(gamma=2.0, alpha=0.25 if n_classes == 2 else None)
    s = fl.init_score(y, w)
    params = {"base_score": xgb_base_score(fl, y, w), "eta": 0.0}
    if n_classes == 2:
        params["objective"] = "binary:logistic"
        assert 0 < params["base_score"] < 1
    else:
        params.update(objective="multi:softprob", num_class=n_classes)
        assert len(params["base_score"]) == n_classes
    bst = xgb.train({**ONE, **params}, xgb.DMatrix(X, y, weight=w), 1, obj=fl)  # eta 0: trees add nothing
    path = tmp_path / "model.json"
    bst.save_model(path)
    loaded = xgb.Booster(model_file=str(path))
    margin = loaded.predict(xgb.DMatrix(X), output_margin=True)
    np.testing.assert_allclose(margin, np.broadcast_to(s, margin.shape), atol=1e-6)
    # and it is the optimum: the mean weighted gradient there is zero
    g, _ = fl.grad_hess(margin.astype(np.float64), y, w)
    assert np.abs(g.sum(axis=0)).max() < 1e-4 * w.sum()


def test_base_score_without_it_the_start_is_zero():
    X, y, _ = weighted_classification(seed=8)
    bst = xgb.train({**ONE, "objective": "binary:logistic", "eta": 0.0}, xgb.DMatrix(X, y), 1, obj=FocalLoss())
    np.testing.assert_allclose(bst.predict(xgb.DMatrix(X), output_margin=True), 0.0, atol=1e-7)
    assert "5E-1" in _base_score(bst)  # XGBoost estimates no intercept for a custom objective


# ---------------------------------------------------------------------------- early stopping
def _split(X, y, w):
    return (X[:400], y[:400], w[:400]), (X[400:], y[400:], w[400:])


def test_train_early_stopping_on_focal_metric():
    X, y, w = weighted_classification(n=700, seed=9)
    X = X + np.random.default_rng(9).normal(scale=2.0, size=X.shape)  # noisy: overfits quickly
    (Xt, yt, wt), (Xv, yv, wv) = _split(X, y, w)
    fl = FocalLoss(gamma=2.0, alpha=0.25)
    dv = xgb.DMatrix(Xv, yv, weight=wv)
    history = {}
    bst = xgb.train(
        {**ONE, "objective": "binary:logistic", "eta": 0.5, "max_depth": 6, "disable_default_eval_metric": 1},
        xgb.DMatrix(Xt, yt, weight=wt), 300, obj=fl, evals=[(dv, "valid")], custom_metric=fl.metric(),
        evals_result=history, verbose_eval=False,
        callbacks=[xgb.callback.EarlyStopping(rounds=10, metric_name="focal", data_name="valid", maximize=False)],
    )
    valid = np.array(history["valid"]["focal"])
    assert list(history["valid"]) == ["focal"]  # the default metric is silenced
    assert len(valid) < 300 and bst.best_iteration == int(np.argmin(valid))
    m = bst.predict(dv, output_margin=True, iteration_range=(0, bst.best_iteration + 1))
    assert abs(fl.metric().value(m, yv, wv) - valid.min()) < 1e-6


def test_sklearn_early_stopping_on_focal_metric():
    X, y, w = weighted_classification(n=700, seed=10)
    X = X + np.random.default_rng(10).normal(scale=2.0, size=X.shape)
    (Xt, yt, wt), (Xv, yv, wv) = _split(X, y, w)
    fl = FocalLoss(gamma=2.0, alpha=0.25)
    clf = xgb.XGBClassifier(
        n_jobs=1, objective=fl, eval_metric=fl.metric(), n_estimators=300, learning_rate=0.5, max_depth=6,
        early_stopping_rounds=10, disable_default_eval_metric=True,
    ).fit(Xt, yt, sample_weight=wt, eval_set=[(Xv, yv)], sample_weight_eval_set=[wv], verbose=False)
    valid = np.array(clf.evals_result()["validation_0"]["focal"])
    assert len(valid) < 300 and clf.best_iteration == int(np.argmin(valid))
    # the weighted value, not the unweighted one, drove the stopping
    m = clf.predict(Xv, output_margin=True, iteration_range=(0, clf.best_iteration + 1))
    assert abs(fl.metric().value(m, yv, wv) - valid.min()) < 1e-6
    assert abs(fl.metric().value(m, yv) - valid.min()) > 1e-5


# ---------------------------------------------------------------------------- errors and GPU hook
def test_clear_errors():
    X, y, _ = weighted_classification(n_classes=3, seed=11)
    with pytest.raises(ValueError, match="labels in 0..1"):
        xgb.train({**ONE, "objective": "binary:logistic"}, xgb.DMatrix(X, y), 1, obj=FocalLoss())
    with pytest.raises(ValueError, match="no labels"):
        FocalLoss()(np.zeros(len(y), np.float32), xgb.DMatrix(X))
    with pytest.raises(TypeError, match="weight=w"):
        FocalLoss()(np.zeros(len(y), np.float32), xgb.DMatrix(X, y % 2), sample_weight=np.ones(len(y)))
    d = xgb.DMatrix(X, y % 2, weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="DMatrix weights sums to 0"):
        FocalLoss()(np.zeros(len(y), np.float32), d)


def test_cuda_booster_uses_the_gpu_hook(monkeypatch):
    """When the booster runs on CUDA, the objective hands over to boost_focal._cuda."""
    X, y, _ = weighted_classification(seed=12)
    calls = {"device": 0, "grad": 0}
    fake = types.ModuleType("boost_focal._cuda")

    def booster_device_from_stack():
        calls["device"] += 1
        return "cuda"

    def xgb_cuda_grad_hess(loss, predt, dtrain):
        calls["grad"] += 1
        return CE.grad_hess(predt, dtrain.get_label())

    fake.booster_device_from_stack = booster_device_from_stack
    fake.xgb_cuda_grad_hess = xgb_cuda_grad_hess
    monkeypatch.setitem(sys.modules, "boost_focal._cuda", fake)
    xgb.train({**ONE, "objective": "binary:logistic"}, xgb.DMatrix(X, y), 4, obj=FocalLoss())
    assert calls == {"device": 1, "grad": 4}  # device asked once per booster
    xgb.XGBClassifier(n_jobs=1, objective=FocalLoss(), n_estimators=3).fit(X, y)
    assert calls == {"device": 2, "grad": 7}
