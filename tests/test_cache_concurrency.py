"""Concurrent first runs share Numba's on-disk cache safely.

Several processes started at once on an empty ``NUMBA_CACHE_DIR`` (a cross-validation or
hyperparameter search in fresh workers) each compile what they need; the cache must come out
whole: every process gets the same model, and a process started afterwards loads every kernel
from the cache and compiles nothing.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

CHILD = textwrap.dedent(
    """
    import hashlib, json, sys
    import numpy as np
    from numba.core import event

    compiled = []

    class Count(event.Listener):
        def on_start(self, ev):
            pass

        def on_end(self, ev):
            compiled.append(getattr(ev.data.get("dispatcher"), "py_func", None).__qualname__)

    event.register("numba:compile", Count())
    from boost_focal import FocalXGBClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    digest = hashlib.sha256()
    for k in (2, 3):
        y = rng.integers(0, k, 400)
        model = FocalXGBClassifier(gamma=1.7, hessian="exact", n_estimators=4, n_jobs=1).fit(X, y)
        digest.update(model.predict_proba(X).tobytes())
    print(json.dumps({"digest": digest.hexdigest(), "compiled": compiled}))
    """
)


def _start(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), NUMBA_NUM_THREADS="1")
    env.pop("NUMBA_DISABLE_JIT", None)
    return subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _result(proc):
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="needs compiled kernels")
def test_concurrent_cold_starts_leave_a_whole_cache(tmp_path):
    cache = tmp_path / "numba-cache"
    first = [_result(p) for p in [_start(cache) for _ in range(3)]]
    assert all(r["compiled"] for r in first), "a cold process should have compiled its kernels"
    assert len({r["digest"] for r in first}) == 1, "concurrent cold starts trained different models"
    later = _result(_start(cache))
    assert later["digest"] == first[0]["digest"]
    assert later["compiled"] == [], f"the cache was incomplete after concurrent writers: {later['compiled']}"
