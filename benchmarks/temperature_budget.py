"""The no-eval-set focal temperature against the boosting budget (issue 16).

Without an eval set the estimators return the posterior of z / T + b with a fixed T. This script
measures which T is right for models that boosted little or much: for every table of
``../shared/data`` (the protocol of ``default_calibration.py``: stratified 5-fold CV, tables above
20,000 rows subsampled, XGBoost ``max_depth=4`` / LightGBM ``num_leaves=16``, one thread, no eval
set), it fits the library's logloss classifier and the default focal estimator for one
(rounds, learning rate, gamma) and scores the focal margins on the test fold at a grid of
temperatures (the training-rows shift b re-solved for each T, as ``fit`` does; multiclass at equal
alphas has b = 0). ``--library-trees`` uses each library's default trees and learning rate instead
(XGBoost depth 6, eta 0.3; LightGBM 31 leaves, 0.1).

Runs behind ``docs/calibration_choice.md`` ("The no-eval-set temperature and the boosting budget"),
about 1-10 min each with ``--jobs 2``::

    python benchmarks/temperature_budget.py run 30 0.1
    python benchmarks/temperature_budget.py run 50 0.1
    python benchmarks/temperature_budget.py run 100 0.1
    python benchmarks/temperature_budget.py run 500 0.02
    python benchmarks/temperature_budget.py run 300 0.1
    python benchmarks/temperature_budget.py run 100 0.3
    python benchmarks/temperature_budget.py run 1000 0.1
    python benchmarks/temperature_budget.py run 100 0 --library-trees
    python benchmarks/temperature_budget.py run 50 0.1 --gamma 1      # and 300 0.1; --gamma 4 likewise
    python benchmarks/temperature_budget.py report

``run`` writes one CSV per run to ``benchmarks/results/temperature_budget/`` (fold-mean log loss
and Brier per engine, table and T; ``logloss`` rows have T = 0); ``report`` prints, per run and
engine, on how many binary tables log loss AND Brier are within 1.05x of the logloss classifier at
each grid T, and the same for the rule shipped before (T = 1 + min(gamma, 2) / 8) and the rule
shipped now (``boost_focal.estimators._calibration.default_temperature``), read off the grid by
linear interpolation of each table's fold-mean scores in T.
"""

import argparse
import csv
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import default_calibration as dc  # noqa: E402

OUT = REPO / "benchmarks" / "results" / "temperature_budget"
GRID = (1.0, 1.0625, 1.125, 1.1875, 1.25, 1.375, 1.5, 1.75)
LIBRARY_RATES = {"xgboost": 0.3, "lightgbm": 0.1}


def tag(rounds, rate, gamma, library_trees):
    return f"{rounds}x{rate:g}" + ("_library" if library_trees else "") + (f"_g{gamma:g}" if gamma != 2.0 else "")


def grid_probabilities(model, X_test, X_fit, y_fit, grid=GRID):
    """(T, probabilities of ``X_test``) for each T of ``grid``: the fitted focal estimator's margins
    tempered as ``fit`` would temper them at that T: for two classes the posterior of z / T + b with
    the training-rows shift b re-solved for T on (``X_fit``, ``y_fit``); for more (equal alphas,
    b = 0) the posterior of z / T."""
    from boost_focal.estimators._calibration import temper, training_shift

    k = model.n_classes_
    z_test = np.asarray(model._predict_margin(X_test, model.n_estimators_), dtype=np.float64)
    if k == 2:
        z_fit = np.asarray(model._predict_margin(X_fit, model.n_estimators_), dtype=np.float64).ravel()
    for T in grid:
        if k == 2:
            b = training_shift(model._posterior, z_fit, y_fit, None, T)
            p1 = model._posterior(temper(z_test.ravel(), T, b))
            yield T, np.column_stack([1 - p1, p1])
        else:
            yield T, model._posterior(z_test.reshape(X_test.shape[0], k) / T)


def run_table(args):
    """Fold-mean rows of one table: (engine, task, dataset, rows, model, T, log_loss, brier)."""
    name, rounds, rate, gamma, library_trees = args
    warnings.filterwarnings("ignore")
    import numba

    numba.set_num_threads(1)
    dc.ROUNDS["unstopped"] = rounds
    if library_trees:
        dc._tree_params = lambda engine: {} if engine == "xgboost" else {"verbose": -1}
    X, y, _ = dc.load_table(name)
    k = int(y.max()) + 1
    scores = {}
    for fold, te, regime, (Xf, yf, Xv, yv) in dc.fold_splits(X, y, 5, ("unstopped",)):
        for engine in ("xgboost", "lightgbm"):
            dc.LEARNING_RATE = LIBRARY_RATES[engine] if library_trees else rate
            ll = dc._logloss_model(engine, k, regime, Xf, yf, Xv, yv)
            scores.setdefault((engine, "logloss", 0.0), []).append(dc.scores(y[te], ll.predict_proba(X[te])))
            fm = dc._focal_model(engine, regime, {"gamma": gamma}, Xf, yf, Xv, yv)
            for T, prob in grid_probabilities(fm, X[te], Xf, yf):
                scores.setdefault((engine, "focal", T), []).append(dc.scores(y[te], prob))
    task = "binary" if k == 2 else "multiclass"
    return [
        (engine, task, name, X.shape[0], model, T,
         float(np.mean([s["log_loss"] for s in rows])), float(np.mean([s["brier"] for s in rows])))
        for (engine, model, T), rows in scores.items()
    ]


