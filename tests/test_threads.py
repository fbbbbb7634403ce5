"""Thread settings around the estimators' fits: boost-focal's own kernel thread count (never
numba.set_num_threads, which starts Numba's OpenMP layer next to LightGBM's), and BLAS on one
thread for the estimators' small solves (OpenBLAS threads busy-wait after a call and took a
core from the training that followed)."""

import numba
import numpy as np
import pytest

from boost_focal import FocalLGBMClassifier, FocalXGBClassifier, _cpu
from boost_focal.estimators._threads import kernel_threads, serial_blas


@pytest.fixture
def kernel_thread_counts(monkeypatch):
    """The kernel thread count at each float32 kernel call: 1 for a call prepared serial
    (FocalLoss._f32_call(serial=True), the estimators' objective below the training bound), else
    _cpu.thread_count() when it runs (FocalLoss._grad_hess_checked and the adapters)."""
    from boost_focal import FocalLoss

    seen = []
    real = FocalLoss._f32_call

    def spy(self, *args, **kwargs):
        call = real(self, *args, **kwargs)
        serial = kwargs.get("serial", False)

        def counted(z):
            seen.append(1 if serial else _cpu.thread_count())
            return call(z)

        return counted

    monkeypatch.setattr(FocalLoss, "_f32_call", spy)
    return seen


def test_use_threads_nests_and_restores():
    outer = _cpu.thread_count()
    with _cpu.use_threads(1):
        assert _cpu.thread_count() == 1
        with _cpu.use_threads(3):
            assert _cpu.thread_count() == 3
        assert _cpu.thread_count() == 1
    assert _cpu.thread_count() == outer


def test_kernel_threads_caps_at_numba_and_goes_serial_for_small_inputs():
    cap = numba.config.NUMBA_NUM_THREADS
    with kernel_threads(None, 10**6):
        assert _cpu.thread_count() == cap
    with kernel_threads(cap + 5, 10**6):
        assert _cpu.thread_count() == cap
    with kernel_threads(2, 10):
        assert _cpu.thread_count() == 1
    with kernel_threads(2, 10**5, serial_below=10**6):
        assert _cpu.thread_count() == 1


def test_training_objective_runs_one_kernel_thread_below_the_training_bound(kernel_thread_counts):
    """Inside the libraries' training loops the estimators' objective keeps the kernels on one
    thread below TRAINING_SERIAL_BELOW entries (the library's OpenMP workers spin meanwhile) and
    gives them n_jobs threads above it."""
    from boost_focal import FocalLoss
    from boost_focal.estimators import _base, _threads

    seen = kernel_thread_counts
    bound = _threads.TRAINING_SERIAL_BELOW
    for n, k in ((bound // 5 - 1, 5), (bound // 5, 5), (50_000, 2)):
        y = np.arange(n) % k
        objective = _base.make_objective(FocalLoss(2.0), y, np.empty(0), np.ones(k), n_jobs=2)
        margin = np.zeros((n, k) if k > 2 else n, dtype=np.float32)
        objective(margin)
    assert seen == [1, min(2, numba.config.NUMBA_NUM_THREADS), 1]


def test_run_split_uses_the_context_thread_count():
    seen = []
    with _cpu.use_threads(1):
        _cpu.run_split(lambda lo, hi: seen.append((lo, hi)), 1000, 10, lambda lo, hi: (lo, hi))
    assert seen == [(0, 1000)]  # one thread: one range, on the calling thread


@pytest.mark.parametrize("cls", [FocalXGBClassifier, FocalLGBMClassifier])
def test_fits_never_set_numbas_thread_count(cls, monkeypatch):
    def refuse(n):
        raise AssertionError("numba.set_num_threads was called during a fit")

    monkeypatch.setattr(numba, "set_num_threads", refuse)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 4))
    y = rng.integers(0, 3, 3000)
    model = cls(n_estimators=3, n_jobs=2, early_stopping_rounds=2)
    model.fit(X[:2500], y[:2500], eval_set=[(X[2500:], y[2500:])])
    model.predict_proba(X)


def test_serial_blas_limits_and_restores():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    blas = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    if not blas:
        pytest.skip("no BLAS library visible to threadpoolctl")
    before = [i["num_threads"] for i in blas]
    with serial_blas():
        inside = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        assert all(n == 1 for n in inside)
    after = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert after == before


def test_serial_blas_covers_scipys_blas_in_a_fresh_process():
    """The controller is made after SciPy's solvers (and their BLAS) are loaded, even when the first
    fit of a process is where SciPy's optimiser is first imported."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import json
        import numpy as np
        from boost_focal.estimators._threads import serial_blas
        import threadpoolctl
        with serial_blas():
            inside = [(i["filepath"], i["num_threads"]) for i in threadpoolctl.threadpool_info()
                      if i["user_api"] == "blas"]
        print(json.dumps(inside))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    import json

    inside = json.loads(out.stdout.strip().splitlines()[-1])
    if not inside:
        pytest.skip("no BLAS library visible to threadpoolctl")
    assert all(n == 1 for _, n in inside), inside  # every BLAS loaded by then, SciPy's included


def test_serial_blas_leaves_other_threads_unlimited():
    """Only the main thread limits BLAS (a process-wide setting), so overlapping fits in worker
    threads can never leave the process at one BLAS thread."""
    import threading

    threadpoolctl = pytest.importorskip("threadpoolctl")
    import scipy.optimize  # noqa: F401

    def counts():
        return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]

    before = counts()
    if not before:
        pytest.skip("no BLAS library visible to threadpoolctl")
    seen = []

    def worker():
        with serial_blas():
            seen.append(counts())

    t = threading.Thread(target=worker)
    t.start()
    t.join(10)
    assert seen == [before]
    assert counts() == before


def test_adapter_objectives_run_one_kernel_thread_below_the_training_bound(kernel_thread_counts, monkeypatch):
    """FocalLoss as the objective of xgb.train / lgb.train (the framework adapters) keeps the
    kernels on one thread below _cpu.TRAINING_SERIAL_BELOW entries, as the estimators do, unless
    the caller chose a count with use_threads; above the bound it uses Numba's count."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one thread either way on a one-core machine")
    import lightgbm as lgb
    import xgboost as xgb

    from boost_focal import FocalLoss

    seen = kernel_thread_counts
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] > 0).astype(float)
    fl = FocalLoss(2.0)
    xgb.train({"objective": "binary:logistic", "nthread": 1}, xgb.DMatrix(X, label=y), 2, obj=fl)
    lgb.train({"objective": fl, "metric": "None", "verbose": -1, "num_threads": 1}, lgb.Dataset(X, y), 2)
    assert seen == [1, 1, 1, 1]
    seen.clear()
    with _cpu.use_threads(2):
        xgb.train({"objective": "binary:logistic", "nthread": 1}, xgb.DMatrix(X, label=y), 1, obj=fl)
    assert seen == [2]
    seen.clear()
    monkeypatch.setattr(_cpu, "TRAINING_SERIAL_BELOW", 100)
    xgb.train({"objective": "binary:logistic", "nthread": 1}, xgb.DMatrix(X, label=y), 1, obj=fl)
    assert seen == [_cpu.thread_count()]
