"""The benchmarks' machinery: the training benchmark's estimator and replayed objective, and the
calibration noise floor's counting.

Not timings (the benchmark measures those): the arithmetic of the per-round estimator on
synthetic clocks, and that replaying recorded FocalLoss gradients grows the same model, which is
what lets the benchmark attribute the replay's time to the trees alone.
"""

import json

import numpy as np
import pytest

from benchmarks import bench_training
from benchmarks.timing import RoundClock, interleaved_round_medians


def test_round_medians_sum_the_median_of_each_round():
    # three repeats of a 3-round run per candidate; round durations chosen so that the sum of
    # per-round medians differs from the median of the totals
    durations = {
        "a": iter([[1.0, 1.0, 9.0], [1.0, 5.0, 1.0], [2.0, 1.0, 1.0]]),
        "b": iter([[3.0, 3.0, 3.0], [3.0, 3.0, 3.0], [3.0, 3.0, 3.0]]),
    }

    def candidate(name):
        def fn(clock):
            clock.marks = list(np.cumsum([0.0, *next(durations[name])]))

        return fn

    out = interleaved_round_medians({"a": candidate("a"), "b": candidate("b")}, repeats=3)
    # a: per-round medians 1, 1, 1 -> 3; totals 11, 7, 4 -> median 7
    assert out["a"] == (3.0, 7.0)
    assert out["b"] == (9.0, 9.0)


@pytest.mark.parametrize("lib", ["xgboost", "lightgbm"])
def test_round_clock_ticks_once_per_boosting_round(lib):
    pytest.importorskip(lib)
    x, y = bench_training.binary_data(2_000)
    build = bench_training._xgb_cases if lib == "xgboost" else bench_training._lgb_cases
    cases, _, _, _ = build(x, y, 2, 4, 2.0)
    for name, fn in cases.items():
        clock = RoundClock()
        model = fn(clock)
        boosted = model.num_boosted_rounds() if lib == "xgboost" else model.current_iteration()
        assert len(clock.rounds()) == boosted == 4, name


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("lib", ["xgboost", "lightgbm"])
def test_replayed_gradients_grow_the_focal_model(lib, k):
    """_xgb_cases/_lgb_cases record a FocalLoss run, replay it and compare predictions exactly."""
    pytest.importorskip(lib)
    if k == 2:
        x, y = bench_training.binary_data(3_000)
    else:
        x, y = bench_training.softmax_data(3_000, k)
    build = bench_training._xgb_cases if lib == "xgboost" else bench_training._lgb_cases
    cases, same, _, _ = build(x, y, k, 5, 2.0)
    assert same is True
    assert set(cases) == {"builtin", "focal", "replay"}


@pytest.mark.parametrize("k", [2, 3])
def test_lean_loop_cases_replay_the_focal_model_and_tick_every_round(k):
    """The XGBoost rows through boost_focal.xgb_train: the replay of FocalLoss's gradients
    reproduces the FocalLoss model through that loop, every case ticks once a round, and the
    logloss replay grows the built-in's model (to within NumPy's logloss against the built-in's
    rounding), so "replay / logloss replay" isolates the focal trees' shape."""
    xgb = pytest.importorskip("xgboost")
    x, y = bench_training.binary_data(3_000) if k == 2 else bench_training.softmax_data(3_000, k)
    cases, same, _, _ = bench_training._xgb_cases(x, y, k, 5, 2.0, lean=True)
    assert same is True
    assert set(cases) == {"builtin", "focal", "replay", "lean_focal", "lean_replay", "lean_logloss_replay"}
    models = {}
    for name, fn in cases.items():
        clock = RoundClock()
        models[name] = fn(clock)
        assert len(clock.rounds()) == models[name].num_boosted_rounds() == 5, name
    probe = xgb.DMatrix(x[:500])
    start = bench_training.prior_margin(y, k)
    offset = np.tile(start, (500, 1)) if k > 2 else np.full(500, start)
    logloss = models["lean_logloss_replay"].predict(xgb.DMatrix(x[:500], base_margin=offset), output_margin=True)
    builtin = models["builtin"].predict(probe, output_margin=True)
    if k > 2:  # softmax ignores a common shift (the built-in starts from its own base score)
        logloss, builtin = (m - m.mean(axis=1, keepdims=True) for m in (logloss, builtin))
    np.testing.assert_allclose(logloss, builtin, atol=2e-3)
    focal = models["lean_focal"].predict(probe, output_margin=True)
    assert np.abs(focal - builtin).max() > 0.05  # the focal model is another model


