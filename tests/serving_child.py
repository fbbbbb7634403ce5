"""Run by tests/test_serving.py in a fresh process: threads used by predict, fork after predict.

argv: engine ("xgb" | "lgb"), how ("fit" | "load"), a scratch folder. Prints one JSON line.
"""

import json
import multiprocessing
import os
import sys

import numpy as np

from boost_focal import FocalLGBMClassifier, FocalXGBClassifier

MODEL = None
X = None


def threads():
    return len(os.listdir("/proc/self/task"))


def work(_):
    return float(MODEL.predict_proba(X)[:, 1].sum())


def main():
    global MODEL, X
    engine, how, folder = sys.argv[1:4]
    cls = FocalXGBClassifier if engine == "xgb" else FocalLGBMClassifier
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 6))
    y = (X[:, 0] + rng.normal(size=X.shape[0]) > 1).astype(int)
    MODEL = cls(n_jobs=1, n_estimators=10).fit(X, y)
    if how == "load":
        path = os.path.join(folder, "m.ubj" if engine == "xgb" else "m.txt")
        MODEL.save_model(path)
        MODEL = cls(n_jobs=1).load_model(path)
    before = threads()
    expected = work(0)
    after = threads()
    ctx = multiprocessing.get_context("fork")
    pool = ctx.Pool(2)
    try:
        got = pool.map_async(work, range(2)).get(timeout=60)
        forked = "ok" if got == [expected, expected] else f"different results {got} vs {expected}"
    except multiprocessing.TimeoutError:
        forked = "hang"
    finally:
        pool.terminate()
    print(json.dumps({"threads_before": before, "threads_after": after, "fork": forked}))


if __name__ == "__main__":
    main()
