"""Does starting at ``FocalLoss.init_score`` instead of margin 0 matter? (docs/frameworks.md)

For each dataset, engine (xgb.train, lgb.train) and fold of a stratified 3-fold CV, the same
focal objective (gamma 2; alpha 0.25 binary, None multiclass; default Hessian) is trained twice:

* ``zero``: the libraries' start for a custom objective (XGBoost base_score 0.5 under
  binary:logistic = margin 0, or 0 per class; LightGBM 0);
* ``init``: the focal-optimal constant: XGBoost ``base_score=xgb_base_score(...)``, LightGBM
  ``Dataset(init_score=lgb_init_score(...))`` on training and held-out rows.

Recorded on the held-out fold: focal loss after 10, 30, 100 and 300 rounds, the best focal loss
along the path (what early stopping would pick) and the round where it occurs, and PR-AUC
(binary) / accuracy (multiclass) after 300 rounds. Learning rate 0.1, XGBoost max_depth 4,
LightGBM 15 leaves, one thread, seed 0. Categorical features enter as integer codes.

Usage::

    python benchmarks/intercept_start.py            # prints a Markdown table (~35 min on a busy 2-core box)
    python benchmarks/intercept_start.py --quick    # two datasets, 100 rounds
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("BOOST_FOCAL_SHARED_DATA", REPO.parent / "shared" / "data"))

from boost_focal import FocalLoss, lgb_init_score, xgb_base_score  # noqa: E402

DATASETS = {
    # name: (file, label column, columns to drop)
    "lending_club": ("lending_club", "target", ()),
    "coil2000": ("coil2000_ticdata", "target", ("split",)),
    "nass_cds_dead": ("nass_cds_crashes", "target_dead", ("target_injSeverity", "sample_weight")),
    "hypothyroid": ("keel_binary/hypothyroid", "target", ()),
    "abalone19": ("keel_binary/abalone19", "target", ()),
    "satellite (6 cl.)": ("satellite_statlog", "target", ()),
    "hpc_jobs (4 cl.)": ("hpc_jobs", "target", ()),
}
CHECKPOINTS = (10, 30, 100, 300)


def load(file, label, drop):
    df = pd.read_parquet(DATA / f"{file}.parquet").drop(columns=list(drop))
    y = df.pop(label)
    y = (y.cat.codes if isinstance(y.dtype, pd.CategoricalDtype) else y).to_numpy(np.int64)
    cols = [
        df[c].cat.codes.to_numpy(float) if isinstance(df[c].dtype, pd.CategoricalDtype) else df[c].to_numpy(float)
        for c in df
    ]
    return np.column_stack(cols), y


def focal_path(fl, margins_by_round, y):
    return np.array([fl.loss(m, y).mean() for m in margins_by_round])


def run_xgb(fl, X_tr, y_tr, X_te, y_te, k, start, rounds):
    import xgboost as xgb

    params = {"eta": 0.1, "max_depth": 4, "nthread": 1, "seed": 0, "disable_default_eval_metric": 1}
    if k == 2:
        params["objective"] = "binary:logistic"
    else:
        params.update(objective="multi:softprob", num_class=k, base_score=[0.0] * k)
    if start == "init":
        params["base_score"] = xgb_base_score(fl, y_tr, n_classes=k)
    history = {}
    dte = xgb.DMatrix(X_te, y_te)
    bst = xgb.train(params, xgb.DMatrix(X_tr, y_tr), rounds, obj=fl, evals=[(dte, "test")],
                    custom_metric=fl.metric(), evals_result=history, verbose_eval=False)
    final = bst.predict(dte, output_margin=True)
    at = {r: fl.loss(bst.predict(dte, output_margin=True, iteration_range=(0, r)), y_te).mean()
          for r in CHECKPOINTS if r <= rounds}
    return np.array(history["test"]["focal"]), at, final


def run_lgb(fl, X_tr, y_tr, X_te, y_te, k, start, rounds):
    import lightgbm as lgb

    params = {"objective": fl, "learning_rate": 0.1, "num_leaves": 15, "num_threads": 1, "seed": 0,
              "metric": "None", "verbose": -1}
    if k > 2:
        params["num_class"] = k
    offset = 0.0
    tr_kw, te_kw = {}, {}
    if start == "init":
        offset = fl.init_score(y_tr, n_classes=k)
        tr_kw["init_score"] = lgb_init_score(fl, y_tr, n_classes=k)
        te_kw["init_score"] = lgb_init_score(fl, y_tr, n_classes=k, n_rows=len(y_te))
    dtr = lgb.Dataset(X_tr, y_tr, **tr_kw)
    dte = lgb.Dataset(X_te, y_te, reference=dtr, **te_kw)
    history = {}
    bst = lgb.train(params, dtr, rounds, valid_sets=[dte], valid_names=["test"], feval=fl.metric(),
                    callbacks=[lgb.record_evaluation(history)])
    final = bst.predict(X_te, raw_score=True) + offset
    at = {r: fl.loss(bst.predict(X_te, raw_score=True, num_iteration=r) + offset, y_te).mean()
          for r in CHECKPOINTS if r <= rounds}
    return np.array(history["test"]["focal"]), at, final


def quality(fl, margin, y, k):
    from sklearn.metrics import average_precision_score

    p = fl.posterior(margin)
    return average_precision_score(y, p) if k == 2 else float(np.mean(p.argmax(1) == y))


def main():
    from sklearn.model_selection import StratifiedKFold

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rounds = 100 if args.quick else 300
    names = list(DATASETS)[:1] + list(DATASETS)[5:6] if args.quick else list(DATASETS)
    rows = []
    for name in names:
        X, y = load(*DATASETS[name])
        k = int(y.max()) + 1
        fl = FocalLoss(gamma=2.0, alpha=0.25 if k == 2 else None)
        folds = StratifiedKFold(3, shuffle=True, random_state=0).split(X, y)
        for fold, (tr, te) in enumerate(folds):
            for engine, run in (("XGBoost", run_xgb), ("LightGBM", run_lgb)):
                for start in ("zero", "init"):
                    path, at, final = run(fl, X[tr], y[tr], X[te], y[te], k, start, rounds)
                    rows.append(dict(dataset=name, engine=engine, start=start, fold=fold,
                                     best=path.min(), best_round=int(path.argmin()) + 1,
                                     quality=quality(fl, final, y[te], k),
                                     **{f"r{r}": v for r, v in at.items()}))
                    print(f"{name} {engine} fold {fold} {start}: best {path.min():.5f} at {path.argmin() + 1}",
                          file=sys.stderr, flush=True)
    df = pd.DataFrame(rows)
    cols = [f"r{r}" for r in CHECKPOINTS if r <= rounds] + ["best", "best_round", "quality"]
    mean = df.groupby(["dataset", "engine", "start"], sort=False)[cols].mean()
    print("Held-out focal loss (mean of 3 folds); quality = PR-AUC (binary) or accuracy (multiclass) "
          f"at round {rounds}\n")
    header = "| dataset | engine | start | " + " | ".join(cols) + " |"
    print(header)
    print("|" + "---|" * (3 + len(cols)))
    for (ds, eng, st), r in mean.iterrows():
        cells = [f"{r[c]:.0f}" if c == "best_round" else f"{r[c]:.4f}" for c in cols]
        print(f"| {ds} | {eng} | {st} | " + " | ".join(cells) + " |")
    # paired summary: how often init is better, per checkpoint
    print()
    wide = df.pivot_table(index=["dataset", "engine", "fold"], columns="start", values=cols)
    for c in cols[:-2]:
        d = (wide[(c, "init")] - wide[(c, "zero")]) / wide[(c, "zero")]
        print(f"{c}: init lower in {(d < 0).sum()}/{len(d)} runs, median relative change {d.median():+.2%}")


if __name__ == "__main__":
    main()