def test_replay_is_not_trivially_equal():
    """The equality check can fail: replaying another loss's gradients gives another model."""
    xgb = pytest.importorskip("xgboost")
    from boost_focal import FocalLoss

    x, y = bench_training.binary_data(3_000)
    d = xgb.DMatrix(x, label=y)
    params = {"objective": "binary:logistic", "max_depth": 3, "verbosity": 0}
    store = []
    focal = xgb.train(params, d, 5, obj=bench_training.recording(FocalLoss(2.0), store))
    other = []
    xgb.train(params, d, 5, obj=bench_training.recording(FocalLoss(0.5), other))
    replayed = xgb.train(params, d, 5, obj=bench_training.replaying(store))
    wrong = xgb.train(params, d, 5, obj=bench_training.replaying(other))
    assert np.array_equal(focal.predict(d, output_margin=True), replayed.predict(d, output_margin=True))
    assert not np.array_equal(focal.predict(d, output_margin=True), wrong.predict(d, output_margin=True))


def test_small_data_before_row_trains_through_xgb_train(monkeypatch):
    """bench_small's "before" candidate really goes through xgb.train, and the lean loop is
    restored afterwards (so the other candidates measure it)."""
    xgb = pytest.importorskip("xgboost")
    from benchmarks import bench_small
    from boost_focal import _xgb_loop

    calls = []
    real = xgb.train
    monkeypatch.setattr(xgb, "train", lambda *a, **k: calls.append(1) or real(*a, **k))
    x, y = bench_training.binary_data(500)
    old = bench_small._through_xgb_train()(n_estimators=3, n_jobs=1).fit(x, y)
    assert calls == [1] and _xgb_loop.supported(xgb)
    new = bench_small.FocalXGBClassifier(n_estimators=3, n_jobs=1).fit(x, y)
    assert calls == [1]  # the estimator itself: the lean loop
    assert np.array_equal(old.decision_function(x), new.decision_function(x))


@pytest.mark.parametrize("k", [2, 3])
def test_small_data_predict_rows_time_both_estimators(monkeypatch, k):
    """bench_small's predict_proba rows: one per library, the estimator against its classifier."""
    pytest.importorskip("xgboost")
    pytest.importorskip("lightgbm")
    import time

    from benchmarks import bench_small

    monkeypatch.setattr(bench_small, "ROUNDS", 5)
    x, y = bench_training.binary_data(400) if k == 2 else bench_training.softmax_data(400, k)
    rows = bench_small._predict_rows(x, y.astype(np.int64), k, 1, time.perf_counter, 1, "0.0")
    assert [r.case.split(".")[0] for r in rows] == ["FocalXGBClassifier", "FocalLGBMClassifier"]
    times = rows[0].extra["median_s"]
    assert set(times) == {"xgb", "focal_xgb", "lgb", "focal_lgb"} and all(v > 0 for v in times.values())
    assert all(r.ratio.endswith("x") and float(r.ratio[:-1]) > 0 for r in rows)


@pytest.mark.parametrize("k", [2, 4])
def test_small_data_logloss_replay_grows_the_classifiers_models(monkeypatch, k):
    """bench_small's floor rows replay logloss gradients started at the class prior: the models
    must be the libraries' own logloss classifiers' (to within the rounding of NumPy's logloss
    against the built-in's), or the row would not measure their round trip."""
    xgb = pytest.importorskip("xgboost")
    lgb = pytest.importorskip("lightgbm")
    from benchmarks import bench_small

    monkeypatch.setattr(bench_small, "ROUNDS", 20)
    x, y = bench_training.binary_data(2000) if k == 2 else bench_training.softmax_data(2000, k)
    y = y.astype(np.int64)
    candidates = bench_small._candidates(x, y, k, 1)
    xp, lp = dict(bench_small._xgb_params(1), n_estimators=20), dict(bench_small._lgb_params(1), n_estimators=20)
    ours_x, ours_l = candidates["xgb_logloss_replay"](), candidates["lgb_logloss_replay"]()
    theirs_x = xgb.XGBClassifier(**xp).fit(x, y)
    theirs_l = lgb.LGBMClassifier(**lp).fit(x, y)
    px = ours_x.predict(xgb.DMatrix(x, base_margin=np.tile(bench_training.prior_margin(y, k), (y.size, 1)) if k > 2
                                    else np.full(y.size, bench_training.prior_margin(y, k))))
    pl = ours_l.predict(x, raw_score=True) + bench_training.prior_margin(y, k)
    if k == 2:
        pl = 1.0 / (1.0 + np.exp(-pl))
    else:
        pl = np.exp(pl - pl.max(axis=1, keepdims=True))
        pl /= pl.sum(axis=1, keepdims=True)
    want_x, want_l = theirs_x.predict_proba(x), theirs_l.predict_proba(x)
    if k == 2:
        want_x, want_l = want_x[:, 1], want_l[:, 1]
    assert np.max(np.abs(px - want_x)) < 1e-3
    assert np.max(np.abs(pl - want_l)) < 1e-3
    # and a replay is not trivially close: an untrained model would be far off
    assert np.max(np.abs(want_x - want_x.mean(axis=0))) > 0.1


