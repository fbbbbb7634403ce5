"""FocalLoss as a LightGBM objective: lgb.train and LGBMClassifier, binary and multiclass.

Equivalence at gamma = 0 (alpha None, exact Hessian) with LightGBM's built-in objectives, with
``boost_from_average=False`` (a custom objective starts at 0) and ``feature_fraction=1`` (column
sampling draws differently for custom objectives). Scaling applied: the built-in ``binary``
uses grad p - y, hess p (1 - p), exactly ours at gamma 0; the built-in ``multiclass`` uses
hess K/(K - 1) p (1 - p) (src/objective/multiclass_objective.hpp, ``factor_``), so the
multiclass comparison multiplies our exact Hessian p (1 - p) by K/(K - 1).
"""

import copy
import inspect
import pickle

import numpy as np
import pytest

lgb = pytest.importorskip("lightgbm")

from adapter_data import load_shared, weighted_classification  # noqa: E402
from boost_focal import FocalLoss  # noqa: E402
from boost_focal import _frameworks as fw  # noqa: E402
from boost_focal._frameworks import lgb_init_score  # noqa: E402

CE = FocalLoss(gamma=0.0, alpha=None, hessian="exact")
# One thread: tests share 2 cores, where OpenMP barriers stall badly under contention.
BASE = {"verbose": -1, "num_threads": 1, "boost_from_average": False, "feature_fraction": 1.0, "num_leaves": 15}


def _raw(bst, X):
    return bst.predict(X, raw_score=True)


# ---------------------------------------------------------------------------- equivalence
@pytest.mark.parametrize("weighted", [False, True])
def test_train_binary_gamma0_matches_builtin(weighted):
    X, y, w = weighted_classification()
    ds = lgb.Dataset(X, y, weight=w if weighted else None, free_raw_data=False)
    ours = _raw(lgb.train({**BASE, "objective": CE}, ds, 25), X)
    builtin = _raw(lgb.train({**BASE, "objective": "binary"}, ds, 25), X)
    np.testing.assert_allclose(ours, builtin, atol=1e-5, rtol=0)
    assert np.ptp(ours) > 2


@pytest.mark.parametrize("weighted", [False, True])
def test_train_multiclass_gamma0_matches_builtin(weighted):
    k = 4
    X, y, w = weighted_classification(n_classes=k)
    ds = lgb.Dataset(X, y, weight=w if weighted else None, free_raw_data=False)

    def scaled(preds, train_data):  # the built-in multiclass Hessian is K/(K-1) p (1 - p)
        assert preds.shape == (600, k) and not preds.flags.c_contiguous  # LightGBM's F-order view
        g, h = CE(preds, train_data)
        return g, h * k / (k - 1)

    params = {**BASE, "num_class": k}
    ours = _raw(lgb.train({**params, "objective": scaled}, ds, 15), X)
    builtin = _raw(lgb.train({**params, "objective": "multiclass"}, ds, 15), X)
    np.testing.assert_allclose(ours, builtin, atol=1e-5, rtol=0)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_gradients_reach_lightgbm_as_float32_in_its_memory_order(n_classes):
    """LightGBM converts gradients to float32 (one class after another): ours arrive that way.

    The values are the float64-arithmetic result rounded once (within 1 float32 ulp of it).
    """
    X, y, w = weighted_classification(n_classes=n_classes, seed=9)
    fl = FocalLoss(gamma=2.5, alpha=0.3 if n_classes == 2 else None)
    seen = []

    def record(g, h, preds):
        # LightGBM stores weights as float32: the reference uses the same weights
        g64, h64 = fl.grad_hess(np.asarray(preds, dtype=np.float64), y, w.astype(np.float32))
        seen.append((g, h, g64, h64))
        return g, h

    def spy_train(preds, train_data):
        return record(*fl(preds, train_data), preds)

    def spy_sklearn(y_true, y_pred, weight):
        return record(*fl(y_true, y_pred, weight), y_pred)

    extra = {} if n_classes == 2 else {"num_class": n_classes}
    lgb.train({**BASE, "objective": spy_train, **extra}, lgb.Dataset(X, y, weight=w), 3)
    clf = lgb.LGBMClassifier(objective=spy_sklearn, n_estimators=3, verbose=-1, n_jobs=1)
    clf.fit(X, y, sample_weight=w)
    assert len(seen) == 6 and clf.n_classes_ == n_classes
    for g, h, g64, h64 in seen:
        assert g.dtype == h.dtype == np.float32
        if n_classes > 2:  # LightGBM's ravel(order="F") is then a view
            assert g.flags.f_contiguous and np.shares_memory(g.ravel(order="F"), g)
        for got, ref in ((g, g64), (h, h64)):
            ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
            assert np.all(np.abs(got - ref) <= ulp)


