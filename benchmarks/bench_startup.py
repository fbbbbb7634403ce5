"""Import and compile times, and the Numba cache on a read-only install.

The package is copied to a temporary folder and made read-only (as in a system or container
install), then ``startup_workload.py`` runs in fresh interpreters, one training scenario
(library x task) at a time:

1. cold: an empty ``NUMBA_CACHE_DIR``: every kernel the run needs is compiled;
2. warm: the same cache again: nothing may be compiled, nothing written into the package, and
   import + first call must be fast.

The user-wide fallback (a read-only package without ``NUMBA_CACHE_DIR``) is exercised too when
permission bits are enforced. Run as root, the workload drops to user ``nobody`` with
``setpriv`` so that "read-only" means read-only.
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
GRID = Path(__file__).with_name("startup_grid.py")
IMPORT_TARGET = 1.0
COLD_TARGET = 10.0
FIRST_FIT_TARGET = 3.0  # seconds of compilation for the first fit of any combination
GRID_TARGET = 10.0  # seconds of compilation for a fresh process sweeping the grid
SCENARIOS = [("xgboost", "binary"), ("xgboost", "multiclass"), ("lightgbm", "binary"), ("lightgbm", "multiclass")]


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


NOBODY = 65534  # uid/gid the workload drops to when the benchmark runs as root


def _drop_privileges():
    """Command prefix that runs the workload as an unprivileged user when we are root.

    Root ignores permission bits, so a read-only package would be writable and the check
    meaningless; ``setpriv`` (util-linux) runs the workload as ``nobody`` instead.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("setpriv"):
        return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
    return []


def _enforces_permissions():
    return not hasattr(os, "geteuid") or os.geteuid() != 0 or bool(_drop_privileges())


def _writable_dir(path):
    """A folder the workload may write to (whoever it runs as)."""
    path.mkdir()
    if _drop_privileges():
        os.chown(path, NOBODY, NOBODY)
    return path


def _child_env():
    """This process's environment without the Numba settings a measured child must not inherit."""
    return {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "NUMBA_DISABLE_JIT")}