@pytest.mark.parametrize("k", [2, 3])
def test_small_data_own_replay_grows_the_estimators_model(k):
    """The estimator replaying its own recorded gradients fits the same model bit for bit (so the
    row "estimator vs its replay" is the objective's cost alone), and the real objective is
    restored afterwards."""
    pytest.importorskip("xgboost")
    pytest.importorskip("lightgbm")
    from benchmarks import bench_small
    from boost_focal.estimators import _base

    real = _base.make_objective
    x, y = bench_training.binary_data(600) if k == 2 else bench_training.softmax_data(600, k)
    y = y.astype(np.int64)
    for make in (lambda: bench_small.FocalXGBClassifier(n_estimators=8, n_jobs=1),
                 lambda: bench_small.FocalLGBMClassifier(n_estimators=8, n_jobs=1, verbose=-1)):
        replay = bench_small._OwnReplay(make, x, y)
        assert len(replay.store) == 8 and _base.make_objective is real
        replayed = replay()
        assert _base.make_objective is real
        assert np.array_equal(replayed.decision_function(x), replay.recorded_model.decision_function(x))
        assert np.array_equal(replayed.predict_proba(x), replay.recorded_model.predict_proba(x))


def test_seed_twin_summary_counts_tables_within_the_bound(tmp_path, monkeypatch):
    """calibration_noise.summary: seed 1 within 1.05x of seed 0 on log loss AND Brier, one way and both."""
    import json

    from benchmarks import calibration_noise as cn

    monkeypatch.setattr(cn, "OUT", tmp_path)

    def table(name, rows, ll1, br1):
        out = []
        for engine in ("xgboost", "lightgbm"):
            for regime in ("unstopped", "stopped"):
                for seed, (ll, br) in ((0, (0.10, 0.05)), (1, (ll1, br1))):
                    out.append(dict(engine=engine, regime=regime, seed=seed, fold=0, log_loss=ll, brier=br))
        (tmp_path / f"{name}.json").write_text(json.dumps({"info": {"rows": rows, "classes": 2}, "rows": out}))

    table("same", 500, 0.10, 0.05)  # passes both ways
    table("better", 5000, 0.09, 0.045)  # seed 1 10% better: passes one way only
    table("worse_brier", 500, 0.10, 0.06)  # log loss equal, Brier 20% worse: fails
    s = cn.summary()[("xgboost", "stopped")]
    assert (s["tables"], s["one_way"], s["both_ways"], s["small"], s["small_total"]) == (3, 2, 1, 1, 2)