def test_sklearn_binary_gamma0_weighted_matches_builtin():
    X, y, w = weighted_classification(seed=1)
    kw = dict(n_estimators=20, num_leaves=7, verbose=-1, n_jobs=1, boost_from_average=False)
    ours = lgb.LGBMClassifier(objective=CE, **kw).fit(X, y, sample_weight=w)
    builtin = lgb.LGBMClassifier(objective="binary", **kw).fit(X, y, sample_weight=w)
    unweighted = lgb.LGBMClassifier(objective=CE, **kw).fit(X, y)
    m = _raw(ours.booster_, X)
    np.testing.assert_allclose(m, _raw(builtin.booster_, X), atol=1e-5, rtol=0)
    assert np.abs(m - _raw(unweighted.booster_, X)).max() > 0.1  # the weights mattered


@pytest.mark.parametrize("n_classes", [2, 3])
def test_sklearn_and_train_give_the_same_weighted_model(n_classes):
    X, y, w = weighted_classification(n_classes=n_classes, seed=2)
    fl = FocalLoss(gamma=2.0, alpha=0.25 if n_classes == 2 else [0.2, 0.5, 0.3])
    clf = lgb.LGBMClassifier(objective=fl, n_estimators=15, num_leaves=7, verbose=-1, n_jobs=1).fit(
        X, y, sample_weight=w
    )
    extra = {} if n_classes == 2 else {"num_class": n_classes}
    bst = lgb.train({**BASE, "num_leaves": 7, "objective": fl, **extra}, lgb.Dataset(X, y, weight=w), 15)
    np.testing.assert_allclose(_raw(clf.booster_, X), _raw(bst, X), atol=1e-9, rtol=0)


def test_signature_deepcopy_and_pickle():
    fl = FocalLoss(gamma=1.5, alpha=0.3)
    # LGBMClassifier counts parameters: three means it passes the weights (positionally)
    assert len(inspect.signature(fl).parameters) == 3
    X, y, w = weighted_classification(seed=3)
    ds = lgb.Dataset(X, y, weight=w, free_raw_data=False)
    a = _raw(lgb.train({**BASE, "objective": fl}, ds, 8), X)
    for clone in (copy.deepcopy(fl), pickle.loads(pickle.dumps(fl))):
        np.testing.assert_array_equal(a, _raw(lgb.train({**BASE, "objective": clone}, ds, 8), X))


# ---------------------------------------------------------------------------- training
@pytest.mark.parametrize("name, num_class", [("lending_club", 1), ("satellite_statlog", 6)])
def test_gamma2_decreases_train_focal_loss_every_round(shared_data, name, num_class):
    X, y = load_shared(shared_data, name, n_max=4000)
    fl = FocalLoss(gamma=2.0, alpha=0.25 if num_class == 1 else None)
    ds = lgb.Dataset(X, y, free_raw_data=False)
    history = {}
    bst = lgb.train(
        {**BASE, "objective": fl, "num_class": num_class, "learning_rate": 0.1, "metric": "None"}, ds, 30,
        valid_sets=[ds], valid_names=["train"], feval=fl.metric(), callbacks=[lgb.record_evaluation(history)],
    )
    recorded = np.array(history["train"]["focal"])
    direct = np.array([fl.loss(bst.predict(X, raw_score=True, num_iteration=t + 1), y).mean() for t in range(30)])
    np.testing.assert_allclose(recorded, direct, rtol=1e-10)
    assert np.all(np.diff(direct) < 0), np.diff(direct)
    assert direct[-1] < 0.7 * direct[0]


