"""What compare makes of real tables: features (text, missing, dates), targets, CSV reading, scores."""

import math

import numpy as np
import pandas as pd
import pytest

from boost_focal import _scores as S
from boost_focal._inputs import prepare_features, prepare_target
from boost_focal.datasets import DataError, read_table, sniff_separator


# ------------------------------------------------------------------------------- features
def test_text_and_categorical_columns_become_native_categoricals_with_missing_kept():
    X = pd.DataFrame({
        "num": [1.5, np.nan, 3.0, 4.0] * 20,
        "flag": [True, False, True, False] * 20,
        "cat": pd.Categorical(["b", "a", None, "b"] * 20, categories=["b", "a"]),
        "sex": ["F", "M", None, "M"] * 20,
    })
    f = prepare_features(X)
    assert f.names == ["num", "flag", "cat", "sex"] and f.categorical == ["cat", "sex"]
    assert list(f.frame.columns) == ["c0", "c1", "c2", "c3"]  # safe names for both engines
    assert f.frame["c0"].dtype == np.float64 and f.frame["c0"].isna().sum() == 20
    assert f.frame["c1"].tolist()[:2] == [1.0, 0.0]
    for col in ("c2", "c3"):
        assert isinstance(f.frame[col].dtype, pd.CategoricalDtype)
        assert f.frame[col].isna().sum() == 20  # missing stays missing, not a category "nan"
    assert set(f.frame["c3"].cat.categories) == {"F", "M"}
    assert f.notes() == ["categorical (split natively by both engines): cat, sex"]


def test_forced_categorical_numeric_column_and_unknown_name():
    X = pd.DataFrame({"zip": [1001, 1002, 1001, 1003], "x": [0.1, 0.2, 0.3, 0.4]})
    f = prepare_features(X, categorical=["zip"])
    assert isinstance(f.frame["c0"].dtype, pd.CategoricalDtype) and f.categorical == ["zip"]
    with pytest.raises(DataError, match="unknown column.*'nope'"):
        prepare_features(X, categorical=["nope"])


def test_datetime_columns_become_days_since_1970():
    X = pd.DataFrame({
        "when": pd.to_datetime(["1970-01-02", "1970-01-03 12:00", None], format="ISO8601"),
        "iso_text": ["2000-01-01", "2000-01-02T06:00:00", None],
        "utc": pd.to_datetime(["1970-01-02T00:00:00+01:00", "1970-01-01", "1970-01-01"], utc=True, format="ISO8601"),
        "waited": pd.to_timedelta(["1 days", "36 hours", None]),
    })
    f = prepare_features(X)
    np.testing.assert_allclose(f.frame["c0"].to_numpy()[:2], [1.0, 2.5])
    assert math.isnan(f.frame["c0"].iloc[2]) and math.isnan(f.frame["c1"].iloc[2])
    np.testing.assert_allclose(f.frame["c1"].to_numpy()[:2], [10957.0, 10958.25])
    np.testing.assert_allclose(f.frame["c2"].to_numpy(), [1 - 1 / 24, 0.0, 0.0])
    np.testing.assert_allclose(f.frame["c3"].to_numpy()[:2], [1.0, 1.5])
    assert f.datetime == ["when", "iso_text", "utc", "waited"] and not f.categorical
    assert any("days since 1970-01-01" in line for line in f.notes())