def test_seed_twins_against_the_default_logloss_classifier(tmp_path, monkeypatch):
    """calibration_noise.against_default: each twin and the default focal estimator scored against
    the cached default logloss classifier (log loss AND Brier within 1.05x, by table size, worst
    ratio, count above 1.2x); tables missing from either cache are skipped."""
    import json

    from benchmarks import calibration_noise as cn

    twins, default = tmp_path / "twins", tmp_path / "default"
    twins.mkdir()
    default.mkdir()
    monkeypatch.setattr(cn, "OUT", twins)

    ref_pr = (0.50, 0.60)  # the default logloss classifier's PR-AUC in folds 0 and 1

    def table(name, rows, seed1, focal, cached=True, focal_pr=ref_pr, seed1_pr=ref_pr):
        twin_rows, default_rows = [], []
        for engine in ("xgboost", "lightgbm"):
            for regime in ("unstopped", "stopped"):
                key = dict(engine=engine, regime=regime)
                for fold in (1, 0):  # the twins' rows in the other fold order than the default's
                    for seed, (ll, br), pr in ((0, (0.10, 0.05), ref_pr), (1, seed1, seed1_pr)):
                        twin_rows.append(dict(key, seed=seed, fold=fold, log_loss=ll, brier=br, pr_auc=pr[fold]))
                for fold in (0, 1):
                    default_rows.append(dict(key, fold=fold, model="logloss", output="-", log_loss=0.10, brier=0.05,
                                             pr_auc=ref_pr[fold]))
                    default_rows.append(dict(key, fold=fold, model="focal", output="calibrated",
                                             log_loss=focal[0], brier=focal[1], pr_auc=focal_pr[fold]))
                    default_rows.append(dict(key, fold=fold, model="focal", output="posterior",
                                             log_loss=9.0, brier=9.0, pr_auc=0.0))  # not the default output: ignored
        (twins / f"{name}.json").write_text(json.dumps({"info": {"rows": rows, "classes": 2}, "rows": twin_rows}))
        if cached:
            (default / f"{name}.f5.json").write_text(json.dumps({"info": {}, "rows": default_rows}))

    table("small_same", 500, (0.10, 0.05), (0.104, 0.05))
    table("small_worse", 500, (0.13, 0.05), (0.10, 0.06))  # seed 1 1.3x log loss; focal Brier 1.2x
    # focal 2x log loss; PR-AUC 0.05 and 0.03 below: mean 0.04 > the paired sd 0.014, so it counts.
    # Seed 1 the same below, in rows of the other fold order: paired by fold it counts (paired by
    # row order, -0.15 and +0.07, it would not)
    table("large", 5000, (0.10, 0.05), (0.20, 0.05), focal_pr=(0.45, 0.57), seed1_pr=(0.45, 0.57))
    # PR-AUC 0.10 below in fold 0, 0.10 above in fold 1: mean 0, within the sd, does not count
    table("large_noisy_pr", 5000, (0.10, 0.05), (0.10, 0.05), focal_pr=(0.40, 0.70))
    # 0.022 and 0.002 below: mean 0.012 is above the population sd 0.010 but within the sample
    # sd (ddof 1) 0.014: does not count
    table("large_borderline", 5000, (0.10, 0.05), (0.10, 0.05), focal_pr=(0.478, 0.598))
    table("uncached", 5000, (9.0, 9.0), (9.0, 9.0), cached=False)
    out = cn.against_default(cache=default)[("lightgbm", "stopped")]
    assert out["seed 0"] == dict(small=2, small_total=2, large=3, large_total=3, max_ratio=1.0, above_1_2=0,
                                 max_brier_ratio=1.0, pr_below_sd=0)
    assert out["seed 1"] == dict(small=1, small_total=2, large=3, large_total=3, max_ratio=pytest.approx(1.3),
                                 above_1_2=1, max_brier_ratio=1.0, pr_below_sd=1)
    assert out["focal default"] == dict(small=1, small_total=2, large=2, large_total=3,
                                        max_ratio=pytest.approx(2.0), above_1_2=1,
                                        max_brier_ratio=pytest.approx(1.2), pr_below_sd=1)


def test_calibration_variant_constants_reach_the_temperature_fit(monkeypatch):
    """calibration_variants --calibration: a known constant of _calibration is set (and changes what
    fit_temperature may return), an unknown name is refused before any fit."""
    from benchmarks import calibration_variants as cv
    from boost_focal.estimators import _calibration

    monkeypatch.setattr(_calibration, "MIN_TEMPERATURE", _calibration.MIN_TEMPERATURE)
    monkeypatch.setattr(_calibration, "PRIOR_SD_LOG_T", _calibration.PRIOR_SD_LOG_T)
    assert cv._pairs("MIN_TEMPERATURE=0.5,PRIOR_SD_LOG_T=1") == {"MIN_TEMPERATURE": 0.5, "PRIOR_SD_LOG_T": 1}

    # margins twice too flat for the exact posterior: the fit wants T = 1/2, below the default bound
    rng = np.random.default_rng(0)
    z = rng.normal(scale=2.0, size=4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-z))).astype(np.int64)
    sigmoid = lambda m: 1 / (1 + np.exp(-m))  # noqa: E731 (a posterior map for gamma = 0)
    flat = z / 2
    t_default, _ = _calibration.fit_temperature(sigmoid, flat, y, None, gamma=2.0)
    assert t_default == pytest.approx(1.0, abs=1e-3)  # at the bound
    cv.set_calibration_constants(cv._pairs("MIN_TEMPERATURE=0.3,PRIOR_SD_LOG_T=10"))
    t_low, _ = _calibration.fit_temperature(sigmoid, flat, y, None, gamma=2.0)
    assert 0.4 < t_low < 0.6
    with pytest.raises(ValueError, match="no constant 'MIN_TEMP'"):
        cv.set_calibration_constants({"MIN_TEMP": 0.5})


