"""The comparison engine (boost_focal.compare): input encoding, metrics, CV bookkeeping, verdicts."""

import math

import numpy as np
import pandas as pd
import pytest

from boost_focal import compare as C
from boost_focal.datasets import DataError, bundled_path, load_bundled, load_lending_club


# ------------------------------------------------------------------------------- bundled data
def test_bundled_lending_club_is_the_documented_table():
    X, y = load_lending_club()
    assert X.shape == (9857, 22)
    assert int(y.sum()) == 517 and set(np.unique(y)) == {0, 1}
    for col in ("term", "sub_grade", "addr_state", "verification_status", "emp_length"):
        assert isinstance(X[col].dtype, pd.CategoricalDtype)
        cats = list(X[col].cat.categories)
        assert cats == sorted(cats)
    assert X["sub_grade"].cat.categories[0] == "A1"
    assert not X.isna().any().any()
    path = bundled_path()
    assert path.name == "lending_club.csv.gz"
    assert path.is_file() and 100_000 < len(path.read_bytes()) < 400_000
    readme = path.parent.joinpath("README.md").read_text()
    assert "MIT" in readme and "modeldata" in readme


def test_bundled_matches_shared_copy(shared_data):
    pytest.importorskip("pyarrow")
    ours = load_bundled()
    theirs = pd.read_parquet(shared_data / "lending_club.parquet")
    assert list(ours.columns) == list(theirs.columns)
    for col in ours.columns:
        assert (ours[col].astype(str).to_numpy() == theirs[col].astype(str).to_numpy()).all(), col


# ------------------------------------------------------------------------------- encoding
def test_encode_features_codes_categoricals_and_keeps_missing():
    X = pd.DataFrame({
        "num": [1.5, np.nan, 3.0, 4.0],
        "flag": [True, False, True, False],
        "cat": pd.Categorical(["b", "a", None, "b"], categories=["b", "a"]),
        "text": ["x", "y", "x", None],
    })
    m, names, coded = C.encode_features(X, categorical=["text"])
    assert names == ["num", "flag", "cat", "text"] and coded == ["cat", "text"]
    np.testing.assert_array_equal(m[:, 1], [1, 0, 1, 0])
    # codes follow sorted categories (a=0, b=1) whatever order pandas stored them in
    np.testing.assert_array_equal(m[[0, 1, 3], 2], [1, 0, 1])
    assert math.isnan(m[2, 2]) and math.isnan(m[1, 0]) and math.isnan(m[3, 3])
    np.testing.assert_array_equal(m[:3, 3], [0, 1, 0])


def test_encode_features_rejects_text_and_infinity():
    X = pd.DataFrame({"a": [1.0, 2.0], "city": ["Oslo", "Rome"]})
    with pytest.raises(DataError, match=r"'city' is not numeric.*--categorical city.*--drop city"):
        C.encode_features(X)
    with pytest.raises(DataError, match="'a' contains infinite"):
        C.encode_features(pd.DataFrame({"a": [1.0, np.inf]}))
    with pytest.raises(DataError, match="unknown column"):
        C.encode_features(X, categorical=["nope"])
    with pytest.raises(DataError, match="numeric"):
        C.encode_features(np.array([["a", "b"]], dtype=object))
    m, names, _ = C.encode_features(np.arange(6).reshape(3, 2))
    assert m.dtype == np.float64 and names == ["x0", "x1"]


def test_encode_target_rules():
    y01, pos, counts = C.encode_target(pd.Series([0, 1, 1, 0, 0]))
    assert pos == 1 and y01.tolist() == [0, 1, 1, 0, 0] and counts == {0: 3, 1: 2}
    # 0/1 keeps 1 as positive even when 1 is the majority
    assert C.encode_target([1, 1, 0])[1] == 1
    # text labels: the rarer class is positive
    y01, pos, _ = C.encode_target(["good", "bad", "good", "good"])
    assert pos == "bad" and y01.tolist() == [0, 1, 0, 0]
    # --positive, also as one-vs-rest for three classes; compared as text
    y01, pos, _ = C.encode_target([3, 1, 2, 3], positive="3")
    assert pos == 3 and y01.tolist() == [1, 0, 0, 1]
    with pytest.raises(DataError, match="single class") as exc:
        C.encode_target(np.array(["0", "0"]))
    assert "np.str_" not in str(exc.value) and "('0' in all 2 rows)" in str(exc.value)
    with pytest.raises(DataError, match="3 classes.*--positive"):
        C.encode_target([0, 1, 2])
    with pytest.raises(DataError, match="not a class"):
        C.encode_target([0, 1], positive="7")
    with pytest.raises(DataError, match="missing"):
        C.encode_target([0.0, 1.0, np.nan])


