"""LightGBM linear trees (``linear_tree=True``) with focal loss: does the leaf regression need a ridge?

With ``linear_tree=True`` LightGBM fits a linear model in every leaf by a Newton step weighted by
the rows' Hessians, with the ridge ``linear_lambda`` (default 0). Focal Hessians are small on the
well-classified rows (about alpha_t (1 - p_t)^gamma of logloss's), so a leaf's weighted least
squares can be ill-conditioned, and its coefficients extrapolate on new rows. This script
measures it on every table of ``../shared/data`` (tables above 20,000 rows subsampled, stratified,
as in ``default_calibration.py``; the same loader and folds): stratified 5-fold CV, 300 rounds,
learning rate 0.1, ``num_leaves=16``, no early stopping, one thread. Models:

* ``logloss``: ``lightgbm.LGBMClassifier(linear_tree=True)`` at ``linear_lambda`` 0 (its default);
* ``logloss l=1``: the same at ``linear_lambda=1``;
* ``focal l=L``: ``FocalLGBMClassifier(linear_tree=True, linear_lambda=L)``, package defaults
  otherwise, for L in LAMBDAS.

Scored on the held-out fold: log loss, Brier, PR-AUC (``default_calibration.scores``) and the
largest |margin| (binary; multiclass: of any class). A table passes when the model's fold-mean
log loss AND Brier are within 1.05x of ``logloss``'s (the criterion of issue 16).

Usage::

    python benchmarks/linear_trees.py run [--jobs 2] [--max-rows N]   # caches per table
    python benchmarks/linear_trees.py report                         # prints the markdown table

Rows are cached in ``benchmarks/results/linear_trees/`` (delete to rerun).
"""

import argparse
import json
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

OUT = REPO / "benchmarks" / "results" / "linear_trees"
ROUNDS = 300
LAMBDAS = (0.0, 0.1, 1.0)


def _models():
    import lightgbm as lgb

    from boost_focal import FocalLGBMClassifier

    common = dict(n_estimators=ROUNDS, learning_rate=dc.LEARNING_RATE, num_leaves=16, n_jobs=1, random_state=0,
                  linear_tree=True)
    models = {
        "logloss": lambda: lgb.LGBMClassifier(**common, verbose=-1),
        "logloss l=1": lambda: lgb.LGBMClassifier(**common, linear_lambda=1.0, verbose=-1),
    }
    for lam in LAMBDAS:
        models[f"focal l={lam:g}"] = lambda lam=lam: FocalLGBMClassifier(**common, linear_lambda=lam)
    return models


def run_table(name, max_rows):
    warnings.filterwarnings("ignore")
    import numba

    numba.set_num_threads(1)
    X, y, note = dc.load_table(name)
    if max_rows and X.shape[0] > max_rows:
        return None
    k = int(y.max()) + 1
    rows = []
    t0 = time.perf_counter()
    for fold, te, _, (X_fit, y_fit, _, _) in dc.fold_splits(X, y, 5, ("unstopped",)):
        for model_name, make in _models().items():
            model = make().fit(X_fit, y_fit)
            if hasattr(model, "decision_function"):
                margin = model.decision_function(X[te])
            else:
                margin = model.predict(X[te], raw_score=True)
            rows.append(dict(dataset=name, fold=fold, model=model_name, max_margin=float(np.max(np.abs(margin))),
                             **dc.scores(y[te], model.predict_proba(X[te]))))
    info = dict(rows=int(X.shape[0]), classes=k, note=note, seconds=time.perf_counter() - t0)
    return {"info": info, "rows": rows}


def _cached(name, max_rows):
    path = OUT / f"{name.replace('/', '__')}.json"
    if path.exists():
        return json.loads(path.read_text())
    result = run_table(name, max_rows)
    if result is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result))
    return result


def run(args):
    names = dc.discover()
    with ProcessPoolExecutor(args.jobs) as pool:
        for name, result in zip(names, pool.map(_cached, names, [args.max_rows] * len(names))):
            if result is not None:
                print(f"{name}: {result['info']['seconds']:.1f} s", flush=True)


def report(args):
    import pandas as pd

    results = [json.loads(p.read_text()) for p in sorted(OUT.glob("*.json"))]
    df = pd.DataFrame([r for res in results for r in res["rows"]])
    classes = {res["rows"][0]["dataset"]: res["info"]["classes"] for res in results}
    df["task"] = df.dataset.map(lambda n: "binary" if classes[n] == 2 else "multiclass")
    means = df.groupby(["task", "dataset", "model"])[["log_loss", "brier", "pr_auc", "max_margin"]].mean()
    lines = [
        "| task | model | tables | log loss & Brier within 1.05x of logloss | median log-loss ratio | "
        "max log-loss ratio | median of the largest test |margin| |",
        "|---|---|---|---|---|---|---|",
    ]
    for task in ("binary", "multiclass"):
        sub = means.loc[task] if task in means.index.get_level_values(0) else None
        if sub is None:
            continue
        ref = sub.xs("logloss", level="model")
        for model in _models():
            m = sub.xs(model, level="model")
            r_ll = m.log_loss / ref.log_loss.loc[m.index]
            r_b = m.brier / ref.brier.loc[m.index]
            ok = int(((r_ll <= 1.05) & (r_b <= 1.05)).sum())
            lines.append(
                f"| {task} | {model} | {len(m)} | {ok}/{len(m)} | {np.median(r_ll):.3f} | {r_ll.max():.2f} | "
                f"{np.median(m.max_margin):.1f} |"
            )
    print("\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--jobs", type=int, default=1)
    r.add_argument("--max-rows", type=int, default=0, help="skip tables with more rows (0: none)")
    sub.add_parser("report")
    args = parser.parse_args(argv)
    run(args) if args.command == "run" else report(args)


if __name__ == "__main__":
    main()
