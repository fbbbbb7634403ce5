"""Import and compile times, and the Numba cache on a read-only install.

The package is copied to a temporary folder and made read-only (as in a system or container
install), then ``startup_workload.py`` runs in fresh interpreters:

1. cold: an empty ``NUMBA_CACHE_DIR``: every kernel a training run needs is compiled;
2. warm: the same cache again: nothing may be compiled, import + first call must be fast;
3. (full run only) read-only without ``NUMBA_CACHE_DIR``: Numba falls back to the user-wide
   cache (here ``XDG_CACHE_HOME`` pointed at a temporary folder); cold, then warm.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import numba

import boost_focal

from .timing import Row, fmt_s, verdict

WORKLOAD = Path(__file__).with_name("startup_workload.py")
IMPORT_TARGET = 1.0
COLD_TARGET = 10.0


def _copy_read_only(dst):
    src = Path(boost_focal.__file__).parent
    pkg = dst / "boost_focal"
    shutil.copytree(src, pkg, ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc", "*.pyc"))
    for path in [pkg, *pkg.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return pkg


def _make_writable(root):
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def _run_workload(src_root, env_extra):
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "NUMBA_DISABLE_JIT")}
    env.update(env_extra)
    env["PYTHONPATH"] = os.pathsep.join([str(src_root), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    out = subprocess.run(
        [sys.executable, str(WORKLOAD)], env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"startup workload failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if not result["package"].startswith(str(src_root)):
        raise RuntimeError(f"the workload imported {result['package']}, not the read-only copy in {src_root}")
    return result


def _count_index_files(folder):
    return sum(1 for _ in Path(folder).rglob("*.nbi"))


def run(quick):
    rows = []
    versions = f"numba {numba.__version__}, python {sys.version.split()[0]}"
    threads = f"{numba.get_num_threads()} (numba)"
    with tempfile.TemporaryDirectory(prefix="bf-startup-") as tmp:
        tmp = Path(tmp)
        src = tmp / "src"
        src.mkdir()
        _copy_read_only(src)
        try:
            cache = tmp / "numba-cache"
            cold = _run_workload(src, {"NUMBA_CACHE_DIR": str(cache)})
            warm = _run_workload(src, {"NUMBA_CACHE_DIR": str(cache)})
            n_index = _count_index_files(cache)
            user_cache = None
            if not quick:
                xdg = tmp / "xdg"
                cold_u = _run_workload(src, {"XDG_CACHE_HOME": str(xdg)})
                warm_u = _run_workload(src, {"XDG_CACHE_HOME": str(xdg)})
                user_cache = (cold_u, warm_u, _count_index_files(xdg))
        finally:
            _make_writable(src)

    first = warm["first_call"] - warm["libs"]
    rows.append(Row(
        "startup", "import boost_focal + first FocalLoss.grad_hess, warm Numba cache", "1 call, 2,000 rows",
        threads, versions, fmt_s(first), f"import {fmt_s(warm['imported'] - warm['libs'])}",
        f"< {IMPORT_TARGET:g} s", verdict(first, IMPORT_TARGET),
        {"import": warm["imported"] - warm["libs"], "first_call": first},
    ))
    cold_work = cold["trained"] - cold["libs"]
    warm_work = warm["trained"] - warm["libs"]
    compile_s = cold_work - warm_work
    rows.append(Row(
        "startup", "cold compile of a training run's kernels (XGBoost + LightGBM, binary + softmax, "
        "loss, init_score), read-only package, empty NUMBA_CACHE_DIR",
        "2 rounds on 2,000 rows each", threads, versions, f"{fmt_s(compile_s)} compile",
        f"cold run {fmt_s(cold_work)}", f"< {COLD_TARGET:g} s", verdict(compile_s, COLD_TARGET),
        {"cold": cold_work, "warm": warm_work},
    ))
    reused = n_index > 0 and warm_work < 0.5 * cold_work
    rows.append(Row(
        "startup", "a later process reuses the cache (read-only package, NUMBA_CACHE_DIR)",
        "same workload", threads, versions, f"warm run {fmt_s(warm_work)}",
        f"{n_index} index files cached", "no recompilation", "yes" if reused else "NO",
        {"index_files": n_index},
    ))
    if user_cache is not None:
        cold_u, warm_u, n_u = user_cache
        cw, ww = cold_u["trained"] - cold_u["libs"], warm_u["trained"] - warm_u["libs"]
        ok = n_u > 0 and ww < 0.5 * cw
        rows.append(Row(
            "startup", "read-only package without NUMBA_CACHE_DIR (Numba's user-wide cache)",
            "same workload", threads, versions, f"cold {fmt_s(cw)}, warm {fmt_s(ww)}",
            f"{n_u} index files cached", "works, no recompilation", "yes" if ok else "NO",
            {"cold": cw, "warm": ww, "index_files": n_u},
        ))
    return rows
