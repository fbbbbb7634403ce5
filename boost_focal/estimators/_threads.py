"""How many threads the Numba focal kernels get inside an estimator.

The kernels split their rows across up to Numba's thread count (``boost_focal._cpu.run_split``).
An estimator passes its ``n_jobs`` on, and small inputs run on one thread: handing work to
another thread costs more than the work on a few thousand rows.
"""

from contextlib import contextmanager

# Below this many margin entries a kernel runs on one thread.
SERIAL_BELOW = 10_000


@contextmanager
def kernel_threads(n_jobs, size):
    """Run the focal kernels with ``n_jobs`` threads (all when None or < 1), one for small inputs."""
    import numba

    available = numba.config.NUMBA_NUM_THREADS
    wanted = available if n_jobs is None or n_jobs < 1 else min(int(n_jobs), available)
    if size < SERIAL_BELOW:
        wanted = 1
    previous = numba.get_num_threads()
    numba.set_num_threads(wanted)
    try:
        yield
    finally:
        numba.set_num_threads(previous)