def run(rounds, rate, gamma, library_trees, jobs):
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{tag(rounds, rate, gamma, library_trees)}.csv"
    t0 = time.perf_counter()
    names = dc.discover()
    with ProcessPoolExecutor(jobs) as ex:
        rows = [r for table in ex.map(run_table, [(n, rounds, rate, gamma, library_trees) for n in names]) for r in table]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(("engine", "task", "dataset", "rows", "model", "T", "log_loss", "brier"))
        w.writerows(rows)
    print(f"wrote {path} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)


def _read(path):
    import pandas as pd

    return pd.read_csv(path)


def _budget(name, engine):
    """(gamma, boosting budget) of a run from its file name."""
    stem = name.split("_g")[0]
    gamma = float(name.split("_g")[1]) if "_g" in name else 2.0
    rounds, rate = stem.replace("_library", "").split("x")
    rate = LIBRARY_RATES[engine] if "_library" in stem else float(rate)
    return gamma, int(rounds) * rate


def passes(df, engine, temperature_of):
    """Binary tables whose log loss AND Brier at T = temperature_of(task) are within 1.05x of logloss."""
    count = 0
    for (task, _), g in df[(df.engine == engine) & (df.task == "binary")].groupby(["task", "dataset"]):
        ref = g[g.model == "logloss"].iloc[0]
        f = g[g.model == "focal"].sort_values("T")
        T = temperature_of(task)
        ratio = np.interp(T, f["T"], f.log_loss) / ref.log_loss
        brier = np.interp(T, f["T"], f.brier) / ref.brier
        count += bool(ratio <= 1.05 and brier <= 1.05)
    return count


def report():
    from boost_focal.estimators._calibration import (
        DEFAULT_TEMPERATURE_SLOPE,
        XGBOOST_BINARY_TEMPERATURE_SLOPE,
        default_temperature,
        lightgbm_temperature_growth,
    )

    totals = {}
    for path in sorted(OUT.glob("*.csv")):
        df = _read(path)
        print(f"## {path.stem}")
        for engine in ("xgboost", "lightgbm"):
            gamma, budget = _budget(path.stem, engine)
            n = df[(df.engine == engine) & (df.task == "binary")].dataset.nunique()
            grid = " ".join(f"{T:g}:{passes(df, engine, lambda task, T=T: T)}" for T in GRID)
            old = passes(df, engine, lambda task: 1 + min(gamma, 2) / 8)
            slope = XGBOOST_BINARY_TEMPERATURE_SLOPE if engine == "xgboost" else DEFAULT_TEMPERATURE_SLOPE
            growth = 0.0 if engine == "xgboost" else lightgbm_temperature_growth(2)
            new_T = default_temperature(gamma, budget, slope, growth)
            new = passes(df, engine, lambda task: new_T)
            totals[engine] = [a + b for a, b in zip(totals.get(engine, [0, 0, 0]), (old, new, n))]
            mc = df[(df.engine == engine) & (df.task == "multiclass")]
            mc_line = ""
            if len(mc):
                def mc_ratios(T):
                    out = []
                    for _, g in mc.groupby("dataset"):
                        ref = g[g.model == "logloss"].iloc[0]
                        f = g[g.model == "focal"].sort_values("T")
                        out.append(np.interp(T, f["T"], f.log_loss) / ref.log_loss)
                    return " ".join(f"{r:.3f}" for r in out)
                mc_new = default_temperature(gamma, budget, DEFAULT_TEMPERATURE_SLOPE)
                mc_line = (f"\n    multiclass log-loss ratios ({', '.join(sorted(mc.dataset.unique()))}): "
                           f"before T={1 + min(gamma, 2) / 8:.4g}: {mc_ratios(1 + min(gamma, 2) / 8)}; "
                           f"now T={mc_new:.4g}: {mc_ratios(mc_new)}")
            print(f"  {engine:8s} gamma {gamma:g} budget {budget:g}: binary within 1.05x of {n} at T {grid}; "
                  f"rule before {old}, now (T={new_T:.4g}) {new}{mc_line}")
    for engine, (old, new, n) in totals.items():
        print(f"all runs, {engine}: binary (table, run) cells within 1.05x: before {old}/{n}, now {new}/{n}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("rounds", type=int)
    r.add_argument("rate", type=float, help="learning rate (ignored with --library-trees)")
    r.add_argument("--gamma", type=float, default=2.0)
    r.add_argument("--library-trees", action="store_true")
    r.add_argument("--jobs", type=int, default=2)
    sub.add_parser("report")
    args = parser.parse_args()
    if args.command == "run":
        run(args.rounds, args.rate, args.gamma, args.library_trees, args.jobs)
    else:
        report()


if __name__ == "__main__":
    main()