def test_balanced_alpha_and_set_label_cache():
    X, y, _ = weighted_classification(n_classes=3, seed=4)
    ds = lgb.Dataset(X, y, free_raw_data=False)
    params = {**BASE, "num_class": 3}
    a = _raw(lgb.train({**params, "objective": FocalLoss(alpha="balanced")}, ds, 6), X)
    resolved = FocalLoss(alpha="balanced").resolve_alpha(y)
    np.testing.assert_array_equal(a, _raw(lgb.train({**params, "objective": resolved}, ds, 6), X))
    # relabel the same (constructed) Dataset: the cached labels and balanced alpha must follow
    y2 = (y + 1) % 3
    ds.set_label(y2)
    b = _raw(lgb.train({**params, "objective": FocalLoss(alpha="balanced")}, ds, 6), X)
    fresh = lgb.Dataset(X, y2, free_raw_data=False)
    np.testing.assert_array_equal(b, _raw(lgb.train({**params, "objective": FocalLoss(alpha="balanced")}, fresh, 6), X))


def test_labels_are_validated_once(monkeypatch):
    X, y, w = weighted_classification(seed=5)
    calls = []
    real = fw.check_labels
    monkeypatch.setattr(fw, "check_labels", lambda *a, **k: calls.append(1) or real(*a, **k))
    lgb.LGBMClassifier(objective=FocalLoss(), n_estimators=6, verbose=-1, n_jobs=1).fit(X, y, sample_weight=w)
    assert len(calls) == 1


# ---------------------------------------------------------------------------- starting score
@pytest.mark.parametrize("n_classes", [2, 4])
def test_init_score_is_the_round_zero_margin(n_classes):
    X, y, w = weighted_classification(n_classes=n_classes, seed=6)
    fl = FocalLoss(gamma=2.0, alpha=0.25 if n_classes == 2 else None)
    init = lgb_init_score(fl, y, w)
    assert init.shape == ((len(y),) if n_classes == 2 else (len(y), n_classes))
    seen = []

    def spy(preds, train_data):
        seen.append(np.array(preds))
        return fl(preds, train_data)

    extra = {} if n_classes == 2 else {"num_class": n_classes}
    bst = lgb.train({**BASE, "objective": spy, **extra}, lgb.Dataset(X, y, weight=w, init_score=init), 4)
    np.testing.assert_allclose(seen[0], init, atol=1e-12)  # round 0 starts at the optimal constant
    g, _ = fl.grad_hess(seen[0], y, w)
    assert np.abs(g.sum(axis=0)).max() < 1e-6 * w.sum()
    # not stored in the model: raw predictions are the trees only, the constant must be added back
    after3 = bst.predict(X, raw_score=True, num_iteration=3)
    np.testing.assert_allclose(after3 + fl.init_score(y, w), seen[3], atol=1e-9)
    assert np.abs(after3 - seen[3]).max() > 0.1


# ---------------------------------------------------------------------------- early stopping
def _noisy(seed):
    X, y, w = weighted_classification(n=700, seed=seed)
    X = X + np.random.default_rng(seed).normal(scale=2.0, size=X.shape)
    return (X[:400], y[:400], w[:400]), (X[400:], y[400:], w[400:])


