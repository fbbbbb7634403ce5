"""The boost-focal command line: a tiny real run, its output files, and one-line input errors."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from boost_focal.cli import main
from boost_focal.datasets import load_bundled

TINY = ["--quick", "--folds", "2", "--n-estimators", "8", "--gammas", "2", "--alphas", "none", "--n-jobs", "1",
        "--no-progress"]


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    """600 rows of the bundled data as a CSV, with its categorical columns as plain text."""
    frame = load_bundled().sample(600, random_state=0)
    path = tmp_path_factory.mktemp("data") / "loans.csv"
    frame.to_csv(path, index=False)
    return path


def _flat(text):
    """Output with line wrapping undone (lines are wrapped at 100 columns)."""
    return " ".join(text.split())


def _one_line_error(capsys, argv, pattern):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith("boost-focal: error: ") and "Traceback" not in err
    assert pattern in err, err
    return err


def test_bundled_run_prints_table_and_recommendation(capsys, tmp_path):
    assert main(["compare", *TINY, "--output", str(tmp_path / "out")]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert "Lending Club" in text and "9857 rows" in text and "517 rows" in text
    assert "categorical (split natively by both engines): term, sub_grade, addr_state" in text
    # compilation is announced and done before the timed fits
    prep = next(i for i, line in enumerate(lines) if line.startswith("Preparing the focal-loss kernels"))
    assert "not counted in the fit times" in " ".join(lines[prep:prep + 2])
    for engine in ("XGBoost", "LightGBM"):
        block = lines[lines.index(engine) + 1:lines.index(engine) + 5]
        for config in ("logloss", "weighted logloss", "focal g=2 a=none"):
            assert any(line.split("  ")[1].strip() == config for line in block[1:]), (engine, config, block)
        # one winner per engine
        assert sum(line.strip().startswith(f"{engine}: use ") for line in lines) == 1
    assert max(map(len, lines)) <= 100
    assert "±" not in text and "Highest" not in text
    assert "recovered posterior" in text and "raw sigmoid of the margin" in text
    out = tmp_path / "out"
    rows = pd.read_csv(out / "results.csv")
    assert len(rows) == 2 * 3 * 2  # engines x configurations x folds
    assert set(rows["fold"]) == {0, 1} and rows["pr_auc"].between(0, 1).all()
    info = json.loads((out / "summary.json").read_text())
    assert info["data"]["class_counts"] == [9340, 517] and info["settings"]["folds"] == 2
    assert info["partial"] is False and info["completed_folds"] == 2
    assert len(info["summary"]) == 6 and info["recommendation"]["lines"]
    if importlib.util.find_spec("matplotlib"):
        for png in ("pr_curves.png", "calibration.png", "focal_loss.png"):
            assert (out / png).read_bytes()[:4] == b"\x89PNG"


def test_user_csv_text_columns_are_categorical_without_flags(capsys, small_csv):
    code = main(["compare", str(small_csv), "--target", "target", "--engines", "lightgbm", *TINY, "--hessians", "exact"])
    out = _flat(capsys.readouterr().out)
    assert code == 0 and "600 rows, 22 features" in out
    assert "categorical (split natively by both engines): term, sub_grade, addr_state, verification_status, " \
           "emp_length" in out
    assert "focal g=2 a=none h=exact" in out and "XGBoost" not in out


def test_categorical_override_and_drop(capsys, small_csv):
    code = main(["compare", str(small_csv), "--target", "target", "--engines", "xgboost", *TINY,
                 "--categorical", "delinq_2yrs", "--drop", "addr_state"])
    out = _flat(capsys.readouterr().out)
    assert code == 0 and "21 features" in out
    assert "categorical (split natively by both engines): term, sub_grade, verification_status, emp_length, " \
           "delinq_2yrs" in out


@pytest.fixture(scope="module")
def messy_csv(tmp_path_factory):
    """Text columns with missing values, a numeric column with gaps and an ISO date column."""
    rng = np.random.default_rng(0)
    n = 300
    region = rng.choice(["north", "south", "east"], n).astype(object)
    x = rng.standard_normal(n)
    y = (x + (region == "north") + 0.5 * rng.standard_normal(n) > 1.2).astype(int)
    region[rng.random(n) < 0.1] = None
    x[rng.random(n) < 0.1] = np.nan
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    frame = pd.DataFrame({"x": x, "region": region, "signup": days.strftime("%Y-%m-%d"),
                          "plan": rng.choice(["basic", "pro"], n), "churn": y})
    path = tmp_path_factory.mktemp("messy") / "churn.csv"
    frame.to_csv(path, index=False)
    return path


def test_text_missing_values_and_a_datetime_column(capsys, messy_csv):
    assert main(["compare", str(messy_csv), "--target", "churn", *TINY]) == 0
    raw = capsys.readouterr().out
    out = _flat(raw)
    assert "categorical (split natively by both engines): region, plan" in out
    assert "dates used as numbers (days since 1970-01-01): signup" in out
    assert "Recommendation" in out


def _multiclass_frame(n=300, seed=1):
    rng = np.random.default_rng(seed)
    y = np.array(["A"] * 150 + ["B"] * 100 + ["C"] * (n - 252) + ["D"] * 2)
    shift = {"A": 0.0, "B": 1.0, "C": 2.0, "D": 3.0}
    x = np.array([shift[v] for v in y]) + rng.standard_normal(n)
    return pd.DataFrame({"x": x, "noise": rng.standard_normal(n), "kind": rng.choice(["p", "q"], n), "label": y})


def test_four_classes_with_a_two_row_class(capsys, tmp_path):
    path = tmp_path / "four.csv"
    _multiclass_frame().to_csv(path, index=False)
    out_dir = tmp_path / "out"
    argv = ["compare", str(path), "--target", "label", "--quick", "--folds", "3", "--n-estimators", "8",
            "--gammas", "2", "--no-progress", "--output", str(out_dir)]
    assert main(argv) == 0
    raw = capsys.readouterr().out
    out = _flat(raw)
    assert "4 classes ('A' 150, 'B' 100, 'C' 48, 'D' 2; smallest 0.67%)" in out
    assert "class(es) 'D' have fewer rows than the 3 folds" in out
    for config in ("focal g=2 a=none", "focal g=2 a=balanced", "weighted logloss"):
        assert config in out
    assert "macro PR-AUC" in out and "bal. acc" in out and "PR-AUC per class" in out
    assert "'D' (2)" in out  # the rarest class's own PR-AUC column
    assert max(map(len, raw.splitlines())) <= 100
    rows = pd.read_csv(out_dir / "results.csv")
    assert len(rows) == 2 * 4 * 3 and {"ap_0", "ap_3", "balanced_accuracy"} <= set(rows.columns)
    # class D (2 rows) is tested in 2 of the 3 folds
    assert rows.groupby("fold")["ap_3"].apply(lambda v: v.notna().all()).sum() == 2
    info = json.loads((out_dir / "summary.json").read_text())
    assert info["data"]["classes"] == ["A", "B", "C", "D"] and info["data"]["class_counts"] == [150, 100, 48, 2]
    if importlib.util.find_spec("matplotlib"):
        assert (out_dir / "calibration.png").read_bytes()[:4] == b"\x89PNG"


def test_multiclass_option_checks_and_one_vs_rest(capsys, tmp_path):
    path = tmp_path / "four.csv"
    _multiclass_frame().to_csv(path, index=False)
    _one_line_error(capsys, ["compare", str(path), "--target", "label", "--alphas", "0.25"],
                    "a numeric alpha is the weight of the positive class of a binary target")
    _one_line_error(capsys, ["compare", str(path), "--target", "label", "--metric", "best_f1"],
                    "--metric best_f1 is for binary targets")
    assert main(["compare", str(path), "--target", "label", "--positive", "B", *TINY, "--engines", "lightgbm"]) == 0
    assert "positive class 'B' (one vs rest): 100 rows" in _flat(capsys.readouterr().out)


def test_continuous_target(capsys, tmp_path):
    path = tmp_path / "price.csv"
    rng = np.random.default_rng(0)
    pd.DataFrame({"x": rng.random(3000), "price": rng.random(3000) * 100}).to_csv(path, index=False)
    _one_line_error(capsys, ["compare", str(path), "--target", "price"],
                    "the target 'price' looks continuous (3000 distinct numeric values")


def test_header_only_file(capsys, tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("a,b,target\n")
    _one_line_error(capsys, ["compare", str(path), "--target", "target"], "has a header line")


def test_semicolon_csv(capsys, tmp_path):
    path = tmp_path / "eu.csv"
    frame = load_bundled().sample(400, random_state=1)
    frame["int_rate"] = frame["int_rate"].map(lambda v: f"{v:.2f}".replace(".", ","))
    frame.to_csv(path, index=False, sep=";")
    assert main(["compare", str(path), "--target", "target", *TINY, "--engines", "xgboost"]) == 0
    raw = capsys.readouterr().out
    out = _flat(raw)
    assert "separator ';' (detected from the header line" in out
    assert "text column 'int_rate' read as numbers (decimal commas)" in out
    _one_line_error(capsys, ["compare", str(path), "--target", "target", "--sep", ","], "--sep ';'")


@pytest.mark.parametrize("where", ["under_a_file", "is_a_file"])
def test_unwritable_output_fails_before_any_fit(capsys, tmp_path, monkeypatch, where):
    from boost_focal import compare

    def no_fit(*args, **kwargs):
        raise AssertionError("a model was fitted before --output was checked")

    monkeypatch.setattr(compare, "warm_up", no_fit)
    monkeypatch.setattr(compare, "cross_validate", no_fit)
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    target = blocker / "out" if where == "under_a_file" else blocker
    _one_line_error(capsys, ["compare", *TINY, "--output", str(target)], "--output")


def test_output_check_leaves_nothing_behind_on_a_data_error(capsys, tmp_path):
    out_dir = tmp_path / "new" / "deeper"
    _one_line_error(capsys, ["compare", str(tmp_path / "nope.csv"), "--target", "y", "--output", str(out_dir)],
                    "file not found")
    assert not (tmp_path / "new").exists()


def _interrupt_after(monkeypatch, n_fits):
    """Make the n_fits + 1-th fit of the cross-validation raise KeyboardInterrupt (as Ctrl-C does)."""
    from boost_focal import compare

    real = compare._fit_predict
    calls = {"n": 0}

    def fit(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > n_fits:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(compare, "warm_up", lambda *a, **k: 0.0)
    monkeypatch.setattr(compare, "_fit_predict", fit)


def test_ctrl_c_keeps_the_finished_folds_marked_partial(capsys, tmp_path, monkeypatch):
    _interrupt_after(monkeypatch, 2 * 6 + 1)  # 2 folds of 6 fits finished, the third fold interrupted
    out_dir = tmp_path / "out"
    code = main(["compare", *TINY, "--folds", "3", "--output", str(out_dir)])
    captured = capsys.readouterr()
    assert code == 130
    assert "PARTIAL RESULTS: interrupted after 2 of 3 folds" in _flat(captured.out)
    assert "interrupted after 2 of 3 folds; partial results written to" in captured.err
    info = json.loads((out_dir / "summary.json").read_text())
    assert info["partial"] is True and info["completed_folds"] == 2
    rows = pd.read_csv(out_dir / "results.csv")
    assert len(rows) == 12 and set(rows["fold"]) == {0, 1}


def test_ctrl_c_before_a_fold_finishes_writes_nothing(capsys, tmp_path, monkeypatch):
    _interrupt_after(monkeypatch, 3)
    out_dir = tmp_path / "out"
    assert main(["compare", *TINY, "--output", str(out_dir)]) == 130
    assert "before any fold finished; nothing was written" in capsys.readouterr().err
    assert not out_dir.exists()


@pytest.mark.parametrize("option", [["--alphas", "1.5"], ["--gammas", "-1"], ["--hessians", "newton"], ["--folds", "0"],
                                    ["--seed", "-1"], ["--sep", "ab"]])
def test_bad_option_values_exit_2(capsys, option):
    with pytest.raises(SystemExit) as exc:
        main(["compare", *option])
    assert exc.value.code == 2 and "Traceback" not in capsys.readouterr().err


def test_parquet_and_drop(capsys, small_csv, tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "loans.parquet"
    pd.read_csv(small_csv).to_parquet(path)
    code = main(["compare", str(path), "--target", "target", "--engines", "xgboost", *TINY,
                 "--drop", "term,sub_grade,addr_state,verification_status,emp_length"])
    out = capsys.readouterr().out
    assert code == 0 and "17 features" in out and "categorical" not in out


def test_missing_file(capsys, tmp_path):
    _one_line_error(capsys, ["compare", str(tmp_path / "nope.csv"), "--target", "y"], "file not found")


def test_unknown_target_column(capsys, small_csv):
    _one_line_error(capsys, ["compare", str(small_csv), "--target", "Class"], "target column 'Class' not found")


def test_missing_target_option(capsys, small_csv):
    _one_line_error(capsys, ["compare", str(small_csv)], "--target is required")


def test_single_class_target(capsys, tmp_path):
    path = tmp_path / "one.csv"
    pd.DataFrame({"x": np.arange(20.0), "y": ["0"] * 20}).to_csv(path, index=False)
    err = _one_line_error(capsys, ["compare", str(path), "--target", "y"], "single class (0 in all 20 rows)")
    assert "np." not in err
    text = tmp_path / "text.csv"
    pd.DataFrame({"x": np.arange(20.0), "y": ["yes"] * 20}).to_csv(text, index=False)
    _one_line_error(capsys, ["compare", str(text), "--target", "y"], "single class ('yes' in all 20 rows)")


def test_target_name_hint(capsys, small_csv):
    _one_line_error(capsys, ["compare", str(small_csv), "--target", "Target"], "did you mean 'target'?")


def test_too_few_positives_and_bad_engine(capsys, tmp_path):
    path = tmp_path / "rare.csv"
    pd.DataFrame({"x": np.arange(40.0), "y": [1, 1] + [0] * 38}).to_csv(path, index=False)
    _one_line_error(capsys, ["compare", str(path), "--target", "y"], "only 2 row")
    _one_line_error(capsys, ["compare", "--engines", "sklearn"], "unknown engine 'sklearn'")
    # 3 positives in 2 folds: a training fold has 1, too few to hold out a validation part for early stopping
    three = tmp_path / "three.csv"
    pd.DataFrame({"x": np.arange(40.0), "y": [1, 1, 1] + [0] * 37}).to_csv(three, index=False)
    _one_line_error(capsys, ["compare", str(three), "--target", "y", "--folds", "2"], "early stopping")
    assert main(["compare", str(three), "--target", "y", *TINY, "--early-stopping", "0", "--engines", "lightgbm"]) == 0
    capsys.readouterr()


def test_unreadable_format(capsys, tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"PK")
    _one_line_error(capsys, ["compare", str(path), "--target", "y"], "cannot tell the format")


def test_console_entry_points_without_traceback(tmp_path):
    """`python -m boost_focal` (a bad call: exit 2, one line) and the `boost-focal` script (--version)."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    cmds = [[sys.executable, "-m", "boost_focal"]]
    script = shutil.which("boost-focal", path=os.path.dirname(sys.executable))
    if script:
        cmds.append([script])
    proc = subprocess.run([*cmds[0], "compare", str(tmp_path / "missing.parquet"), "--target", "y"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"boost-focal: error: file not found: {tmp_path / 'missing.parquet'}"
    proc = subprocess.run([*cmds[-1], "--version"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0 and "boost-focal" in proc.stdout


def test_warnings_of_the_focal_estimators_are_shown(capsys, tmp_path):
    path = tmp_path / "flat.csv"
    pd.DataFrame({"x": np.ones(60), "y": [0, 1] * 30}).to_csv(path, index=False)
    assert main(["compare", str(path), "--target", "y", *TINY, "--engines", "lightgbm", "--early-stopping", "0"]) == 0
    out = _flat(capsys.readouterr().out)
    assert "Warning from 2 fit(s): no feature of X can be split" in out


def test_help_text(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--help"])
    text = capsys.readouterr().out
    flat = _flat(text)
    assert exc.value.code == 0 and "%%" not in text and "5.3% bad loans" in flat
    assert "--sep" in text and "binary or multiclass target" in flat
