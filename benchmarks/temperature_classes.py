"""The no-eval-set temperature against the number of classes (multiclass, both engines).

The no-eval-set temperature rule (``_calibration.default_temperature``, ``docs/math.md`` 7.2) was
chosen on the tables of ``../shared/data``, whose multiclass tables have 4 to 6 classes. This
script asks how the best temperature moves with more classes. ``../shared/data`` has no table
with more than 6 classes, so it uses:

* synthetic tables from ``sklearn.datasets.make_classification`` (10,000 rows, 30 features, 15
  informative, class sizes falling geometrically from 1 to 0.05, 2% label noise; a few cluster
  and separation settings, one seed each; a stratified 70/30 split);
* ``sklearn.datasets.load_digits`` (real: 1,797 handwritten digits, 10 classes; bundled with
  scikit-learn, nothing is downloaded), as is ("balanced") and with class k subsampled to
  max(15, 180 * 0.75^k) rows ("geometric", 676 rows); stratified 5-fold CV.

For each table and engine: the library's logloss classifier and the default focal estimator,
300 rounds, learning rate 0.1 (a budget of 30: the full no-eval-set temperature), XGBoost
``max_depth=4``, LightGBM ``num_leaves=16``, two threads, no eval set. Scored on the test rows:
the log loss of ``FocalLoss.posterior(z / T)`` (the shift b is 0 at equal class alphas, the
default) for T on a grid, as a ratio to the logloss classifier's; and the estimator's own
``predict_proba`` at its own T.

Usage::

    python benchmarks/temperature_classes.py run      # about 10 minutes on 2 cores; caches the rows
    python benchmarks/temperature_classes.py report   # the markdown table of docs/calibration_choice.md

Rows are cached in ``benchmarks/results/temperature_classes.json`` (delete it to rerun).
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
OUT = REPO / "benchmarks" / "results" / "temperature_classes.json"
GRID = (1.0, 1.05, 1.1, 1.15, 1.2, 1.25, 1.375, 1.5)
#: (classes, clusters per class, class_sep, seed) of the synthetic tables
SYNTHETIC = (
    (3, 1, 1.0, 0), (4, 2, 1.0, 5), (5, 1, 1.0, 0), (6, 2, 1.0, 6), (8, 1, 1.0, 2), (8, 2, 0.7, 3),
    (10, 1, 1.0, 0), (12, 1, 1.0, 4), (12, 2, 1.5, 7), (15, 1, 1.0, 8), (20, 1, 1.0, 0), (30, 1, 1.5, 9),
)


def synthetic(k, clusters, sep, seed):
    from sklearn.datasets import make_classification

    sizes = np.geomspace(1.0, 0.05, k)
    return make_classification(10_000, 30, n_informative=15, n_classes=k, n_clusters_per_class=clusters,
                               class_sep=sep, weights=list(sizes / sizes.sum()), flip_y=0.02, random_state=seed)


def digits(kind):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    if kind == "geometric":
        rng = np.random.default_rng(0)
        keep = np.concatenate([rng.permutation(np.flatnonzero(y == k))[: max(15, int(180 * 0.75**k))]
                               for k in range(10)])
        X, y = X[keep], y[keep]
    return X, y


def splits(X, y, cv):
    from sklearn.model_selection import StratifiedKFold, train_test_split

    if cv:
        yield from StratifiedKFold(5, shuffle=True, random_state=0).split(X, y)
    else:
        yield train_test_split(np.arange(y.shape[0]), test_size=0.3, stratify=y, random_state=0)


def score_table(name, X, y, cv):
    """Rows (table, engine, classes, T or "own", log loss summed over test rows, n test rows)."""
    import lightgbm as lgb
    import xgboost as xgb
    from sklearn.metrics import log_loss

    from boost_focal import FocalLGBMClassifier, FocalXGBClassifier

    k = int(y.max()) + 1
    rows = []
    common = dict(n_estimators=300, learning_rate=0.1, n_jobs=2, random_state=0)
    for engine in ("xgboost", "lightgbm"):
        for tr, te in splits(X, y, cv):
            if engine == "xgboost":
                ref = xgb.XGBClassifier(**common, max_depth=4).fit(X[tr], y[tr])
                focal = FocalXGBClassifier(**common, max_depth=4).fit(X[tr], y[tr])
            else:
                ref = lgb.LGBMClassifier(**common, num_leaves=16, verbose=-1).fit(X[tr], y[tr])
                focal = FocalLGBMClassifier(**common, num_leaves=16).fit(X[tr], y[tr])

            def total(p):
                return float(log_loss(y[te], p, labels=range(k)) * te.size)

            z = focal.decision_function(X[te])
            base = dict(table=name, engine=engine, classes=k, n=int(te.size))
            rows.append(dict(base, model="logloss", T=None, loss=total(ref.predict_proba(X[te]))))
            rows.append(dict(base, model="own", T=float(focal.temperature_), loss=total(focal.predict_proba(X[te]))))
            rows += [dict(base, model="grid", T=T, loss=total(focal.loss_.posterior(z / T))) for T in GRID]
    return rows


def run(args):
    warnings.filterwarnings("ignore")
    rows = []
    t0 = time.perf_counter()
    for k, clusters, sep, seed in SYNTHETIC:
        X, y = synthetic(k, clusters, sep, seed)
        rows += score_table(f"synthetic K={k} clusters={clusters} sep={sep}", X, y, cv=False)
        print(f"K={k}: {time.perf_counter() - t0:.0f} s", flush=True)
    for kind in ("balanced", "geometric"):
        X, y = digits(kind)
        rows += score_table(f"digits ({kind})", X, y, cv=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(rows))


def report(args):
    import pandas as pd

    df = pd.DataFrame(json.loads(OUT.read_text()))
    sums = df.groupby(["table", "engine", "classes", "model", "T"], dropna=False).loss.sum().reset_index()
    lines = [
        "| table | classes | engine | log-loss ratio to logloss at T = " + " / ".join(f"{t:g}" for t in GRID)
        + " | best T | estimator's own T: ratio |",
        "|---|---|---|---|---|---|",
    ]
    for (table, engine), g in sorted(sums.groupby(["table", "engine"]), key=lambda kv: (kv[1].classes.iloc[0], kv[0])):
        ref = g[g.model == "logloss"].loss.iloc[0]
        grid = g[g.model == "grid"].set_index("T").loss.reindex(GRID) / ref
        own = g[g.model == "own"]
        own_t = own["T"].iloc[0]
        lines.append(
            f"| {table} | {g.classes.iloc[0]} | {engine} | " + " / ".join(f"{v:.3f}" for v in grid)
            + f" | {grid.idxmin():g} | {own_t:.3f}: {own.loss.iloc[0] / ref:.3f} |"
        )
    print("\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("run", "report"))
    args = parser.parse_args(argv)
    run(args) if args.command == "run" else report(args)


if __name__ == "__main__":
    main()
