"""boost_focal.xgb_train (boost_focal/_xgb_loop.py): xgb.train's results without its per-round layer.

Every comparison is bit-for-bit against ``xgb.train`` itself: the same margins reach the
objective and the same gradients reach XGBoost, so the trees must be identical.
"""

import io
import contextlib

import numpy as np
import pytest

xgb = pytest.importorskip("xgboost")

from adapter_data import weighted_classification  # noqa: E402
from boost_focal import FocalLoss, FocalXGBClassifier, xgb_train  # noqa: E402
from boost_focal import _xgb_loop  # noqa: E402

ONE = {"nthread": 1}
BINARY = {**ONE, "objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "disable_default_eval_metric": 1}


def _data(n_classes=2, seed=0, weighted=True):
    X, y, w = weighted_classification(n_classes=n_classes, n=700, seed=seed)
    X = X + np.random.default_rng(seed).normal(scale=1.5, size=X.shape)  # noisy: early stopping stops
    dtrain = xgb.DMatrix(X[:500], y[:500], weight=w[:500] if weighted else None)
    dvalid = xgb.DMatrix(X[500:], y[500:], weight=w[500:] if weighted else None)
    return dtrain, dvalid


def _params(n_classes):
    if n_classes == 2:
        return BINARY
    return {**BINARY, "objective": "multi:softprob", "num_class": n_classes}


def _both(params, dtrain, rounds, **kwargs):
    """(booster, evals_result, stdout) from xgb.train and from xgb_train, same arguments."""
    out = []
    for train in (xgb.train, xgb_train):
        history = {}
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            bst = train(params, dtrain, rounds, evals_result=history, **kwargs)
        out.append((bst, history, buf.getvalue()))
    return out


def _same_model(a, b, data):
    assert a.num_boosted_rounds() == b.num_boosted_rounds()
    pa, pb = a.predict(data, output_margin=True), b.predict(data, output_margin=True)
    assert pa.dtype == pb.dtype and np.array_equal(pa, pb)
    assert a.save_raw("json") == b.save_raw("json")


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("weighted", [False, True])
def test_focal_loss_same_model_with_eval_sets_and_early_stopping(n_classes, weighted):
    dtrain, dvalid = _data(n_classes, seed=n_classes, weighted=weighted)
    fl = FocalLoss(2.0, alpha=None if n_classes > 2 else 0.25)
    (a, ha, oa), (b, hb, ob) = _both(
        _params(n_classes), dtrain, 300, obj=fl, evals=[(dtrain, "train"), (dvalid, "valid")],
        custom_metric=fl.metric(), early_stopping_rounds=5, verbose_eval=3,
    )
    _same_model(a, b, dvalid)
    assert a.num_boosted_rounds() < 300  # early stopping fired, in both
    assert a.best_iteration == b.best_iteration and a.best_score == b.best_score
    assert ha == hb and list(ha) == ["train", "valid"]
    assert oa == ob and oa.count("\n") > 3  # verbose output, every 3 rounds


def test_plain_callable_gets_a_fresh_copy_each_round_like_xgb_train():
    dtrain, _ = _data()
    y, w = dtrain.get_label(), dtrain.get_weight()
    seen = {"train": [], "lean": []}

    def logistic(key):
        def obj(predt, d):
            assert d is dtrain and predt.flags.writeable and predt.flags.owndata
            seen[key].append(predt)
            predt += 0.0  # writable, ours to modify
            p = 1.0 / (1.0 + np.exp(-predt))
            return (p - y) * w, p * (1 - p) * w  # float64: XGBoost reads it as such

        return obj

    a = xgb.train(BINARY, dtrain, 12, obj=logistic("train"))
    b = xgb_train(BINARY, dtrain, 12, obj=logistic("lean"))
    _same_model(a, b, dtrain)
    assert len({id(m) for m in seen["lean"]}) == 12  # one array per round, kept intact
    for ma, mb in zip(seen["train"], seen["lean"]):
        assert np.array_equal(ma, mb)


def test_callbacks_see_the_same_rounds_and_can_stop_training():
    dtrain, dvalid = _data(seed=3)
    log = {}

    class StopAt(xgb.callback.TrainingCallback):
        def __init__(self, key):
            super().__init__()
            self.key = key

        def before_training(self, model):
            log[self.key] = ["start"]
            return model

        def after_iteration(self, model, epoch, evals_log):
            log[self.key].append((epoch, model.num_boosted_rounds(), sorted(evals_log)))
            return epoch == 6

    fl = FocalLoss(1.0)
    a = xgb.train(BINARY, dtrain, 50, obj=fl, evals=[(dvalid, "v")], custom_metric=fl.metric(),
                  callbacks=[StopAt("train")], verbose_eval=False)
    b = xgb_train(BINARY, dtrain, 50, obj=fl, evals=[(dvalid, "v")], custom_metric=fl.metric(),
                  callbacks=[StopAt("lean")], verbose_eval=False)
    _same_model(a, b, dvalid)
    assert b.num_boosted_rounds() == 7 and log["train"] == log["lean"]


@pytest.mark.parametrize("n_classes", [2, 3])
def test_without_evals_the_callbacks_run_without_an_evaluation_call(monkeypatch, n_classes):
    """No evals and no custom metric: the loop calls the callbacks itself (no per-round
    Booster.eval_set of an empty list); the callbacks see the same rounds and the same empty
    history, can stop training, and the model is xgb.train's."""
    dtrain, dvalid = _data(n_classes=n_classes, seed=4)
    params = _params(n_classes)
    log = {}

    class StopAt(xgb.callback.TrainingCallback):
        def __init__(self, key):
            super().__init__()
            self.key = key

        def before_iteration(self, model, epoch, evals_log):
            log[self.key].append(("before", epoch))
            return False

        def after_iteration(self, model, epoch, evals_log):
            log[self.key].append((epoch, model.num_boosted_rounds(), dict(evals_log)))
            return epoch == 5

    fl = FocalLoss(2.0)
    log["train"], log["lean"] = [], []
    a = xgb.train(params, dtrain, 20, obj=fl, callbacks=[StopAt("train")], verbose_eval=False)
    evaluations = []
    real = xgb.Booster.eval_set
    monkeypatch.setattr(xgb.Booster, "eval_set", lambda self, *a, **k: evaluations.append(1) or real(self, *a, **k))
    result = {}
    b = xgb_train(params, dtrain, 20, obj=fl, callbacks=[StopAt("lean")], verbose_eval=False, evals_result=result)
    _same_model(a, b, dvalid)
    assert b.num_boosted_rounds() == 6 and log["train"] == log["lean"] and result == {}
    assert evaluations == []
    c = xgb_train(params, dtrain, 8, obj=fl, verbose_eval=False)  # no callbacks at all
    assert evaluations == []
    _same_model(xgb.train(params, dtrain, 8, obj=fl, verbose_eval=False), c, dvalid)
    assert len(evaluations) == 8  # xgb.train itself evaluates the empty list every round
    evaluations.clear()
    xgb_train(params, dtrain, 3, obj=fl, evals=[(dvalid, "v")], verbose_eval=False)
    assert len(evaluations) == 3  # with evals: the container's own evaluation, every round


def test_continued_training_and_other_gradient_forms():
    dtrain, dvalid = _data(n_classes=3, seed=5)
    params = _params(3)
    fl = FocalLoss(2.0)
    start = xgb.train(params, dtrain, 4, obj=fl)
    a = xgb.train(params, dtrain, 4, obj=fl, xgb_model=start)
    b = xgb_train(params, dtrain, 4, obj=fl, xgb_model=start)
    _same_model(a, b, dvalid)

    def flat_float16(predt, d):  # flat, row-major, float16: XGBoost warns and converts
        g, h = fl(predt, d)
        return g.astype(np.float16).ravel(), h.astype(np.float16).ravel()

    with pytest.warns(FutureWarning, match="shape of the gradient"):
        a = xgb.train(params, dtrain, 3, obj=flat_float16)
    with pytest.warns(FutureWarning, match="shape of the gradient"):
        b = xgb_train(params, dtrain, 3, obj=flat_float16)
    # float16 -> float32 here is exact, so the lean loop's conversion is the same gradients
    # (xgboost 3.2 itself frees its converted temporary too early: compare with a float32 run)
    c = xgb.train(params, dtrain, 3, obj=lambda p, d: tuple(v.astype(np.float16).astype(np.float32) for v in fl(p, d)))
    _same_model(b, c, dvalid)
    with pytest.raises(TypeError, match="NumPy arrays"):
        xgb_train(params, dtrain, 2, obj=lambda p, d: (list(p.ravel()), list(p.ravel())))


def test_the_lean_path_skips_booster_update(monkeypatch):
    dtrain, _ = _data()

    def no_update(*args, **kwargs):
        raise AssertionError("Booster.update was called")

    monkeypatch.setattr(xgb.Booster, "update", no_update)
    xgb_train(BINARY, dtrain, 3, obj=FocalLoss())  # would raise through xgb.train
    with pytest.raises(AssertionError, match="update was called"):
        xgb.train(BINARY, dtrain, 3, obj=FocalLoss())


def test_falls_back_to_xgb_train_where_the_lean_path_does_not_apply(monkeypatch):
    dtrain, _ = _data()
    calls = []
    real = xgb.train

    def spy(*args, **kwargs):
        calls.append(kwargs.get("obj"))
        return real(*args, **kwargs)

    monkeypatch.setattr(xgb, "train", spy)
    xgb_train(BINARY, dtrain, 2)  # no obj: the built-in objective, xgb.train's own loop
    assert calls == [None]
    fl = FocalLoss()
    monkeypatch.setattr(_xgb_loop, "SUPPORTED_VERSIONS", ((0, 1), (0, 2)))  # "an unchecked version"
    assert not _xgb_loop.supported(xgb)
    xgb_train(BINARY, dtrain, 2, obj=fl)
    assert calls == [None, fl]


def test_a_gpu_booster_keeps_booster_update(monkeypatch):
    """Where the booster is not on the CPU, each round goes through Booster.update (FocalLoss's
    device path looks for it on the stack)."""
    dtrain, _ = _data()
    rounds = []
    real = xgb.Booster.update

    def spy(self, *args, **kwargs):
        rounds.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(xgb.Booster, "update", spy)
    monkeypatch.setattr(_xgb_loop, "_on_cpu", lambda bst: False)
    a = xgb_train(BINARY, dtrain, 3, obj=FocalLoss())
    assert len(rounds) == 3
    monkeypatch.setattr(xgb.Booster, "update", real)
    _same_model(a, xgb.train(BINARY, dtrain, 3, obj=FocalLoss()), dtrain)


def test_on_cpu_reads_the_booster_device():
    dtrain, _ = _data()
    assert _xgb_loop._on_cpu(xgb.Booster(BINARY, [dtrain]))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_estimator_trains_the_same_model_as_through_xgb_train(monkeypatch, n_classes):
    X, y, w = weighted_classification(n_classes=n_classes, n=700, seed=7)
    X = X + np.random.default_rng(7).normal(scale=1.5, size=X.shape)
    kwargs = dict(n_estimators=200, max_depth=3, learning_rate=0.3, n_jobs=1, early_stopping_rounds=5)

    def fit():
        return FocalXGBClassifier(**kwargs).fit(
            X[:500], y[:500], sample_weight=w[:500], eval_set=[(X[500:], y[500:])]
        )

    lean = fit()
    monkeypatch.setattr(_xgb_loop, "supported", lambda xgb: False)  # -> xgb.train
    reference = fit()
    assert lean.n_estimators_ < 200 and lean.n_estimators_ == reference.n_estimators_
    assert lean.evals_result_ == reference.evals_result_
    assert np.array_equal(lean.decision_function(X), reference.decision_function(X))
    assert lean.booster_.save_raw("json") == reference.booster_.save_raw("json")