def test_shift_variant_options_on_one_fold():
    """shift_variants' options: the old rule is the eval-set fit itself, the adopted one keeps T and
    sets b on the training rows, the posterior is (1, 0), and a fixed T applies only without an eval set."""
    from benchmarks import shift_variants as sv
    from boost_focal import FocalLoss
    from boost_focal.estimators._calibration import fit_temperature, training_shift

    rng = np.random.default_rng(0)
    zf, ze = rng.normal(-2, 1.5, 800), rng.normal(-2, 1.5, 200)
    yf = (rng.random(800) < 1 / (1 + np.exp(-zf))).astype(np.int64)
    ye = (rng.random(200) < 1 / (1 + np.exp(-ze))).astype(np.int64)
    post = FocalLoss(2.0).posterior
    stopped = dict(regime="stopped", T=1.1, zf=zf, yf=yf, ze=ze, ye=ye, gamma=2.0)
    unstopped = dict(stopped, regime="unstopped", T=1.25, ze=None, ye=ye[:0])
    assert sv.option("eval_fit", stopped, post) == fit_temperature(post, ze, ye, None, 2.0, 1.0)
    assert sv.option("eval_fit", unstopped, post) == (1.25, 0.0)
    assert sv.option("posterior", stopped, post) == (1.0, 0.0)
    T, b = sv.option("train_shift", stopped, post)
    assert T == 1.1 and b == training_shift(post, zf, yf, None, 1.1)
    assert sv.option("fixed_T_1.5", unstopped, post)[0] == 1.5
    assert sv.option("fixed_T_1.5", stopped, post)[0] == 1.1
    T, b = sv.option("profile", stopped, post)
    assert 1.0 <= T <= 3.0 and b == pytest.approx(training_shift(post, zf, yf, None, T))


def test_default_calibration_refit_replaces_only_the_named_models(tmp_path, monkeypatch):
    from benchmarks import default_calibration as dc

    monkeypatch.setattr(dc, "CACHE", tmp_path)
    old = {"info": {"rows": 10, "classes": 2, "smallest": 0.1, "note": "", "seconds": 5.0},
           "rows": [dict(model="logloss", regime="stopped", v=1), dict(model="focal", regime="stopped", v=1),
                    dict(model="before", regime="unstopped", v=1)]}
    (tmp_path / "t.f5.json").write_text(json.dumps(old))
    seen = {}

    def fake_run(name, folds, regimes=None, models=None):
        seen["models"], seen["regimes"] = models, regimes
        return {"info": dict(old["info"], seconds=2.0), "rows": [dict(model="focal", regime="stopped", v=2)]}

    monkeypatch.setattr(dc, "run_dataset", fake_run)
    out = dc.cached_run("t", 5, refit=("focal",))
    assert seen["models"] == ("focal",) and seen["regimes"] == tuple(dc.ROUNDS)
    assert sorted((r["model"], r["v"]) for r in out["rows"]) == [("before", 1), ("focal", 2), ("logloss", 1)]
    assert out["info"]["seconds"] == 7.0
    assert json.loads((tmp_path / "t.f5.json").read_text()) == out

    # with rerun: only that regime's rows of the named models are replaced
    old["rows"] += [dict(model="focal", regime="unstopped", v=1)]
    (tmp_path / "t.f5.json").write_text(json.dumps(old))
    out = dc.cached_run("t", 5, rerun="stopped", refit=("focal",))
    assert seen["models"] == ("focal",) and seen["regimes"] == ("stopped",)
    assert sorted((r["model"], r["regime"], r["v"]) for r in out["rows"]) == [
        ("before", "unstopped", 1), ("focal", "stopped", 2), ("focal", "unstopped", 1), ("logloss", "stopped", 1)]