def test_train_early_stopping_on_focal_metric():
    (Xt, yt, wt), (Xv, yv, wv) = _noisy(7)
    fl = FocalLoss(gamma=2.0, alpha=0.25)
    history = {}
    dt = lgb.Dataset(Xt, yt, weight=wt)
    dv = lgb.Dataset(Xv, yv, weight=wv, reference=dt)
    bst = lgb.train(
        {**BASE, "objective": fl, "learning_rate": 0.5, "num_leaves": 63, "min_data_in_leaf": 2, "metric": "None"},
        dt, 300, valid_sets=[dv], valid_names=["valid"], feval=fl.metric(),
        callbacks=[lgb.early_stopping(10, verbose=False), lgb.record_evaluation(history)],
    )
    valid = np.array(history["valid"]["focal"])
    assert list(history["valid"]) == ["focal"]  # metric="None" silenced the default
    assert len(valid) < 300 and bst.best_iteration == int(np.argmin(valid)) + 1  # LightGBM counts from 1
    m = bst.predict(Xv, raw_score=True, num_iteration=bst.best_iteration)
    assert abs(fl.metric().value(m, yv, wv) - valid.min()) < 1e-8


def test_sklearn_early_stopping_on_focal_metric():
    (Xt, yt, wt), (Xv, yv, wv) = _noisy(8)
    fl = FocalLoss(gamma=2.0, alpha=0.25)
    clf = lgb.LGBMClassifier(
        objective=fl, n_estimators=300, learning_rate=0.5, num_leaves=63, min_child_samples=2, metric="None",
        verbose=-1, n_jobs=1,
    )
    clf.fit(Xt, yt, sample_weight=wt, **_eval_kwargs(Xv, yv), eval_sample_weight=[wv], eval_metric=fl.metric(),
            callbacks=[lgb.early_stopping(10, verbose=False)])
    valid = np.array(clf.evals_result_["valid_0"]["focal"])
    assert list(clf.evals_result_["valid_0"]) == ["focal"]
    assert len(valid) < 300 and clf.best_iteration_ == int(np.argmin(valid)) + 1
    m = clf.booster_.predict(Xv, raw_score=True, num_iteration=clf.best_iteration_)
    assert abs(fl.metric().value(m, yv, wv) - valid.min()) < 1e-8  # weighted, as requested
    assert abs(fl.metric().value(m, yv) - valid.min()) > 1e-5


def _eval_kwargs(Xv, yv):
    """eval_X/eval_y on LightGBM >= 4.7 (eval_set is deprecated there), eval_set before."""
    if "eval_X" in inspect.signature(lgb.LGBMClassifier.fit).parameters:
        return {"eval_X": (Xv,), "eval_y": (yv,)}
    return {"eval_set": [(Xv, yv)]}


def test_default_metric_is_meaningless_without_metric_none():
    """What we document: LGBMClassifier registers binary_logloss, computed on raw scores."""
    X, y, _ = weighted_classification(seed=9)
    clf = lgb.LGBMClassifier(objective=FocalLoss(), n_estimators=5, verbose=-1, n_jobs=1)
    clf.fit(X, y, **_eval_kwargs(X, y))
    assert "binary_logloss" in clf.evals_result_["valid_0"]


# ---------------------------------------------------------------------------- errors
def test_clear_errors():
    X, y, _ = weighted_classification(n_classes=3, seed=10)
    with pytest.raises(ValueError, match="labels in 0..1"):
        lgb.train({**BASE, "objective": FocalLoss()}, lgb.Dataset(X, y), 1)
    with pytest.raises(ValueError, match="alpha has 3 per-class weights"):
        lgb.train({**BASE, "objective": FocalLoss(alpha=[0.2, 0.3, 0.5]), "num_class": 4}, lgb.Dataset(X, y), 1)
    with pytest.raises(TypeError, match="weight=w"):
        FocalLoss()(np.zeros(len(y)), lgb.Dataset(X, y % 2).construct(), sample_weight=np.ones(len(y)))