# ------------------------------------------------------------------------------- metrics
def test_best_f1_equals_brute_force():
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.1).astype(int)
    p = np.clip(0.3 * y + rng.random(300) * 0.7, 0, 1)
    brute = 0.0
    for t in np.unique(p):
        pred = p >= t
        tp = np.sum(pred & (y == 1))
        if tp:
            prec, rec = tp / pred.sum(), tp / y.sum()
            brute = max(brute, 2 * prec * rec / (prec + rec))
    assert C.best_f1(y, p) == pytest.approx(brute)


def test_log_loss_and_non_finite_predictions():
    from sklearn.metrics import log_loss

    y = np.array([0, 1, 1, 0])
    p = np.array([0.1, 0.8, 0.6, 0.3])
    assert C.log_loss(y, p) == pytest.approx(log_loss(y, p))
    assert math.isfinite(C.log_loss(y, np.array([0.0, 1.0, 1.0, 0.0])))
    m = C.fold_metrics(y, np.array([0.1, np.nan, 0.5, 0.2]))
    assert all(math.isnan(v) for v in m.values())


def test_paired_difference_ci_and_bonferroni():
    a = np.array([0.30, 0.32, 0.31, 0.33, 0.29])
    b = a - np.array([0.01, 0.02, 0.01, 0.02, 0.01])
    mean, half, wins, k = C.paired_difference(a, b)
    assert mean == pytest.approx(0.014) and wins == 5 and k == 5
    from scipy import stats

    d = a - b
    assert half == pytest.approx(stats.t.ppf(0.975, 4) * d.std(ddof=1) / math.sqrt(5))
    assert C.paired_difference(a, b, n_comparisons=9)[1] > half
    # lower-is-better metrics flip the sign
    assert C.paired_difference(b, a, higher_is_better=False)[0] == pytest.approx(mean)


# ------------------------------------------------------------------------------- configs
def test_grid_and_names():
    grid = C.make_grid(["xgboost"], [1.0, 2.0], [None, 0.25])
    assert [c.name for c in grid] == ["logloss", "weighted logloss", "focal g=1 a=none", "focal g=1 a=0.25",
                                      "focal g=2 a=none", "focal g=2 a=0.25"]
    assert grid[3].params == {"gamma": 1.0, "alpha": 0.25} and grid[0].params == {}
    assert len(C.make_grid(C.ENGINES)) == 2 * (2 + len(C.DEFAULT_GAMMAS) * len(C.DEFAULT_ALPHAS))


def test_weighted_baseline_sets_class_ratio():
    y = np.array([0] * 9 + [1] * 3)
    for engine in C.available_engines():
        model = C.build_model(C.Config(engine, "weighted"), C.Settings(), y)
        assert model.get_params()["scale_pos_weight"] == pytest.approx(3.0)
        assert C.build_model(C.Config(engine, "logloss"), C.Settings(), y).get_params().get("scale_pos_weight") in (None, 1, 1.0)


def test_folds_for_checks_class_sizes():
    y = np.array([0] * 20 + [1] * 3)
    with pytest.raises(DataError, match="only 3 row.*--folds 3"):
        C.folds_for(y, 5, 0)
    folds = C.folds_for(y, 3, 0)
    assert all(y[test].sum() == 1 for _, test in folds)


# ------------------------------------------------------------------------------- CV with fake models
class _Noisy:
    """A fake classifier: P(y=1) = label blurred by noise of size config.gamma (smaller = better)."""

    def __init__(self, noise, seed):
        self.noise, self.seed = noise, seed

    def fit(self, X, y):
        self.n_fit_ = len(y)
        return self

    def predict_proba(self, X):
        rng = np.random.default_rng(self.seed + len(X))
        y = X[:, 0]
        p = np.clip(0.5 * y + 0.25 + self.noise * rng.standard_normal(len(y)), 0.01, 0.99)
        return np.column_stack([1 - p, p])


def _fake_build(config, settings, y_train):
    return _Noisy(config.gamma if config.loss == "focal" else 0.6, settings.random_state)