def test_temperature_budget_grid_scores_what_fit_would_predict(monkeypatch):
    """At the grid T that the estimator picks itself (budget 20 x 0.5 = 10: XGBoost binary 1.1875,
    LightGBM 1.25), the study's re-solved shift and tempered posterior give the test scores of the
    estimator's own predict_proba, fitted under the same protocol."""
    from sklearn.datasets import make_classification

    from benchmarks import temperature_budget as tb

    dc = tb.dc  # the module the script imported (benchmarks/ is on its path)
    X, y = make_classification(400, 5, n_informative=3, weights=[0.85], random_state=3)
    monkeypatch.setattr(dc, "load_table", lambda name: (X, y, ""))
    monkeypatch.setattr(dc, "ROUNDS", dict(dc.ROUNDS))  # run_table sets these globals: restore them
    monkeypatch.setattr(dc, "LEARNING_RATE", dc.LEARNING_RATE)
    rows = tb.run_table(("synthetic", 20, 0.5, 2.0, False))
    got = {(r[0], r[4], r[5]): r[6] for r in rows}
    assert {T for (_, model, T) in got if model == "focal"} == set(tb.GRID)
    for engine, T in (("xgboost", 1.1875), ("lightgbm", 1.25)):
        losses = []
        for fold, te, regime, args in dc.fold_splits(X, y, 5, ("unstopped",)):
            model = dc._focal_model(engine, regime, {"gamma": 2.0}, *args)
            assert model.temperature_ == T
            losses.append(dc.scores(y[te], model.predict_proba(X[te]))["log_loss"])
        assert got[(engine, "focal", T)] == pytest.approx(np.mean(losses), rel=1e-6)
        assert got[(engine, "focal", 1.0)] != pytest.approx(np.mean(losses), rel=1e-3)


def test_temperature_budget_report_reads_runs_and_counts_passes():
    import pandas as pd

    from benchmarks import temperature_budget as tb

    assert tb._budget("300x0.1", "xgboost") == (2.0, 30.0)
    assert tb._budget("100x0_library_g4", "xgboost") == (4.0, 30.0)
    assert tb._budget("100x0_library", "lightgbm") == (2.0, 10.0)
    assert tb.tag(50, 0.1, 1.0, False) == "50x0.1_g1" and tb.tag(100, 0.0, 2.0, True) == "100x0_library"
    rows = [("xgboost", "binary", "a", 100, "logloss", 0.0, 0.10, 0.05),
            ("xgboost", "binary", "a", 100, "focal", 1.0, 0.12, 0.05),
            ("xgboost", "binary", "a", 100, "focal", 1.5, 0.10, 0.05),
            ("xgboost", "binary", "b", 100, "logloss", 0.0, 0.10, 0.05),
            ("xgboost", "binary", "b", 100, "focal", 1.0, 0.10, 0.05),
            ("xgboost", "binary", "b", 100, "focal", 1.5, 0.10, 0.06)]
    df = pd.DataFrame(rows, columns=["engine", "task", "dataset", "rows", "model", "T", "log_loss", "brier"])
    assert tb.passes(df, "xgboost", lambda task: 1.0) == 1  # a: log loss 1.2x; b passes
    assert tb.passes(df, "xgboost", lambda task: 1.5) == 1  # a passes; b: Brier 1.2x
    assert tb.passes(df, "xgboost", lambda task: 1.25) == 0  # interpolated: a log loss 1.1x, b Brier 1.1x
    assert tb.passes(df, "xgboost", lambda task: 1.45) == 1  # a: 1.02x, b: Brier 1.18x


def test_linear_trees_rows_and_report(monkeypatch, tmp_path, capsys):
    """benchmarks/linear_trees.py: each row is the model's own held-out score and largest |margin|
    (checked against a refit of one model), and the report counts tables within 1.05x of logloss."""
    from sklearn.datasets import make_classification

    from benchmarks import linear_trees as lt

    X, y = make_classification(300, 5, n_informative=3, weights=[0.8], random_state=0)
    monkeypatch.setattr(lt.dc, "load_table", lambda name: (X, y, ""))
    monkeypatch.setattr(lt, "ROUNDS", 5)
    result = lt.run_table("synthetic", 0)
    assert {r["model"] for r in result["rows"]} == {"logloss", "logloss l=1", "focal l=0", "focal l=0.1", "focal l=1"}
    fold, te, _, (X_fit, y_fit, _, _) = next(lt.dc.fold_splits(X, y, 5, ("unstopped",)))
    model = lt._models()["focal l=1"]().fit(X_fit, y_fit)
    assert model.get_params()["linear_lambda"] == 1.0 and model.get_params()["linear_tree"] is True
    row = next(r for r in result["rows"] if r["model"] == "focal l=1" and r["fold"] == fold)
    assert row["log_loss"] == pytest.approx(lt.dc.scores(y[te], model.predict_proba(X[te]))["log_loss"], rel=1e-12)
    assert row["max_margin"] == pytest.approx(np.abs(model.decision_function(X[te])).max(), rel=1e-12)
    assert lt.run_table("synthetic", 100) is None  # above --max-rows: skipped

    # report: table "a" passes for focal l=0 (1.04x), "b" fails on Brier (1.1x)
    monkeypatch.setattr(lt, "OUT", tmp_path)
    for name, ll, brier in (("a", 0.104, 0.05), ("b", 0.10, 0.055)):
        rows = [dict(dataset=name, fold=0, model=m, max_margin=3.0, log_loss=0.1, brier=0.05, pr_auc=0.5)
                for m in lt._models()]
        rows[2].update(log_loss=ll, brier=brier)  # "focal l=0"
        (tmp_path / f"{name}.json").write_text(json.dumps({"info": {"classes": 2}, "rows": rows}))
    lt.report(None)
    out = capsys.readouterr().out
    assert "| binary | focal l=0 | 2 | 1/2 | 1.020 | 1.04 | 3.0 |" in out
    assert "| binary | focal l=1 | 2 | 2/2 |" in out


