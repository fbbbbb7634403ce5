"""Self-describing model files (issue 15): save_model / load_model, save_booster / load_booster.

The proof is a FRESH Python process (own, empty NUMBA_CACHE_DIR; nothing imported beforehand)
that loads each file and must reproduce the saving process's probabilities and labels exactly:
both engines, XGBoost JSON and UBJSON, LightGBM text, binary and multiclass, string and integer
labels, pandas categorical columns, and raw boosters trained with xgb.train / lgb.train.
"""

import json
import os
import pickle
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.datasets import make_classification

from boost_focal import FocalLGBMClassifier, FocalLoss, FocalXGBClassifier, lgb_init_score, xgb_base_score
from boost_focal import model_io

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[1]
ENGINES = {"xgb-json": (FocalXGBClassifier, ".json"), "xgb-ubj": (FocalXGBClassifier, ".ubj"),
           "lgb-txt": (FocalLGBMClassifier, ".txt")}


def _data(task):
    if task == "hpc":  # pandas categoricals, string-free integer labels
        frame = pd.read_csv(FIXTURES / "hpc_jobs.csv.gz").iloc[:1500]
        for col in ("protocol", "day"):
            frame[col] = frame[col].astype("category")
        return frame.drop(columns="target"), frame["target"].to_numpy()
    k = 2 if task.startswith("binary") else 3
    X, y = make_classification(500, 6, n_informative=4, n_classes=k, weights=[0.7] + [0.3 / (k - 1)] * (k - 1),
                               random_state=k)
    labels = {"binary-str": np.array(["no", "yes"]), "multi-str": np.array(["ant", "bee", "cat"]),
              "multi-int": np.array([3, 7, 10])}[task]
    return X, labels[y]


TASKS = ("binary-str", "multi-str", "multi-int", "hpc")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Every case saved by this process, with its expected outputs, and the fresh process's."""
    folder = tmp_path_factory.mktemp("models")
    cases, expected = [], {}
    for engine, (cls, ext) in ENGINES.items():
        for task in TASKS:
            X, y = _data(task)
            params = dict(gamma=2.0, alpha="balanced", n_estimators=15, n_jobs=1, random_state=0)
            if task == "multi-int":
                params.update(probability="raw", hessian="exact", learning_rate=0.3)
            model = cls(**params).fit(X, y)
            name = f"{engine}-{task}"
            path = folder / f"{name}{ext}"
            model.save_model(path)
            with open(folder / f"{name}.X.pkl", "wb") as f:
                pickle.dump(X, f)
            cases.append({"name": name, "kind": cls.__name__, "path": str(path), "X": str(folder / f"{name}.X.pkl")})
            expected[name] = (model.predict_proba(X), model.predict(X), model.classes_, model.get_params())
    for name, (path, proba) in _raw_boosters(folder).items():
        cases.append({"name": name, "kind": "booster", "path": str(path), "X": str(folder / "raw.X.pkl")})
        expected[name] = (proba, None, None, None)
    (folder / "cases.json").write_text(json.dumps(cases))
    out = folder / "out"
    out.mkdir()
    _run_fresh(folder / "cases.json", out, folder / "numba-cache")
    return cases, expected, out


