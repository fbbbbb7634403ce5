"""How many threads the Numba focal kernels get inside an estimator.

The kernels split their rows across up to Numba's thread count (``boost_focal._cpu.run_split``).
An estimator passes its ``n_jobs`` on, and small inputs run on one thread: handing work to
another thread costs more than the work on a few thousand rows.
"""

import threading
from contextlib import contextmanager, nullcontext

# Below this many margin entries a kernel runs on one thread.
SERIAL_BELOW = 10_000
# ... and inside a library's training loop (the estimators' objective), below this many. Right
# after each boosting round the library's OpenMP workers keep spinning for a few milliseconds, so
# a second kernel thread shares a core with a spinning one for all of a short call. In whole fits
# (200 rounds, 2 threads, 2-core VM, 11-15 pairs in turns, medians of the ratios to the library's
# classifier, 2026-12-03): K=5 at 50k rows (250k entries) 1.11x -> 1.05x (LightGBM) and
# 1.14x -> 1.03x (XGBoost) on one kernel thread; the objective's own time in the loop at
# 200k x 5 was 9.6 ms on two threads against 11.2 ms on one, and at 1M binary 6.4-6.7 ms against
# 6.9-7.5 ms, so larger calls keep the threads. (Binary calls under 80k rows run on one thread
# anyway: _cpu.MIN_ROWS_PER_THREAD.)
TRAINING_SERIAL_BELOW = 500_000


@contextmanager
def kernel_threads(n_jobs, size, serial_below=SERIAL_BELOW):
    """Run the focal kernels with ``n_jobs`` threads (all when None or < 1), one for inputs of
    fewer than ``serial_below`` entries.

    The count is boost-focal's own (``_cpu.use_threads``), not ``numba.set_num_threads``: that
    would start Numba's OpenMP layer, which shares libgomp with LightGBM and slowed its training.
    """
    import numba

    from .._cpu import use_threads

    available = numba.config.NUMBA_NUM_THREADS
    wanted = available if n_jobs is None or n_jobs < 1 else min(int(n_jobs), available)
    if size < serial_below:
        wanted = 1
    with use_threads(wanted):
        yield


_BLAS = {}  # "controller": threadpoolctl.ThreadpoolController, made once per process


def _blas_controller():
    controller = _BLAS.get("controller")
    if controller is None:
        import scipy.optimize  # noqa: F401  (loads SciPy's own BLAS, which its solvers use, first)
        from threadpoolctl import ThreadpoolController

        controller = _BLAS["controller"] = ThreadpoolController()
    return controller


@contextmanager
def serial_blas():
    """BLAS (OpenBLAS, MKL) on one thread for the estimators' own small solves (the starting
    score's L-BFGS, the temperature fit): they gain nothing from BLAS threads, and OpenBLAS's
    threads busy-wait for a while after each call, taking a core from the library's training that
    follows (LightGBM, 1k rows, K=5, 2 threads: 315 ms of lgb.train right after an unlimited
    init_score, 254 ms after a limited one, 251 ms with none; measured 2026-12-02).

    The limit is process-wide while it lasts (BLAS has one setting), so only the main thread
    takes it: two fits in other threads could overlap their limits, and the one ending last would
    restore the other's limit instead of the original count. Fits in worker threads run their
    solves unlimited, as before.
    """
    limit = nullcontext()
    if threading.current_thread() is threading.main_thread():
        try:
            limit = _blas_controller().limit(limits=1, user_api="blas")
        except Exception:  # threadpoolctl missing or unable to inspect this process: no limit
            pass
    with limit:
        yield
