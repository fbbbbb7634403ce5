"""Compile the Numba kernels ahead of the first fit: ``python -m boost_focal warmup``.

The float32 kernels are compiled per Hessian mode (binary: and weighted or not; multiclass: the
output stage), one kernel for every gamma (``boost_focal._cpu``); so the first fit of each new
Hessian mode compiles its kernels (README, Performance, rows "cold start", has the current figures for a fresh process on the 2-core
VM). Numba caches what it compiled (``NUMBA_CACHE_DIR``, else beside the package or in
the user-wide cache), so running this once, e.g. while building a container image, moves that
cost out of the first fits. Several processes may compile at the same time: Numba writes each
cache file under a temporary name and renames it into place.

It calls the public entry points on a few rows, in every dtype combination the adapters and
estimators use: float32 and float64 margins, float32 gradients (XGBoost, LightGBM; the
estimators' own variant, which rounds them to 21 bits in the kernel) and float64 ones,
unweighted and weighted, plus the loss and the starting score (and
the posterior, which is NumPy and compiles nothing: boost_focal/_posterior.py).
"""

import time

import numpy as np

from .focal import FocalLoss

DEFAULT_GAMMAS = (0.5, 1.0, 2.0, 2.5, 3.0)
DEFAULT_HESSIANS = ("bohning", "exact")
TASKS = ("binary", "multiclass")


def _rows(task, dtype):
    """A few margins and labels of each class."""
    if task == "binary":
        return np.linspace(-3.0, 3.0, 8).astype(dtype), np.tile(np.array([0, 1], dtype=np.float32), 4)
    z = np.linspace(-2.0, 2.0, 24).reshape(8, 3).astype(dtype)
    return z, np.tile(np.array([0, 1, 2], dtype=np.float32), 3)[:8]


def warm_one(gamma, hessian, task):
    """Compile (or load from the cache) every kernel a fit of this combination uses."""
    loss = FocalLoss(gamma, None, hessian)
    k = 2 if task == "binary" else 3
    alpha = loss.class_alpha(k)
    for dtype in (np.float32, np.float64):
        z, y = _rows(task, dtype)
        w = np.linspace(0.5, 2.0, z.shape[0])
        for weights in (np.empty(0), w):
            loss._grad_hess_checked(z, y, weights, alpha, dtype=np.float32)  # adapters
            loss._grad_hess_checked(z, y, weights, alpha)  # the margin's dtype
            loss._loss_checked(z, y, weights, alpha)  # the focal metric
        grad, hess = np.empty(z.shape, np.float32), np.empty(z.shape, np.float32)
        loss._f32_call(y, np.empty(0), alpha, grad, hess, round21=True, serial=True)(z)  # the estimators' variant
        loss.posterior(z)  # predict_proba (NumPy: compiles nothing, kept as a smoke call)
    y = _rows(task, np.float32)[1]
    loss.init_score(y.astype(np.int64), None, k)
    loss.init_score(y.astype(np.int64), np.linspace(0.5, 2.0, y.shape[0]), k)


def warmup(gammas=DEFAULT_GAMMAS, hessians=DEFAULT_HESSIANS, tasks=TASKS, progress=None):
    """Warm every (gamma, hessian, task) combination; returns the seconds it took."""
    start = time.perf_counter()
    for task in tasks:
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        for hessian in hessians:
            for gamma in gammas:
                t = time.perf_counter()
                warm_one(gamma, hessian, task)
                if progress is not None:
                    progress(f"{task}, gamma={gamma:g}, hessian={hessian}: {time.perf_counter() - t:.1f} s")
    return time.perf_counter() - start