def _raw_boosters(folder):
    X, y = make_classification(400, 5, n_informative=3, n_classes=3, random_state=5)
    with open(folder / "raw.X.pkl", "wb") as f:
        pickle.dump(X, f)
    out = {}
    for k in (2, 3):
        yk = y if k == 3 else (y > 0).astype(int)
        loss = FocalLoss(2.0, [0.3, 0.7] if k == 2 else [0.2, 0.3, 0.5])
        params = {"objective": "binary:logistic" if k == 2 else "multi:softprob", "disable_default_eval_metric": 1,
                  "base_score": xgb_base_score(loss, yk), "nthread": 1}
        if k == 3:
            params["num_class"] = 3
        bst = xgb.train(params, xgb.DMatrix(X, label=yk), 10, obj=loss)
        margin = bst.predict(xgb.DMatrix(X), output_margin=True).astype(np.float64)
        path = folder / f"raw-xgb-{k}.ubj"
        model_io.save_booster(bst, path, loss)
        out[f"raw-xgb-{k}"] = (path, _proba(loss.posterior(margin)))

        start = loss.init_score(yk)
        booster = lgb.train({"objective": loss, "metric": "None", "num_class": k if k > 2 else 1, "verbose": -1,
                             "num_threads": 1},
                            lgb.Dataset(X, yk, init_score=lgb_init_score(loss, yk)), 10)
        raw = booster.predict(X, raw_score=True)
        path = folder / f"raw-lgb-{k}.txt"
        model_io.save_booster(booster, path, loss, init_score=start)
        out[f"raw-lgb-{k}"] = (path, _proba(loss.posterior(raw + start)))
    return out


def _proba(p):
    return np.column_stack([1 - p, p]) if p.ndim == 1 else p


_FRESH = textwrap.dedent("""
    import json, pickle, sys
    import numpy as np
    assert "boost_focal" not in sys.modules
    from boost_focal import FocalLGBMClassifier, FocalXGBClassifier
    from boost_focal.model_io import load_booster
    cases = json.load(open(sys.argv[1]))
    for case in cases:
        X = pickle.load(open(case["X"], "rb"))
        if case["kind"] == "booster":
            proba, labels, classes, params = load_booster(case["path"]).predict_proba(X), None, None, None
        else:
            cls = {"FocalXGBClassifier": FocalXGBClassifier, "FocalLGBMClassifier": FocalLGBMClassifier}[case["kind"]]
            model = cls().load_model(case["path"])
            proba, labels, classes = model.predict_proba(X), model.predict(X), model.classes_
            params = model.get_params()
        with open(sys.argv[2] + "/" + case["name"] + ".pkl", "wb") as f:
            pickle.dump((proba, labels, classes, params), f)
""")


def _run_fresh(cases, out, cache):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", _FRESH, str(cases), str(out)], env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]


def _names():
    return [f"{e}-{t}" for e in ENGINES for t in TASKS] + [f"raw-{e}-{k}" for k in (2, 3) for e in ("xgb", "lgb")]


@pytest.mark.parametrize("name", _names())
def test_fresh_process_reproduces_predictions(saved, name):
    _, expected, out = saved
    proba, labels, classes, params = expected[name]
    with open(out / f"{name}.pkl", "rb") as f:
        got_proba, got_labels, got_classes, got_params = pickle.load(f)
    np.testing.assert_array_equal(got_proba, proba)
    if labels is not None:
        np.testing.assert_array_equal(got_labels, labels)
        assert got_labels.dtype == labels.dtype
        np.testing.assert_array_equal(got_classes, classes)
        assert repr(got_params) == repr(params)


def test_cases_cover_both_problem_kinds(saved):
    """The fixture really holds binary and multiclass cases with string labels (not vacuous)."""
    _, expected, _ = saved
    widths = {name: exp[0].shape[1] for name, exp in expected.items()}
    assert widths["xgb-json-binary-str"] == 2 and widths["lgb-txt-multi-str"] == 3
    assert expected["lgb-txt-multi-str"][2].tolist() == ["ant", "bee", "cat"]


# --------------------------------------------------------------------------- the files themselves
@pytest.mark.parametrize("engine", list(ENGINES))
def test_file_loads_in_the_plain_library(engine, tmp_path):
    """The metadata does not break the library's own loader: same raw margins."""
    cls, ext = ENGINES[engine]
    X, y = _data("multi-str")
    model = cls(n_estimators=5, n_jobs=1).fit(X, y)
    path = tmp_path / f"m{ext}"
    model.save_model(path)
    if cls is FocalXGBClassifier:
        margin = xgb.Booster(model_file=str(path)).predict(xgb.DMatrix(X), output_margin=True)
    else:
        margin = lgb.Booster(model_file=str(path)).predict(X, raw_score=True) + model.init_score_
    np.testing.assert_allclose(margin, model.decision_function(X), rtol=1e-6, atol=1e-6)


