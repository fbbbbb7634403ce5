"""Speed benchmark of boost-focal: one command, one table.

    python benchmarks/run.py              # full run (about 13 minutes on 2 cores)
    python benchmarks/run.py --quick      # fewer repeats (about 2 minutes)
    python benchmarks/run.py --markdown results.md [--json results.json]

Sections: tuning-sized fits of the estimators against the libraries' classifiers (``small``),
float32 kernel throughput against a NumPy copy of the same bytes and against a
vectorised NumPy implementation, accuracy of the float32 kernels, end-to-end training time
against XGBoost's and LightGBM's built-in objectives (binary and multiclass), and import/compile
times with a read-only install. Every timing is a median of repeats taken in turns with its
baseline in the same process, and every row states sizes, threads and versions. A target that
is not met is printed as NO with the measured figure.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable as a package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "benchmarks"

from benchmarks import bench_kernels, bench_small, bench_startup, bench_training  # noqa: E402

SECTIONS = {
    "startup": bench_startup, "kernels": bench_kernels, "training": bench_training, "small": bench_small,
}
COLUMNS = ("Benchmark", "Sizes", "Threads", "Versions", "Measured", "Ratio", "Target", "Met")
NOTES = (
    "Kernel ratios are medians of repeats run in turns with their baseline in one process. "
    "Training times are sums over the boosting rounds of each round's median over the repeats (built-in, "
    "FocalLoss and replay fits in turns). Replay = a Python objective that hands back the (grad, hess) "
    "FocalLoss returned in a recorded run: the same trees (checked: bit-for-bit equal predictions) "
    "and no arithmetic, so replay/built-in is what growing focal-loss trees costs the library and "
    "FocalLoss/replay is the objective's own cost. "
    "Copy = `np.copyto` of the kernel's bytes into preallocated arrays (margin+label -> grad+hess; "
    "multiclass: margin -> grad, margin -> hess). NumPy = the same stable formulas in vectorised float32 NumPy "
    "(benchmarks/numpy_reference.py). exact hess* = the exact (unsafeguarded) Hessian, error in ulps of the "
    "sum of |terms| it is made of (it changes sign, so a relative error is meaningless there). "
    "Load average is the machine's (other processes); timings taken under load are noisy."
)


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load():
    try:
        return "%.1f" % os.getloadavg()[0]
    except OSError:
        return "n/a"


def _versions():
    import lightgbm
    import numba
    import numpy
    import xgboost

    import boost_focal

    return (
        f"boost-focal {boost_focal.__version__}, python {platform.python_version()}, numpy {numpy.__version__}, "
        f"numba {numba.__version__} (kernels on {numba.get_num_threads()} threads: boost-focal's own pool, "
        "no Numba threading layer), "
        f"xgboost {xgboost.__version__}, lightgbm {lightgbm.__version__}"
    )


def _cell(text):
    return str(text).replace("|", "\\|")


def to_markdown(rows, header):
    lines = [*header, "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        cells = (f"{r.section}: {r.case}", r.sizes, r.threads, r.versions, r.measured, r.ratio, r.target, r.met)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines += ["", NOTES]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (about 2 minutes)")
    parser.add_argument("--markdown", type=Path, help="also write the table to this markdown file")
    parser.add_argument("--json", type=Path, help="also write the raw numbers to this JSON file")
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated sections to run (default: {','.join(SECTIONS)})"
    )
    args = parser.parse_args(argv)
    names = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in names if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}")

    start, load_before = time.perf_counter(), _load()
    rows = []
    for name in names:
        t0 = time.perf_counter()
        print(f"[{name}] running...", file=sys.stderr, flush=True)
        rows += SECTIONS[name].run(args.quick)
        print(f"[{name}] done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - start
    header = [
        f"# boost-focal benchmark ({'quick' if args.quick else 'full'} run, {time.strftime('%Y-%m-%d %H:%M')})",
        "",
        f"Machine: {_cpu_model()}, {os.cpu_count()} logical CPUs; load average {load_before} at start, "
        f"{_load()} at end; {elapsed:.0f} s in all.",
        f"Versions: {_versions()}.",
    ]
    table = to_markdown(rows, header)
    print(table)
    if args.markdown:
        args.markdown.write_text(table)
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=2, default=str))
    missed = [r for r in rows if r.met == "NO"]
    if missed:
        print(f"{len(missed)} target(s) not met: " + "; ".join(f"{r.case}: {r.measured}" for r in missed), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