def _toy(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(np.int64)
    return np.column_stack([y, rng.random(n)]).astype(float), y


def test_cross_validate_bookkeeping_and_shared_folds():
    X, y = _toy()
    configs = C.make_grid(["xgboost"], [0.1, 0.4], [None])
    ticks, trained_on = [], []

    def build(config, settings, y_train):
        model = _fake_build(config, settings, y_train)
        model.fit = lambda X_, y_: trained_on.append((config, frozenset(X_[:, 1]))) or model
        return model

    res = C.cross_validate(X, y, configs, C.Settings(), n_splits=4, seed=1, progress=lambda: ticks.append(1),
                           build=build)
    assert len(res.rows) == len(configs) * 4 == len(ticks)
    for c in configs:
        assert np.all(np.isfinite(res.oof[c]))  # every row predicted exactly once
    # every configuration is trained on the same rows in each fold (paired comparison)
    for fold in range(4):
        chunk = trained_on[fold * len(configs):(fold + 1) * len(configs)]
        assert [c for c, _ in chunk] == configs and len({rows for _, rows in chunk}) == 1
    assert len({rows for _, rows in trained_on}) == 4
    summary = C.summarize(res)
    assert [s["config"] for s in summary] == [c.name for c in configs]
    assert all(s["folds"] == 4 and s["diverged_folds"] == 0 for s in summary)
    pr = {s["config"]: s["pr_auc"] for s in summary}
    assert pr["focal g=0.1 a=none"] > pr["focal g=0.4 a=none"] > pr["logloss"]
    table = C.format_table(summary)
    assert "focal g=0.1 a=none" in table and "±" not in table  # sd has its own column, one meaning per symbol
    assert table.splitlines()[0] == "XGBoost" and table.splitlines()[1].split()[:3] == ["config", "PR-AUC", "sd"]
    assert max(map(len, table.splitlines())) <= 100


def test_recommend_calls_a_clear_gain_and_refuses_noise():
    X, y = _toy(600)
    clear = C.cross_validate(X, y, C.make_grid(["lightgbm"], [0.05, 0.3], [None]), n_splits=5, build=_fake_build)
    advice = C.recommend(clear)
    assert advice["engines"]["lightgbm"]["focal_helps"] is True
    assert advice["engines"]["lightgbm"]["best_focal"] == "focal g=0.05 a=none"
    assert advice["winners"] == {"lightgbm": "focal g=0.05 a=none"}
    assert advice["lines"][0] == "LightGBM: use focal loss, FocalLGBMClassifier(gamma=0.05, alpha=None)."

    def same_quality(config, settings, y_train):
        # every configuration has the logloss noise level, but a different random draw
        return _Noisy(0.6, settings.random_state + 1000 * int(config.gamma * 10))

    noise = C.cross_validate(X, y, C.make_grid(["lightgbm"], [0.5, 1.0, 2.0], [None]), n_splits=5, build=same_quality)
    advice = C.recommend(noise)
    assert advice["engines"]["lightgbm"]["focal_helps"] is False
    assert advice["winners"] == {"lightgbm": "logloss"}
    assert advice["lines"][0].startswith("LightGBM: use logloss")
    # one winner per engine, and no other "best" line that could contradict it
    assert sum(line.startswith("LightGBM: use") for line in advice["lines"]) == 1
    assert not any("Highest" in line or "±" in line for line in advice["lines"])


def _crafted(values):
    """A CVResult whose per-fold PR-AUC values are given: {config: [fold values]}."""
    rows = [{"engine": c.engine, "config": c.name, "fold": f, "pr_auc": v, "roc_auc": 0.5, "logloss": 0.2, "brier": 0.05,
             "best_f1": 0.1, "raw_logloss": math.nan, "raw_brier": math.nan, "fit_s": 0.1, "rounds": 10, "finite": True}
            for c, vals in values.items() for f, v in enumerate(vals)]
    return C.CVResult(rows, {}, np.zeros(2), list(values), len(next(iter(values.values()))), 0, C.Settings())


def test_recommend_separates_suggestive_from_clear_and_worse():
    base = np.array([0.30, 0.31, 0.29, 0.30, 0.32])
    grid = C.make_grid(["xgboost"], [0.5, 1.0, 2.0], [None, 0.25, 0.75])
    focal = [c for c in grid if c.loss == "focal"]

    def verdict(best_diff, others=-0.02):
        values = {grid[0]: base, grid[1]: base - 0.01}
        values.update({c: base + (best_diff if i == 0 else others) for i, c in enumerate(focal)})
        return C.recommend(_crafted(values))

    # consistent and large: clear even after the Bonferroni correction over 9 settings
    clear = verdict(np.array([0.020, 0.021, 0.019, 0.020, 0.022]))
    assert clear["engines"]["xgboost"]["focal_helps"] and "use focal loss" in clear["lines"][0]
    assert "a clear gain" in clear["lines"][1] and "corrected for the 9 settings" in clear["lines"][1]
    # significant alone, not once 9 settings are accounted for
    mid = verdict(np.array([0.020, 0.002, 0.016, 0.004, 0.013]))
    assert not mid["engines"]["xgboost"]["focal_helps"] and mid["lines"][0].startswith("XGBoost: use logloss")
    assert "better only before correcting for the 9 settings" in mid["lines"][1]
    # every setting worse
    worse = verdict(np.array([-0.030, -0.031, -0.029, -0.030, -0.032]), others=-0.05)
    assert "clearly worse" in worse["lines"][1]
    assert worse["lines"][2].startswith("  Weighted logloss: PR-AUC") and "clearly worse" in worse["lines"][2]


def test_recommend_names_weighted_logloss_when_only_it_wins_clearly():
    base = np.array([0.30, 0.31, 0.29, 0.30, 0.32])
    grid = C.make_grid(["xgboost"], [2.0], [None])
    values = {grid[0]: base, grid[1]: base + np.array([0.030, 0.031, 0.029, 0.030, 0.032]), grid[2]: base - 0.001}
    advice = C.recommend(_crafted(values))
    assert advice["winners"] == {"xgboost": "weighted logloss"}
    assert advice["lines"][0].startswith("XGBoost: use class-weighted logloss")


def test_inner_cv_select_sees_only_the_training_part():
    X, y = _toy(300)
    configs = C.make_grid(["xgboost"], [0.5, 0.05, 0.2], [None], baselines=False)
    seen = []

    def build(config, settings, y_train):
        seen.append(len(y_train))
        return _fake_build(config, settings, y_train)

    train = np.arange(200)
    best, scores = C.inner_cv_select(X[train], y[train], configs, C.Settings(), n_splits=3, build=build)
    assert best.gamma == 0.05 and set(scores) == set(configs)
    assert max(seen) < 200  # inner fits use part of the 200 training rows, never the other 100


# ------------------------------------------------------------------------------- real fits (tiny)
def test_real_fits_on_bundled_subset_give_posterior_and_raw():
    X, y = load_lending_club()
    m, _, _ = C.encode_features(X.iloc[:1500])
    y01, _, _ = C.encode_target(y.iloc[:1500])
    settings = C.Settings(n_estimators=15, n_jobs=1)
    configs = [c for c in C.make_grid(C.available_engines(), [2.0], [0.25]) if c.loss != "weighted"]
    res = C.cross_validate(m, y01, configs, settings, n_splits=2)
    for s in C.summarize(res):
        assert 0 < s["pr_auc"] <= 1 and 0 < s["roc_auc"] <= 1 and s["diverged_folds"] == 0
        if s["loss"] == "focal":
            # the uncorrected sigmoid of a gamma=2, alpha=0.25 margin is not the posterior
            assert math.isfinite(s["raw_logloss"]) and math.isfinite(s["post_logloss"])
            assert s["raw_logloss"] != pytest.approx(s["post_logloss"], rel=1e-3)
        else:
            assert math.isnan(s["raw_logloss"]) and math.isnan(s["post_ece"])


def test_early_stopping_stops_every_kind_of_model():
    X, y = load_lending_club()
    m, _, _ = C.encode_features(X.iloc[:1500])
    y01, _, _ = C.encode_target(y.iloc[:1500])
    settings = C.Settings(n_estimators=300, learning_rate=0.5, early_stopping=5)
    for config in C.make_grid(C.available_engines(), [2.0], [0.25]):
        metrics, p = C.fit_and_score(config, settings, m[:1000], y01[:1000], m[1000:], y01[1000:])
        assert 1 <= metrics["rounds"] < 300, config
        assert np.all(np.isfinite(p)) and p.shape == (500,)


def test_validation_split_is_stratified_and_seeded():
    y = np.array([0] * 90 + [1] * 10)
    fit, val = C.validation_split(y, 0.2, 3)
    assert len(val) == 20 and y[val].sum() == 2 and len(set(fit) | set(val)) == 100
    assert np.array_equal(val, C.validation_split(y, 0.2, 3)[1])


def test_focal_curves_match_the_formula():
    from boost_focal._plots import focal_curves

    p = np.array([0.05, 0.3, 0.6, 0.9])
    curves = focal_curves(p, [0.0, 2.0])
    np.testing.assert_allclose(curves[0.0], -np.log(p), rtol=1e-10)
    np.testing.assert_allclose(curves[2.0], -((1 - p) ** 2) * np.log(p), rtol=1e-10)


# ------------------------------------------------------------------------------- the benchmark script
def test_benchmark_script_runs_and_reports(shared_data, tmp_path):
    """benchmarks/real_data.py end to end on one tiny real dataset with minimal settings."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "real_data.py"
    spec = importlib.util.spec_from_file_location("real_data", script)
    real_data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(real_data)
    out = tmp_path / "bench.md"
    argv = [str(shared_data), "--datasets", "glass_0_1_6_vs_5", "--folds", "2", "--inner-folds", "2",
            "--gammas", "1,2", "--alphas", "none", "--hessians", "bohning,exact", "--n-estimators", "5",
            "--results", str(tmp_path / "cache"), "--output", str(out)]
    real_data.main(argv)
    text = out.read_text()
    assert "keel_binary/glass_0_1_6_vs_5" in text and "--n-estimators 5" in text
    for needle in ("focal (inner CV)", "Where focal loss does not help", "h=exact", "Chosen by inner CV",
                   "Early stopping: each fit holds out"):
        assert needle in text, needle
    has_catboost = importlib.util.find_spec("catboost") is not None
    assert ("Focal g=2 a=0.25 (built-in)" in text) == has_catboost
    cached = list((tmp_path / "cache").glob("*/keel_binary__glass_0_1_6_vs_5.json"))
    assert len(cached) == 1
    rows = __import__("json").loads(cached[0].read_text())["rows"]
    # per fold: 2 engines x (2 baselines + tuned focal + 2 Hessian modes) (+ 2 CatBoost models)
    assert len(rows) == 2 * (2 * 5 + 2 * has_catboost)
    assert all(1 <= r["rounds"] <= 5 for r in rows)
    # a second call with the same settings reuses the cache and renders the same tables
    real_data.main(argv)
    assert out.read_text().split("## Summary")[1] == text.split("## Summary")[1]


# ------------------------------------------------------------------------------- multiclass, modes, Ctrl-C
def _four_classes(n=240, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array([0] * 120 + [1] * 80 + [2] * (n - 202) + [3] * 2)
    X = np.column_stack([y + rng.standard_normal(n), rng.standard_normal(n)])
    return X, y


def test_multiclass_validation_split_keeps_every_class_in_the_fit_part():
    _, y = _four_classes()
    fit, val = C.validation_split(y, 0.2, 0)
    assert set(np.unique(y[fit])) == {0, 1, 2, 3} and len(set(fit) & set(val)) == 0
    assert len(fit) + len(val) == len(y) and np.sum(y[val] == 3) == 0  # the 2-row class: 1 row, never held out alone
    assert abs(np.sum(y[val] == 0) - 24) <= 1


def test_multiclass_folds_put_every_class_in_every_training_part():
    _, y = _four_classes()
    folds = C.folds_for(y, 5, 0)
    assert all(set(np.unique(y[train])) == {0, 1, 2, 3} for train, _ in folds)
    with pytest.raises(DataError, match="at least 2 per class"):
        C.folds_for(np.array([0] * 10 + [1] * 10 + [2]), 3, 0)


def test_multiclass_cross_validation_with_real_engines():
    X, y = _four_classes()
    configs = C.make_grid(C.available_engines(), [2.0], ["balanced"])
    res = C.cross_validate(X, y, configs, C.Settings(n_estimators=6, early_stopping=3), n_splits=3)
    assert res.n_classes == 4 and all(res.oof[c].shape == (len(y), 4) for c in configs)
    for s in C.summarize(res):
        assert 0 < s["pr_auc"] <= 1 and 0 < s["balanced_accuracy"] <= 1 and np.isfinite(s["ap_3"])
        if s["loss"] == "focal":
            assert np.isfinite(s["raw_ece"]) and np.isfinite(s["post_brier"])
    # the weighted baseline really is weighted: it predicts the rare classes more often than logloss
    by = {(c.engine, c.name): c for c in configs}
    for engine in C.available_engines():
        weighted = res.oof[by[(engine, "weighted logloss")]][:, 2:].sum(axis=1).mean()
        plain = res.oof[by[(engine, "logloss")]][:, 2:].sum(axis=1).mean()
        assert weighted > plain, engine


def test_predict_modes_are_the_default_the_raw_link_and_the_posterior():
    import copy

    from scipy import special

    X, y = _four_classes()
    for engine in C.available_engines():
        model = C._focal_class(engine)(gamma=2.0, n_estimators=5, alpha="balanced").fit(X, y)
        modes = C.predict_modes(model, X, 4)
        margin = model.decision_function(X)
        np.testing.assert_allclose(modes["default"], model.predict_proba(X))
        np.testing.assert_allclose(modes["raw"], special.softmax(margin, axis=1))
        np.testing.assert_allclose(modes["posterior"], model.loss_.posterior(margin))
        # the same as the estimator's own explicit modes, whatever its default is
        for mode in ("raw", "posterior"):
            explicit = copy.copy(model).set_params(probability=mode).predict_proba(X)
            np.testing.assert_allclose(modes[mode], explicit, rtol=1e-12, atol=1e-15)
        yb = (y > 0).astype(int)
        binary = C._focal_class(engine)(gamma=2.0, alpha=0.25, n_estimators=5).fit(X, yb)
        modes = C.predict_modes(binary, X, 2)
        np.testing.assert_allclose(modes["raw"], special.expit(binary.decision_function(X)))
        assert not np.allclose(modes["raw"], modes["posterior"])


def test_ctrl_c_result_holds_only_finished_folds():
    X, y = _toy(300)
    configs = C.make_grid(["xgboost"], [0.1], [None])
    calls = []

    def build(config, settings, y_train):
        calls.append(1)
        if len(calls) == 2 * len(configs) + 2:
            raise KeyboardInterrupt
        return _fake_build(config, settings, y_train)

    with pytest.raises(C.CVInterrupted) as exc:
        C.cross_validate(X, y, configs, C.Settings(), n_splits=4, build=build)
    res = exc.value.result
    assert isinstance(exc.value, KeyboardInterrupt)
    assert res.partial and res.completed_folds == 2 and {r["fold"] for r in res.rows} == {0, 1}
    assert len(res.rows) == 2 * len(configs)
    for c in configs:  # predictions of the unfinished third fold are discarded
        assert np.array_equal(np.isfinite(res.oof[c]), res.scored) and res.scored.sum() == 150
    calls.clear()
    with pytest.raises(C.CVInterrupted) as exc:
        C.cross_validate(X, y, configs, C.Settings(), n_splits=4,
                         build=lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    assert exc.value.result is None


def test_warm_up_fits_every_gamma_and_hessian_once_per_engine(monkeypatch):
    seen = []
    monkeypatch.setattr(C, "_fit_predict", lambda config, settings, *a, **k: seen.append((config, settings)))
    configs = C.make_grid(["xgboost", "lightgbm"], [1.0, 2.0], [None, 0.25], hessians=(None, "exact"))
    C.warm_up(["xgboost", "lightgbm"], 2, configs, C.Settings(early_stopping=30))
    keys = [(c.engine, c.gamma, c.hessian) for c, _ in seen]
    assert len(keys) == len(set(keys)) == 2 * 2 * 2 and all(c.loss == "focal" for c, _ in seen)
    assert all(s.n_estimators == 2 and s.early_stopping for _, s in seen)  # tiny, eval path included


def test_check_alphas_refuses_numeric_alpha_for_multiclass():
    C.check_alphas([None, 0.25], 2)
    C.check_alphas([None, "balanced"], 4)
    with pytest.raises(DataError, match="--alphas 0.25.*4 classes.*balanced"):
        C.check_alphas([None, 0.25], 4)


def test_boost_focal_warnings_from_the_fits_are_kept_not_swallowed():
    pytest.importorskip("lightgbm")
    X = np.zeros((60, 2))  # nothing to split on: the focal estimator warns that the model is constant
    y = np.array([0, 1] * 30)
    configs = [C.Config("lightgbm", "focal", 2.0), C.Config("lightgbm", "logloss")]
    res = C.cross_validate(X, y, configs, C.Settings(n_estimators=3), n_splits=2)
    found = C.fit_warnings(res)
    assert sum(found.values()) == 2 and all("can be split" in text for text in found)
    assert all(r["warning"] == "" for r in res.rows if r["config"] == "logloss")
    assert "warning" not in C.summarize(res)[0]