def test_lightgbm_pandas_categories_survive(tmp_path):
    """Our line sits before LightGBM's pandas_categorical line, which the wrapper still finds."""
    X, y = _data("hpc")
    model = FocalLGBMClassifier(n_estimators=5, n_jobs=1).fit(X, y)
    path = tmp_path / "m.txt"
    model.save_model(path)
    assert lgb.Booster(model_file=str(path)).pandas_categorical == model.booster_.pandas_categorical
    assert model.booster_.pandas_categorical  # the case is not vacuous


def test_saving_does_not_touch_the_fitted_booster(tmp_path):
    X, y = _data("binary-str")
    model = FocalXGBClassifier(n_estimators=3, n_jobs=1).fit(X, y)
    model.save_model(tmp_path / "m.json")
    assert model.booster_.attr(model_io.XGB_ATTRIBUTE) is None


def test_load_model_restores_parameters_and_replaces_old_state(tmp_path):
    X, y = _data("multi-str")
    model = FocalLGBMClassifier(n_estimators=4, n_jobs=1, num_leaves=7, min_data_in_bin=2).fit(X, y)
    path = tmp_path / "m.txt"
    model.save_model(path)
    other = FocalLGBMClassifier(n_estimators=9, extra_trees=True).fit(*_data("binary-str"))
    other.load_model(path)
    assert other.get_params() == model.get_params()
    assert other.n_classes_ == 3 and other.classes_.tolist() == ["ant", "bee", "cat"]
    np.testing.assert_array_equal(other.predict_proba(X), model.predict_proba(X))


def test_load_errors(tmp_path):
    X, y = _data("binary-str")
    plain = tmp_path / "plain.json"
    xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, label=(y == "yes").astype(int)), 2).save_model(plain)
    with pytest.raises(ValueError, match="no boost-focal metadata"):
        FocalXGBClassifier().load_model(plain)
    with pytest.raises(ValueError, match="no boost-focal metadata"):
        model_io.load_booster(plain)
    lgb_file = tmp_path / "m.txt"
    FocalLGBMClassifier(n_estimators=2, n_jobs=1).fit(X, y).save_model(lgb_file)
    with pytest.raises(ValueError, match="is a lightgbm model file, not a xgboost one"):
        FocalXGBClassifier().load_model(lgb_file)
    with pytest.raises(ValueError, match="is a xgboost model file, not a lightgbm one"):
        FocalLGBMClassifier().load_model(plain)
    # a raw booster file is not an estimator
    raw = tmp_path / "raw.json"
    loss = FocalLoss(2.0, 0.25)
    bst = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, label=(y == "yes").astype(int)), 2, obj=loss)
    model_io.save_booster(bst, raw, loss)
    with pytest.raises(ValueError, match="save_booster"):
        FocalXGBClassifier().load_model(raw)


def test_newer_format_is_refused(tmp_path):
    X, y = _data("binary-str")
    model = FocalXGBClassifier(n_estimators=2, n_jobs=1).fit(X, y)
    doc = model_io.make_document("xgboost", model.loss_, 2)
    doc["format_version"] = model_io.FORMAT_VERSION + 1
    bst = model.booster_.copy()
    bst.set_attr(**{model_io.XGB_ATTRIBUTE: model_io.dumps(doc)})
    bst.save_model(tmp_path / "m.json")
    with pytest.raises(ValueError, match="newer"):
        FocalXGBClassifier().load_model(tmp_path / "m.json")


