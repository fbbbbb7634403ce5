"""The no-eval-set temperature on tables it was not chosen on: scikit-learn's bundled datasets.

Every constant of the estimators' probability defaults was read off ``../shared/data``. This script
checks the no-eval-set temperature rule on 17 binary tasks made from the real datasets that
scikit-learn ships (no download): breast cancer (569 rows), each digit against the rest (1,797
rows, about 10% positive), each wine cultivar against the rest (178 rows) and each iris species
against the rest (150 rows; setosa is separable). Protocol of ``default_calibration.py``, unstopped
regime (5 stratified folds, 300 rounds at learning rate 0.1, XGBoost ``max_depth=4`` / LightGBM
``num_leaves=16``, one thread): the library's logloss classifier and the default focal estimator,
whose test-fold margins are scored at a grid of temperatures (the training-rows shift re-solved for
each T, as ``fit`` does) that holds the rule shipped before 2026-12-07 (night) for LightGBM binary,
1.25, and the rule shipped since, 1 + (1/4)(1 + log10 3) = 1.369 at this budget of 30 (XGBoost's
rule, 1.1875, is on the grid too).

    python benchmarks/heldout_sklearn.py run       # about 40 s on one core
    python benchmarks/heldout_sklearn.py report
    python benchmarks/heldout_sklearn.py lambda    # about 60 s: FocalXGBClassifier at lambda 1 and 5
    python benchmarks/heldout_sklearn.py lambda --lambdas 3

``lambda`` checks XGBoost's default L2 penalty the same way (section "XGBoost's reg_lambda under focal
loss"): the default FocalXGBClassifier (calibrated probabilities) with ``reg_lambda`` 1 and 5 against
``XGBClassifier``, unstopped and early-stopped (the protocol's 20% eval rows), tasks within 1.05x; it
prints its counts (nothing is saved).

``run`` writes ``benchmarks/results/heldout_sklearn.json``; ``report`` prints per engine and T the
fold-mean log-loss / Brier ratios to the logloss classifier per task and how many tasks have both
within 1.05x. Results: ``docs/calibration_choice.md``, "LightGBM's temperature past the full budget".
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import default_calibration as dc  # noqa: E402
import temperature_budget as tb  # noqa: E402

OUT = REPO / "benchmarks" / "results" / "heldout_sklearn.json"
GRID = (1.0, 1.0625, 1.125, 1.1875, 1.25, 1.3693, 1.5)


def tasks():
    """{name: (X, y)}: the 17 binary tasks (one class against the rest)."""
    from sklearn import datasets

    out = {}
    X, y = datasets.load_breast_cancer(return_X_y=True)
    out["breast_cancer"] = (X, y)
    for loader, name in ((datasets.load_digits, "digits"), (datasets.load_wine, "wine"),
                         (datasets.load_iris, "iris")):
        X, y = loader(return_X_y=True)
        for c in np.unique(y):
            out[f"{name}_{c}"] = (X, (y == c).astype(np.int64))
    return out


def score_task(name, X, y, folds=5, grid=GRID):
    """Per fold and engine: the logloss classifier's scores and the focal margins' at each T
    (tempered as ``fit`` would: ``temperature_budget.grid_probabilities``)."""
    rows = []
    for fold, te, regime, (Xf, yf, Xv, yv) in dc.fold_splits(X, y, folds, ("unstopped",)):
        for engine in ("xgboost", "lightgbm"):
            ref = dc._logloss_model(engine, 2, regime, Xf, yf, Xv, yv)
            fm = dc._focal_model(engine, regime, {}, Xf, yf, Xv, yv)
            at = {str(T): dc.scores(y[te], prob) for T, prob in tb.grid_probabilities(fm, X[te], Xf, yf, grid)}
            rows.append(dict(task=name, engine=engine, fold=fold, temperature=float(fm.temperature_),
                             budget=float(fm.boosting_budget_), slope=float(fm._temperature_slope()),
                             logloss=dc.scores(y[te], ref.predict_proba(X[te])), focal=at))
    return rows


def run():
    warnings.filterwarnings("ignore")
    import numba

    numba.set_num_threads(1)
    start = time.perf_counter()
    rows = [r for name, (X, y) in tasks().items() for r in score_task(name, X, y)]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"grid": [str(T) for T in GRID], "rows": rows}))
    print(f"wrote {OUT} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)


def at_temperature(row, key, T):
    """The focal score ``key`` of one fold at temperature ``T``, linear between grid points."""
    grid = sorted(row["focal"], key=float)
    return float(np.interp(T, [float(g) for g in grid], [row["focal"][g][key] for g in grid]))


def ratios(rows, engine, temperature_of):
    """{task: (log-loss ratio, Brier ratio)} of fold means, each fold scored at
    ``temperature_of(row)`` (a grid key's value, or a rule of the fold's budget)."""
    out = {}
    for task in sorted({r["task"] for r in rows}):
        sel = [r for r in rows if r["task"] == task and r["engine"] == engine]
        out[task] = tuple(np.mean([at_temperature(r, k, temperature_of(r)) for r in sel])
                          / np.mean([r["logloss"][k] for r in sel]) for k in ("log_loss", "brier"))
    return out


def report(path=OUT):
    from boost_focal.estimators._calibration import default_temperature

    data = json.loads(Path(path).read_text())
    rules = {
        "shipped (the fitted models' T)": lambda r: r["temperature"],
        "growth 0 (LightGBM before)": lambda r: default_temperature(2.0, r["budget"], r["slope"], 0.0),
    }
    for engine in ("xgboost", "lightgbm"):
        print(engine)
        for label, rule in (*((f"T={T}", lambda r, T=float(T): T) for T in data["grid"]), *rules.items()):
            r = ratios(data["rows"], engine, rule)
            ok = sum(a <= 1.05 and b <= 1.05 for a, b in r.values())
            worst = max(max(v) for v in r.values())
            print(f"  {label:31s} within 1.05x: {ok}/{len(r)}, worst ratio {worst:.2f}: "
                  + " ".join(f"{k}={a:.2f}/{b:.2f}" for k, (a, b) in r.items()))


def lambda_check(lambdas=(1.0, 5.0), task_names=None, folds=5):
    """{(regime, lambda): {task: (log-loss ratio, Brier ratio)}} of FocalXGBClassifier's default
    (calibrated) probabilities at each ``reg_lambda`` against XGBClassifier, fold means."""
    warnings.filterwarnings("ignore")
    import numba

    numba.set_num_threads(1)
    out = {}
    for name, (X, y) in tasks().items():
        if task_names is not None and name not in task_names:
            continue
        for regime in dc.ROUNDS:
            scores = {}
            for _, te, reg, args in dc.fold_splits(X, y, folds, (regime,)):
                ref = dc._logloss_model("xgboost", 2, reg, *args)
                scores.setdefault("ref", []).append(dc.scores(y[te], ref.predict_proba(X[te])))
                for lam in lambdas:
                    fm = dc._focal_model("xgboost", reg, {"reg_lambda": lam}, *args)
                    scores.setdefault(lam, []).append(dc.scores(y[te], fm.predict_proba(X[te])))
            for lam in lambdas:
                out.setdefault((regime, lam), {})[name] = tuple(
                    np.mean([s[k] for s in scores[lam]]) / np.mean([s[k] for s in scores["ref"]])
                    for k in ("log_loss", "brier"))
    for (regime, lam), r in out.items():
        ok = sum(max(v) <= 1.05 for v in r.values())
        print(f"{regime:9s} reg_lambda {lam:g}: within 1.05x {ok}/{len(r)}, worst ratio "
              f"{max(max(v) for v in r.values()):.2f}")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("run", "report", "lambda"))
    parser.add_argument("--lambdas", default="1,5", help="lambda: comma-separated reg_lambda values")
    args = parser.parse_args(argv)
    if args.command == "lambda":
        lambda_check(tuple(float(v) for v in args.lambdas.split(",")))
    else:
        {"run": run, "report": report}[args.command]()


if __name__ == "__main__":
    main()
