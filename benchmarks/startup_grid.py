"""Child process of bench_startup.py: estimator fits over a (gamma, hessian) grid in one fresh
interpreter, measuring the Numba compilation each fit pays (the issue's cold-start scenario).

    python benchmarks/startup_grid.py TASK     # TASK: binary or multiclass

Prints one JSON line: per fit, the wall time and the seconds spent in top-level Numba
compilations (``numba:compile`` events, nested ones not counted twice), and the total.
A fit is ``FocalXGBClassifier(gamma, hessian, n_estimators=5).fit`` on 2,000 x 10 rows, then
``predict_proba`` (until 2026-12-03 a posterior kernel compiled there; the posterior is NumPy now).
"""

import json
import sys
import time

import numpy as np
from numba.core import event

GAMMAS = (0.5, 1.0, 2.0, 2.5)
HESSIANS = ("bohning", "exact")


class _CompileClock(event.Listener):
    def __init__(self):
        self.depth = 0
        self.seconds = 0.0
        self._start = 0.0

    def on_start(self, ev):
        if self.depth == 0:
            self._start = time.perf_counter()
        self.depth += 1

    def on_end(self, ev):
        self.depth -= 1
        if self.depth == 0:
            self.seconds += time.perf_counter() - self._start


def main(task):
    clock = _CompileClock()
    event.register("numba:compile", clock)
    from boost_focal import FocalXGBClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 10))
    y = rng.integers(0, 2 if task == "binary" else 5, 2000)
    fits = []
    for gamma in GAMMAS:
        for hessian in HESSIANS:
            before, start = clock.seconds, time.perf_counter()
            model = FocalXGBClassifier(gamma=gamma, hessian=hessian, n_estimators=5, n_jobs=2).fit(x, y)
            model.predict_proba(x)
            fits.append({"gamma": gamma, "hessian": hessian, "seconds": time.perf_counter() - start,
                         "compile": clock.seconds - before})
    print(json.dumps({"task": task, "fits": fits, "compile_total": clock.seconds}))


if __name__ == "__main__":
    main(sys.argv[1])
