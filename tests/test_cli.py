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
    assert "Lending Club" in text and "9857 rows" in text and "517 rows" in text
    for engine in ("XGBoost", "LightGBM"):
        for config in ("logloss", "weighted logloss", "focal g=2 a=none"):
            assert any(line.startswith(engine) and config in line for line in text.splitlines()), (engine, config)
    assert "Recommendation:" in text and ("Keep logloss" in text or "beat logloss" in text)
    out = tmp_path / "out"
    rows = pd.read_csv(out / "results.csv")
    assert len(rows) == 2 * 3 * 2  # engines x configurations x folds
    assert set(rows["fold"]) == {0, 1} and rows["pr_auc"].between(0, 1).all()
    info = json.loads((out / "summary.json").read_text())
    assert info["data"]["positives"] == 517 and info["settings"]["folds"] == 2
    assert len(info["summary"]) == 6 and info["recommendation"]["lines"]
    if importlib.util.find_spec("matplotlib"):
        for png in ("pr_curves.png", "focal_loss.png"):
            assert (out / png).read_bytes()[:4] == b"\x89PNG"


def test_user_csv_needs_categorical_flag_then_runs(capsys, small_csv):
    _one_line_error(capsys, ["compare", str(small_csv), "--target", "target", *TINY],
                    "'term' is not numeric")
    code = main(["compare", str(small_csv), "--target", "target", "--engines", "lightgbm", *TINY, "--hessians", "exact",
                 "--categorical", "term,sub_grade,addr_state,verification_status,emp_length"])
    out = capsys.readouterr().out
    assert code == 0 and "600 rows" in out and "5 categorical" in out
    assert "focal g=2 a=none h=exact" in out and "XGBoost" not in out


@pytest.mark.parametrize("option", [["--alphas", "1.5"], ["--gammas", "-1"], ["--hessians", "newton"], ["--folds", "0"]])
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
    assert code == 0 and "17 features" in capsys.readouterr().out


def test_missing_file(capsys, tmp_path):
    _one_line_error(capsys, ["compare", str(tmp_path / "nope.csv"), "--target", "y"], "file not found")


def test_unknown_target_column(capsys, small_csv):
    _one_line_error(capsys, ["compare", str(small_csv), "--target", "Class"], "target column 'Class' not found")


def test_missing_target_option(capsys, small_csv):
    _one_line_error(capsys, ["compare", str(small_csv)], "--target is required")


def test_single_class_target(capsys, tmp_path):
    path = tmp_path / "one.csv"
    pd.DataFrame({"x": np.arange(20.0), "y": np.ones(20, dtype=int)}).to_csv(path, index=False)
    _one_line_error(capsys, ["compare", str(path), "--target", "y"], "single class")


def test_non_numeric_feature(capsys, tmp_path):
    path = tmp_path / "text.csv"
    pd.DataFrame({"x": np.arange(20.0), "city": ["Oslo", "Rome"] * 10, "y": [0, 1] * 10}).to_csv(path, index=False)
    _one_line_error(capsys, ["compare", str(path), "--target", "y"], "'city' is not numeric")


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