def test_temperature_classes_scores_and_report(monkeypatch, tmp_path, capsys):
    """benchmarks/temperature_classes.py: the grid rows are the posterior of z / T scored on the
    test rows, the "own" row is the estimator's predict_proba at its own T, and the report divides
    by the logloss classifier's loss and picks the best grid T."""
    from sklearn.metrics import log_loss

    from benchmarks import temperature_classes as tc

    X, y = tc.synthetic(4, 1, 1.0, 0)
    X, y = X[:600], y[:600]
    rows = tc.score_table("t", X, y, cv=False)
    tr, te = next(tc.splits(X, y, cv=False))
    from boost_focal import FocalXGBClassifier

    model = FocalXGBClassifier(n_estimators=300, learning_rate=0.1, n_jobs=2, random_state=0, max_depth=4).fit(X[tr], y[tr])
    got = {(r["model"], r["T"]): r["loss"] for r in rows if r["engine"] == "xgboost"}
    z = model.decision_function(X[te])
    assert got[("grid", 1.1)] == pytest.approx(log_loss(y[te], model.loss_.posterior(z / 1.1)) * te.size, rel=1e-9)
    assert got[("own", model.temperature_)] == pytest.approx(log_loss(y[te], model.predict_proba(X[te])) * te.size,
                                                             rel=1e-9)
    monkeypatch.setattr(tc, "OUT", tmp_path / "rows.json")
    fake = [dict(table="a", engine="xgboost", classes=4, n=10, model="logloss", T=None, loss=2.0),
            dict(table="a", engine="xgboost", classes=4, n=10, model="own", T=1.25, loss=2.2)]
    fake += [dict(table="a", engine="xgboost", classes=4, n=10, model="grid", T=T, loss=2.0 + abs(T - 1.1))
             for T in tc.GRID]
    (tmp_path / "rows.json").write_text(json.dumps(fake))
    tc.report(None)
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.startswith("| a | 4 | xgboost | 1.050 / 1.025 / 1.000 / 1.025")
    assert line.endswith("| 1.1 | 1.250: 1.100 |")


