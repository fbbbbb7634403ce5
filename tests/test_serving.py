"""Serving without surprises (issue 15): threads at predict time, fork after predict, every SciPy
sparse format, polars DataFrames with categorical columns."""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from boost_focal import FocalLGBMClassifier, FocalXGBClassifier

REPO = Path(__file__).resolve().parents[1]
ESTIMATORS = (FocalXGBClassifier, FocalLGBMClassifier)
ids = ["xgb", "lgbm"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts threads in /proc/self/task, forks")
@pytest.mark.parametrize("how", ["fit", "load"])
@pytest.mark.parametrize("engine", ["xgb", "lgb"])
def test_one_thread_and_fork_after_predict(engine, how, tmp_path):
    """n_jobs=1: predict starts no thread, and a fork()ed pool can predict afterwards.

    In a fresh process (the pytest process has run multi-threaded OpenMP already). Before the
    fix LightGBM's predict started an OpenMP team on every core (4 -> 5 threads here) and the
    forked children then hung in libgomp.
    """
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs 2 cores to see a second thread")
    done = subprocess.run(
        [sys.executable, str(REPO / "tests" / "serving_child.py"), engine, how, str(tmp_path)],
        env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["fork"] == "ok", report
    assert report["threads_after"] == report["threads_before"], report


def _sparse_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    X[X < 0.4] = 0.0
    y = (X[:, 0] + X[:, 1] > 0.8).astype(int)
    return X, y


FORMATS = ["csr", "csc", "coo", "bsr", "dia", "dok", "lil"]


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_every_sparse_format(cls):
    """Fit and predict on every SciPy format, sparse arrays and matrices: the same model and
    probabilities as on csr_matrix (XGBoost reads absent entries as missing in all of them)."""
    X, y = _sparse_data()
    reference = cls(n_estimators=5, n_jobs=1).fit(sparse.csr_matrix(X), y)
    expected = reference.predict_proba(sparse.csr_matrix(X))
    for fmt in FORMATS:
        for kind in ("array", "matrix"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", sparse.SparseEfficiencyWarning)
                A = getattr(sparse, f"{fmt}_{kind}")(X)
            np.testing.assert_allclose(reference.predict_proba(A), expected, rtol=0, atol=1e-12, err_msg=f"{fmt}_{kind}")
            model = cls(n_estimators=5, n_jobs=1).fit(A, y)
            np.testing.assert_allclose(model.predict_proba(A), expected, rtol=0, atol=1e-12, err_msg=f"{fmt}_{kind}")


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
def test_polars_with_categorical_columns(cls):
    pl = pytest.importorskip("polars")
    pytest.importorskip("pyarrow")
    rng = np.random.default_rng(1)
    n = 600
    color = rng.choice(["G", "H", "K"], n)
    level = rng.choice(["lo", "hi"], n)
    num = rng.normal(size=n)
    y = ((color == "G") ^ (num > 0.5)).astype(int)
    frame = pl.DataFrame({
        "num": num,
        "color": pl.Series(color).cast(pl.Categorical),
        "level": pl.Series(level).cast(pl.Enum(["lo", "hi"])),
        "count": pl.Series(rng.integers(0, 5, n)),
    })
    model = cls(n_estimators=10, n_jobs=1).fit(frame, y)
    assert model.feature_names_in_.tolist() == ["num", "color", "level", "count"]
    proba = model.predict_proba(frame)
    # the same as the pandas frame polars converts to (categoricals kept as categoricals)
    pandas_frame = frame.to_pandas()
    assert str(pandas_frame["color"].dtype) == "category"
    via_pandas = cls(n_estimators=10, n_jobs=1).fit(pandas_frame, y)
    np.testing.assert_array_equal(proba, via_pandas.predict_proba(pandas_frame))
    np.testing.assert_array_equal(model.predict_proba(pandas_frame), proba)
    # the categorical column is really used (split natively): it separates the classes
    assert (model.predict(frame) == y).mean() > 0.9