def test_per_class_terms_must_match_the_number_of_classes(tmp_path):
    """margin_shift / margin_offset: a number for a binary model; a number or K values for K
    classes. Refused when written (make_document) and when read (a hand-edited file)."""
    loss = FocalLoss(2.0)
    with pytest.raises(ValueError, match="margin_shift must be a number for a binary model"):
        model_io.make_document("xgboost", loss, 2, margin_shift=[0.1, -0.1])
    with pytest.raises(ValueError, match=r"margin_shift must be a number or 3 values \(one per class\), got 2"):
        model_io.make_document("xgboost", loss, 3, margin_shift=[0.1, -0.1])
    with pytest.raises(ValueError, match="margin_offset must be a number or 3 values"):
        model_io.make_document("lightgbm", loss, 3, margin_offset=[0.0, 1.0, 2.0, 3.0])
    for shift in (0.0, [0.1, 0.0, -0.1]):
        assert model_io.make_document("xgboost", loss, 3, margin_shift=shift)["margin_shift"] == shift

    X, y = _data("multi-int")
    model = FocalXGBClassifier(n_estimators=2, n_jobs=1, alpha="balanced").fit(X, y)
    path = tmp_path / "m.json"
    model.save_model(path)
    assert np.shape(model_io.load_booster(path).margin_shift) == (3,)
    for bad, match in (([0.1, -0.1], "got 2 values"), ("x", "a list of numbers")):
        doc = model_io.read(path, "xgboost")[1]
        doc["margin_shift"] = bad
        bst = model.booster_.copy()
        bst.set_attr(**{model_io.XGB_ATTRIBUTE: model_io.dumps(doc)})
        bst.save_model(tmp_path / "edited.json")
        with pytest.raises(ValueError, match=f"malformed \\(margin_shift .*{match}"):
            FocalXGBClassifier().load_model(tmp_path / "edited.json")
        with pytest.raises(ValueError, match="malformed"):
            model_io.load_booster(tmp_path / "edited.json")


def test_unstorable_parameters_warn(tmp_path):
    X, y = _data("binary-str")

    def metric(y_true, proba, sample_weight):
        return 0.0

    model = FocalXGBClassifier(n_estimators=2, n_jobs=1, eval_metric=metric).fit(X, y)
    with pytest.warns(UserWarning, match=r"\['eval_metric'\] cannot be stored"):
        model.save_model(tmp_path / "m.json")
    loaded = FocalXGBClassifier().load_model(tmp_path / "m.json")
    assert loaded.eval_metric is None
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_save_requires_a_fitted_estimator(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        FocalLGBMClassifier().save_model(tmp_path / "m.txt")


def test_save_booster_refuses_unresolved_alpha(tmp_path):
    X, y = _data("binary-str")
    bst = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, label=(y == "yes").astype(int)), 2)
    with pytest.raises(ValueError, match="resolve_alpha"):
        model_io.save_booster(bst, tmp_path / "m.json", FocalLoss(2.0, "balanced"))
    with pytest.raises(TypeError, match="xgboost.Booster or a lightgbm.Booster"):
        model_io.save_booster(object(), tmp_path / "m.json", FocalLoss())


# --------------------------------------------------------------------------- the generic encoder
@pytest.mark.parametrize(
    "value",
    [
        None, True, 3, 2.5, float("nan"), float("inf"), "s", [1, "a", None], (1, 2.0), {3: "x", "k": [1]},
        {(1, 2): 3},
        np.array(["a", "bb"]), np.array(["a", 3], dtype=object), np.arange(6, dtype=np.int32).reshape(2, 3),
        np.array([0.1, np.nan]), np.array([True, False]), np.float32(1.5), np.int64(7),
    ],
)
def test_encode_decode_round_trip(value):
    back = model_io.decode(json.loads(model_io.dumps(model_io.encode(value))))
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and back.shape == value.shape
        np.testing.assert_array_equal(back, value)
    elif isinstance(value, float) and np.isnan(value):
        assert np.isnan(back)
    else:
        assert back == value and type(back) is type(value.item() if isinstance(value, np.generic) else value)


def test_encode_refuses_objects():
    with pytest.raises(TypeError, match="cannot store"):
        model_io.encode(object())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not model_io.encodable(np.random.RandomState(0))
