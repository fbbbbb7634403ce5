"""How many threads the Numba focal kernels get inside an estimator.

The kernels split their rows across up to Numba's thread count (``boost_focal._cpu.run_split``).
An estimator passes its ``n_jobs`` on, and small inputs run on one thread: handing work to
another thread costs more than the work on a few thousand rows.
"""

import threading
from contextlib import contextmanager, nullcontext

from .._cpu import TRAINING_SERIAL_BELOW  # noqa: F401 (the bound inside a training loop; measured there)

# Below this many margin entries a kernel runs on one thread.
SERIAL_BELOW = 10_000
# (Inside a library's training loop the estimators' objective uses _cpu.TRAINING_SERIAL_BELOW.)


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