def _run_workload(src_root, scenario, env_extra):
    env = _child_env()
    env.update(env_extra)
    env["PYTHONPATH"] = os.pathsep.join([str(src_root), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    out = subprocess.run(
        [*_drop_privileges(), sys.executable, str(WORKLOAD), *scenario], env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"startup workload {scenario} failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if not result["package"].startswith(str(src_root)):
        raise RuntimeError(f"the workload imported {result['package']}, not the read-only copy in {src_root}")
    return result


def _run_grid(task, cache):
    """startup_grid.py in a fresh interpreter on an empty cache (the checkout's package)."""
    env = _child_env()
    env["NUMBA_CACHE_DIR"] = str(cache)
    out = subprocess.run([sys.executable, str(GRID), task], env=env, capture_output=True, text=True, timeout=600,
                         check=False)
    if out.returncode != 0:
        raise RuntimeError(f"startup grid {task} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def grid_rows(tmp, versions, threads):
    """The issue's cold-start scenario: estimator fits over gamma x hessian in one fresh process."""
    rows = []
    for task in ("binary", "multiclass"):
        result = _run_grid(task, Path(tempfile.mkdtemp(prefix=f"grid-{task}-", dir=tmp)))
        fits = result["fits"]
        worst = max(fits, key=lambda f: f["compile"])
        sizes = (f"FocalXGBClassifier {task}, gamma in {{0.5, 1, 2, 2.5}} x hessian {{bohning, exact}}, "
                 "5 rounds on 2,000 rows + predict_proba, one fresh process, empty NUMBA_CACHE_DIR")
        raw = {"fits": fits, "compile_total": result["compile_total"]}
        rows.append(Row(
            "startup", f"cold start, {task}: compilation paid by the most expensive fit of the grid", sizes,
            threads, versions, f"{fmt_s(worst['compile'])} (gamma {worst['gamma']:g}, {worst['hessian']})",
            "first fit " + fmt_s(fits[0]["compile"]) + ", later fits " + ", ".join(fmt_s(f["compile"]) for f in fits[1:]),
            f"<= {FIRST_FIT_TARGET:g} s", verdict(worst["compile"], FIRST_FIT_TARGET), raw,
        ))
        rows.append(Row(
            "startup", f"cold start, {task}: compilation paid by the whole grid (8 fits)", sizes, threads, versions,
            f"{fmt_s(result['compile_total'])} compile", f"fits took {fmt_s(sum(f['seconds'] for f in fits))}",
            f"<= {GRID_TARGET:g} s", verdict(result["compile_total"], GRID_TARGET), raw,
        ))
    return rows


def _count_index_files(folder):
    return sum(1 for _ in Path(folder).rglob("*.nbi"))


def _work(result):
    """Seconds from before ``import boost_focal`` to the end of the run (library imports excluded)."""
    return result["trained"] - result["libs"]


def run(quick):
    versions = f"numba {numba.__version__}, python {sys.version.split()[0]}"
    threads = f"{numba.get_num_threads()} (numba)"
    scenarios = SCENARIOS[:2] if quick else SCENARIOS
    results = {}
    with tempfile.TemporaryDirectory(prefix="bf-startup-") as tmp:
        tmp = Path(tmp)
        tmp.chmod(0o755)  # reachable by the unprivileged user (see _drop_privileges)
        src = tmp / "src"
        src.mkdir()
        _copy_read_only(src)
        try:
            for scenario in scenarios:
                cache = _writable_dir(tmp / ("cache-" + "-".join(scenario)))
                cold = _run_workload(src, scenario, {"NUMBA_CACHE_DIR": str(cache)})
                warm = _run_workload(src, scenario, {"NUMBA_CACHE_DIR": str(cache)})
                results[scenario] = (cold, warm, _count_index_files(cache))
            wrote_into_package = any(src.rglob("__pycache__"))
            user_cache = None
            # As root without setpriv, permission bits are not enforced: the "read-only" copy
            # would be written to and the user-wide fallback never exercised.
            if not quick and _enforces_permissions():
                xdg = _writable_dir(tmp / "xdg")
                env = {"XDG_CACHE_HOME": str(xdg)}
                cold_u = _run_workload(src, scenarios[0], env)
                warm_u = _run_workload(src, scenarios[0], env)
                user_cache = (cold_u, warm_u, _count_index_files(xdg))
        finally:
            _make_writable(src)
        grid = grid_rows(tmp, versions, threads)

    rows = []
    firsts = {sc: w["first_call"] - w["libs"] for sc, (_, w, _) in results.items()}
    imports = {sc: w["imported"] - w["libs"] for sc, (_, w, _) in results.items()}
    worst = max(firsts, key=firsts.get)
    rows.append(Row(
        "startup", "import boost_focal + first objective call fl(margin, dataset), warm Numba cache "
        "(slowest of the scenarios below)", "1 call, 2,000 rows", threads, versions,
        f"{fmt_s(firsts[worst])} ({worst[0]} {worst[1]})", f"import {fmt_s(max(imports.values()))}",
        f"< {IMPORT_TARGET:g} s", verdict(firsts[worst], IMPORT_TARGET),
        {"first_call": {" ".join(sc): v for sc, v in firsts.items()}, "import": {" ".join(sc): v for sc, v in imports.items()}},
    ))
    for scenario, (cold, warm, n_index) in results.items():
        compile_s = _work(cold) - _work(warm)
        rows.append(Row(
            "startup", f"cold compile, {scenario[0]} {scenario[1]} training run (init_score, train(obj=FocalLoss), "
            "loss), read-only package, empty NUMBA_CACHE_DIR",
            "2 rounds on 2,000 rows", threads, versions, f"{fmt_s(compile_s)} compile",
            f"cold {fmt_s(_work(cold))}, warm {fmt_s(_work(warm))}", f"< {COLD_TARGET:g} s",
            verdict(compile_s, COLD_TARGET), {"cold": _work(cold), "warm": _work(warm), "index_files": n_index},
        ))
    reused = all(n > 0 and _work(w) < 0.5 * _work(c) for c, w, n in results.values()) and not wrote_into_package
    rows.append(Row(
        "startup", "later processes reuse the cache (read-only package, NUMBA_CACHE_DIR)",
        f"{len(results)} scenarios", threads, versions,
        "warm runs " + ", ".join(fmt_s(_work(w)) for _, w, _ in results.values()),
        f"{'something' if wrote_into_package else 'nothing'} written into the package",
        "no recompilation", "yes" if reused else "NO", {"wrote_into_package": wrote_into_package},
    ))
    if user_cache is not None:
        cold_u, warm_u, n_u = user_cache
        ok = n_u > 0 and _work(warm_u) < 0.5 * _work(cold_u)
        rows.append(Row(
            "startup", "read-only package without NUMBA_CACHE_DIR (Numba's user-wide cache)", "xgboost binary",
            threads, versions, f"cold {fmt_s(_work(cold_u))}, warm {fmt_s(_work(warm_u))}",
            f"{n_u} index files cached", "works, no recompilation", "yes" if ok else "NO",
            {"cold": _work(cold_u), "warm": _work(warm_u), "index_files": n_u},
        ))
    elif not quick:
        rows.append(Row(
            "startup", "read-only package without NUMBA_CACHE_DIR (Numba's user-wide cache)", "xgboost binary",
            threads, versions, "not checked: running as root without setpriv (permission bits not enforced)",
            "", "works, no recompilation", "", {},
        ))
    return rows + grid