def test_placeholder_tokens_decimal_commas_identifiers_and_empty_columns():
    n = 60
    X = pd.DataFrame({
        "age": [str(20 + i) for i in range(n - 2)] + ["?", "?"],
        "price": ["1,5", "2,25"] * (n // 2),
        "id": [f"row{i}" for i in range(n)],
        "blank": [None] * n,
        "city": ["Oslo", "Rome", "Lima"] * (n // 3),
    })
    f = prepare_features(X)
    assert f.names == ["age", "price", "city"]
    assert f.frame["c0"].isna().sum() == 2 and f.frame["c0"].iloc[0] == 20.0
    np.testing.assert_allclose(f.frame["c1"].to_numpy()[:2], [1.5, 2.25])
    assert f.numeric_text == {"age": ["?"], "price": "decimal comma"}
    assert set(f.dropped) == {"id", "blank"} and "--categorical id" in f.dropped["id"]
    assert f.categorical == ["city"]
    # asked for, the identifier is kept as a category
    assert "id" in prepare_features(X, categorical=["id"]).categorical


def test_unusable_columns_are_one_line_errors():
    with pytest.raises(DataError, match="'a' contains infinite"):
        prepare_features(pd.DataFrame({"a": [1.0, np.inf]}))
    with pytest.raises(DataError, match="'p' has dtype period.*--drop p"):
        prepare_features(pd.DataFrame({"p": pd.period_range("2020-01", periods=3, freq="M")}))
    with pytest.raises(DataError, match="no usable feature columns"):
        prepare_features(pd.DataFrame({"blank": [None, None]}))


# ------------------------------------------------------------------------------- target
def test_multiclass_target_keeps_category_order_and_allows_a_two_row_class():
    y = pd.Series(pd.Categorical(["VF"] * 6 + ["F"] * 4 + ["L"] * 2, categories=["VF", "F", "M", "L"]))
    t = prepare_target(y)
    assert t.classes == ["VF", "F", "L"] and t.counts == [6, 4, 2] and t.n_classes == 3
    assert t.codes.tolist() == [0] * 6 + [1] * 4 + [2] * 2 and t.positive is None
    assert t.rarest(2) == [2, 1]
    assert t.describe().startswith("3 classes ('VF' 6, 'F' 4, 'L' 2")


def test_binary_and_one_vs_rest_targets():
    t = prepare_target(pd.Series(["good", "bad", "good", "good"]))
    assert t.binary and t.positive == "bad" and t.codes.tolist() == [0, 1, 0, 0]
    assert prepare_target(pd.Series([1, 1, 0])).positive == 1  # 0/1 keeps 1 positive
    t = prepare_target(pd.Series([3, 1, 2, 3]), positive="3")
    assert t.one_vs_rest and t.positive == 3 and t.codes.tolist() == [1, 0, 0, 1]
    assert "(one vs rest)" in t.describe() and t.classes == ["rest", 3]
    t = prepare_target(pd.Series(["a", "b", "b"]), positive="b")  # binary: the other class keeps its label
    assert t.classes == ["a", "b"] and not t.one_vs_rest and t.codes.tolist() == [0, 1, 1]
    with pytest.raises(DataError, match="--positive '7' is not a class"):
        prepare_target(pd.Series([0, 1]), positive="7")


@pytest.mark.parametrize("values, pattern", [
    (np.linspace(0, 1, 3000), r"looks continuous \(3000 distinct numeric values"),
    (np.arange(500) % 200, r"looks continuous \(200 distinct"),
    (np.array([], dtype=float), "no rows"),
    (np.array(["0", "0", "0"]), r"single class \('0' in all 3 rows\)"),
    (np.array([0.0, 1.0, np.nan]), "1 missing value"),
    (np.array(["a"] * 5 + ["b"] * 5 + ["c"]), "class 'c' of the target has a single row"),
    (np.array([f"id{i}" for i in range(120)] * 2), "120 classes, more than compare handles"),
])
def test_targets_compare_cannot_use(values, pattern):
    with pytest.raises(DataError, match=pattern) as exc:
        prepare_target(pd.Series(values), name="y")
    assert "np." not in str(exc.value)  # plain labels, no NumPy reprs


def test_a_few_fractional_classes_are_still_classes():
    t = prepare_target(pd.Series([0.5, 1.0, 1.5, 0.5, 1.0, 1.5]))
    assert t.n_classes == 3


# ------------------------------------------------------------------------------- reading files
def test_semicolon_csv_is_detected_and_a_wrong_separator_explained(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text("a;b;y\n1,5;x;0\n2,5;y;1\n3,0;x;0\n")
    frame = read_table(path)
    assert list(frame.columns) == ["a", "b", "y"] and frame.attrs["separator"] == ";"
    assert frame.attrs["separator_detected"]
    with pytest.raises(DataError, match=r"single column named 'a;b;y'.*separated by ';'.*--sep ';'"):
        read_table(path, sep=",")
    assert sniff_separator("a\tb\tc\n") == "\t" and sniff_separator("abc\n") == ","


def test_header_only_and_empty_files(tmp_path):
    header = tmp_path / "header.csv"
    header.write_text("a,b,target\n")
    with pytest.raises(DataError, match=r"has a header line \('a,b,target'\) but no data rows"):
        read_table(header)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="is empty"):
        read_table(empty)


# ------------------------------------------------------------------------------- scores
def test_multiclass_scores_match_definitions():
    from sklearn.metrics import average_precision_score, log_loss

    rng = np.random.default_rng(0)
    y = np.array([0, 1, 2, 0, 1, 2, 0, 0, 1, 0])
    p = rng.dirichlet(np.ones(3), size=10)
    m = S.multiclass_metrics(y, p, 3)
    assert m["logloss"] == pytest.approx(log_loss(y, p))
    onehot = np.eye(3)[y]
    assert m["brier"] == pytest.approx(np.mean(np.sum((p - onehot) ** 2, axis=1)))
    aps = [average_precision_score(y == k, p[:, k]) for k in range(3)]
    assert [m[f"ap_{k}"] for k in range(3)] == pytest.approx(aps)
    assert m["pr_auc"] == pytest.approx(np.mean(aps))
    # a class absent from the scored rows is left out of the macro mean, not scored as 0
    m4 = S.multiclass_metrics(y, np.column_stack([p, np.zeros(10)]), 4)
    assert math.isnan(m4["ap_3"]) and m4["pr_auc"] == pytest.approx(np.mean(aps))


def test_ece_by_hand_and_reliability_bins():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.7, 0.9])
    # bins of width 1/15: each p in its own bin; |p - y| averaged
    assert S.ece(y, p) == pytest.approx(np.mean(np.abs(p - y)))
    x, obs, n = S.reliability(np.array([0, 1] * 50), np.linspace(0, 1, 100), bins=4)
    assert n.tolist() == [25] * 4 and np.all(np.diff(x) > 0)
    # multiclass: the top-label confidence against accuracy
    pm = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1]])
    assert S.ece(np.array([0, 1]), pm) == pytest.approx((abs(0.8 - 1) + abs(0.6 - 0)) / 2)