@pytest.mark.parametrize("k", [2, 3, 7])
def test_numpy_reference_computes_what_the_kernels_compute(k):
    """bench_kernels' NumPy baseline must be the same loss, floor included (float32 NumPy against
    the float64 kernels: float32 rounding only), or its speed ratio compares different work."""
    from benchmarks import numpy_reference

    from boost_focal import FocalLoss

    rng = np.random.default_rng(k)
    z = rng.normal(0.0, 4.0, (4000, k)).astype(np.float32)
    y = rng.integers(0, k, 4000)
    alpha = rng.uniform(0.2, 1.0, k)
    g, h = numpy_reference.softmax_grad_hess(z, y, 2.0, alpha)
    g64, h64 = FocalLoss(2.0, alpha.tolist()).grad_hess(z.astype(np.float64), y)
    np.testing.assert_allclose(g, g64, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(h, h64, rtol=1e-4, atol=1e-6)
    zb = z[:, 0]
    yb = (y % 2).astype(np.float32)
    g, h = numpy_reference.binary_grad_hess(zb, yb, 2.0, 0.25)
    g64, h64 = FocalLoss(2.0, 0.25).grad_hess(zb.astype(np.float64), yb)
    np.testing.assert_allclose(g, g64, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(h, h64, rtol=1e-4, atol=1e-6)


def test_calibration_variants_centre_factor_scales_the_eval_set_centre(monkeypatch):
    """--centre-factor F centres the eval-set fit on 1 + F (T_B - 1): 0 is T = 1 (the rule before
    2026-12-07), 1 the shipped centre."""
    from benchmarks import calibration_variants as cv
    from boost_focal.estimators import _base, _calibration

    monkeypatch.setattr(_base, "temperature_centre", _base.temperature_centre)  # restored after the test
    shipped = _calibration.temperature_centre(2.0, 5.0, 0.125)
    assert shipped == 1.125
    cv.set_centre_factor(None)
    assert _base.temperature_centre(2.0, 5.0, 0.125) == shipped
    cv.set_centre_factor(0.0)
    assert _base.temperature_centre(2.0, 5.0, 0.125) == 1.0
    cv.set_centre_factor(0.5)
    assert _base.temperature_centre(2.0, 5.0, 0.125) == 1.0625


def test_heldout_sklearn_ratios_interpolate_each_fold_at_its_temperature(tmp_path, capsys):
    """heldout_sklearn: a fold's focal score at T is linear between grid points; ratios are fold
    means over the logloss classifier's; the report counts tasks with both ratios within 1.05x
    for grid temperatures and for the rules (the fitted T, and growth 0 from the fold's budget)."""
    from benchmarks import heldout_sklearn as hs

    def row(task, fold, temperature, budget, at_1, at_15):
        focal = {"1.0": dict(log_loss=at_1, brier=at_1 / 10), "1.5": dict(log_loss=at_15, brier=at_15 / 10)}
        return dict(task=task, engine="lightgbm", fold=fold, temperature=temperature, budget=budget, slope=0.125,
                    logloss=dict(log_loss=0.10, brier=0.01), focal=focal)

    rows = [row("a", 0, 1.25, 30.0, 0.12, 0.08), row("a", 1, 1.25, 30.0, 0.12, 0.08),
            row("b", 0, 1.5, 30.0, 0.20, 0.10)]
    assert hs.at_temperature(rows[0], "log_loss", 1.25) == pytest.approx(0.10)
    assert hs.at_temperature(rows[0], "brier", 1.0) == pytest.approx(0.012)
    r = hs.ratios(rows, "lightgbm", lambda row: row["temperature"])
    assert r["a"] == (pytest.approx(1.0), pytest.approx(1.0))
    assert r["b"] == (pytest.approx(1.0), pytest.approx(1.0))
    assert hs.ratios(rows, "lightgbm", lambda row: 1.0)["a"] == (pytest.approx(1.2), pytest.approx(1.2))
    path = tmp_path / "rows.json"
    path.write_text(json.dumps({"grid": ["1.0", "1.5"], "rows": rows + [dict(r, engine="xgboost") for r in rows]}))
    hs.report(path)
    out = capsys.readouterr().out
    lightgbm = out.split("lightgbm")[1]
    assert "T=1.0" in lightgbm and "within 1.05x: 0/2" in lightgbm  # a 1.2x, b 2x at T = 1
    assert "shipped (the fitted models' T)  within 1.05x: 2/2, worst ratio 1.00" in lightgbm
    # growth 0 at budget 30, gamma 2: T = 1.25 for both tasks: a 1.0x, b 1.5x
    assert "growth 0 (LightGBM before)      within 1.05x: 1/2, worst ratio 1.50" in lightgbm


def test_heldout_sklearn_lambda_check_scores_both_regimes(monkeypatch, capsys):
    """heldout_sklearn.lambda_check on one task and 2 folds: a ratio per (regime, lambda), and the
    lambda reaches the estimator (different lambdas, different probabilities)."""
    from benchmarks import default_calibration as dc
    from benchmarks import heldout_sklearn as hs

    monkeypatch.setitem(dc.ROUNDS, "unstopped", 20)
    monkeypatch.setitem(dc.ROUNDS, "stopped", 20)
    out = hs.lambda_check((1.0, 50.0), task_names=("iris_1",), folds=2)
    assert set(out) == {(r, lam) for r in ("unstopped", "stopped") for lam in (1.0, 50.0)}
    assert all(np.isfinite(v).all() and min(v) > 0 for r in out.values() for v in r.values())
    assert out["unstopped", 1.0]["iris_1"] != out["unstopped", 50.0]["iris_1"]
    assert "unstopped reg_lambda 50: within 1.05x" in capsys.readouterr().out
