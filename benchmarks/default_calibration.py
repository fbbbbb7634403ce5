"""Default probabilities of the estimators vs the libraries' own logloss classifiers (issue 16).

For every binary and multiclass table in ``../shared/data`` (tables above 20,000 rows are
subsampled, stratified, to 20,000; the report says which), stratified 5-fold CV, both engines,
two regimes:

* ``unstopped``: 300 rounds, learning rate 0.1, no eval set (what a user gets from ``fit(X, y)``);
* ``stopped``: up to 1000 rounds, early stopping (patience 30) on a stratified 20% of the
  training fold, the same rows for every model; the focal estimators get it as ``eval_set`` (their
  own focal metric drives stopping, and the focal temperature is fitted on it), the logloss
  classifiers stop on their log loss.

Trees: XGBoost ``max_depth=4``, LightGBM ``num_leaves=16``; every other parameter is each
library's default, one thread per model. Models, each scored on the held-out fold:

* ``logloss``: ``xgboost.XGBClassifier`` / ``lightgbm.LGBMClassifier`` (built-in objective);
* ``focal``: ``FocalXGBClassifier()`` / ``FocalLGBMClassifier()`` with the package defaults
  (gamma 2, alpha None, ``loss_scale="auto"``, ``probability="calibrated"``), also read out as
  ``probability="posterior"`` and ``"raw"`` (same trees);
* ``before``: the defaults this package had before issue 16 (``loss_scale=1.0``,
  ``probability="posterior"``);
* ``balanced`` and ``alpha=0.9`` (binary only): the defaults with that alpha.

Metrics: log loss, Brier (multiclass: summed over classes), PR-AUC (binary: average precision;
multiclass: macro one-vs-rest), ECE (15 equal-count bins; multiclass: mean one-vs-rest).
A dataset passes when the model's fold-mean log loss AND Brier are within 1.05x of the logloss
classifier's; PR-AUC passes unless it is below logloss's by more than the fold standard deviation
of the paired difference.

Usage::

    python benchmarks/default_calibration.py              # all tables (~30-60 min on 2 cores)
    python benchmarks/default_calibration.py --quick      # 4 tables, 3 folds, prints the report
    python benchmarks/default_calibration.py --jobs 2     # datasets in 2 processes

Per-dataset results are cached in ``benchmarks/results/default_calibration/`` (delete to rerun);
the report goes to ``docs/calibration.md``.
"""

import argparse
import json
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("BOOST_FOCAL_SHARED_DATA", REPO.parent / "shared" / "data"))
CACHE = REPO / "benchmarks" / "results" / "default_calibration"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

MAX_ROWS = 20_000
ROUNDS = {"unstopped": 300, "stopped": 1000}
PATIENCE = 30
LEARNING_RATE = 0.1
QUICK = ("keel_binary/yeast4", "keel_binary/kc1", "lending_club", "hpc_jobs")
#: (model name, estimator parameters, outputs read from it)
FOCAL_MODELS = (
    ("focal", {}, ("calibrated", "posterior", "raw")),
    ("before", {"loss_scale": 1.0, "probability": "posterior"}, ("posterior",)),
    ("balanced", {"alpha": "balanced"}, ("calibrated",)),
    ("alpha=0.9", {"alpha": 0.9}, ("calibrated",)),
)
METRICS = ("log_loss", "brier", "pr_auc", "ece")


def discover():
    return sorted(str(p.relative_to(DATA).with_suffix("")) for p in DATA.glob("**/*.parquet"))


def load_table(name):
    """(X, y codes, note): the shared loader of benchmarks/calibration.py, subsampled above MAX_ROWS."""
    from calibration import load
    from sklearn.model_selection import train_test_split

    X, y = load(name)
    note = ""
    if X.shape[0] > MAX_ROWS:
        note = f"subsampled {X.shape[0]:,} -> {MAX_ROWS:,} rows (stratified, seed 0)"
        X, _, y, _ = train_test_split(X, y, train_size=MAX_ROWS, stratify=y, random_state=0)
    return X, y, note


def scores(y, p):
    from calibration import all_metrics

    p = p[:, 1] if p.shape[1] == 2 else p
    m = all_metrics(y, p)
    return {k: m[k] for k in METRICS}


def _tree_params(engine):
    if engine == "xgboost":
        return {"max_depth": 4}
    return {"num_leaves": 16, "verbose": -1}


def _logloss_model(engine, k, regime, X_fit, y_fit, X_va, y_va):
    import lightgbm as lgb
    import xgboost as xgb

    common = dict(n_estimators=ROUNDS[regime], learning_rate=LEARNING_RATE, n_jobs=1, random_state=0,
                  **_tree_params(engine))
    if engine == "xgboost":
        stop = PATIENCE if regime == "stopped" else None
        model = xgb.XGBClassifier(**common, early_stopping_rounds=stop, eval_metric="logloss" if k == 2 else "mlogloss")
        kw = {"eval_set": [(X_va, y_va)], "verbose": False} if regime == "stopped" else {}
    else:
        model = lgb.LGBMClassifier(**common)
        kw = {"eval_set": [(X_va, y_va)], "callbacks": [lgb.early_stopping(PATIENCE, verbose=False)]} if regime == "stopped" else {}
    return model.fit(X_fit, y_fit, **kw)


def _focal_model(engine, regime, params, X_fit, y_fit, X_va, y_va):
    from boost_focal import FocalLGBMClassifier, FocalXGBClassifier

    cls = FocalXGBClassifier if engine == "xgboost" else FocalLGBMClassifier
    common = dict(n_estimators=ROUNDS[regime], learning_rate=LEARNING_RATE, n_jobs=1, random_state=0,
                  **_tree_params(engine))
    common.update(params)  # a variant may override any of them (calibration_variants.py --params)
    if regime == "stopped":
        return cls(early_stopping_rounds=PATIENCE, **common).fit(X_fit, y_fit, eval_set=[(X_va, y_va)])
    return cls(**common).fit(X_fit, y_fit)


def fold_splits(X, y, folds, regimes):
    """(fold, test rows, regime, (X_fit, y_fit, X_eval, y_eval)) of the protocol: stratified
    folds; under "stopped" a stratified 20% of the training fold is the eval (early-stopping)
    set, the same rows for every model; "unstopped" fits on the whole training fold."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    for fold, (tr, te) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=0).split(X, y)):
        for regime in regimes:
            if regime == "stopped":
                try:
                    fit_idx, va_idx = train_test_split(tr, test_size=0.2, stratify=y[tr], random_state=fold)
                except ValueError:  # a class with one row in the training fold
                    fit_idx, va_idx = train_test_split(tr, test_size=0.2, random_state=fold)
            else:
                fit_idx, va_idx = tr, tr[:0]
            yield fold, te, regime, (X[fit_idx], y[fit_idx], X[va_idx], y[va_idx])


def run_dataset(name, folds=5, regimes=tuple(ROUNDS), models=None):
    """Per-fold metric rows for one table (cached as JSON); ``models``: only these model names
    (of "logloss" and FOCAL_MODELS; default all)."""
    warnings.filterwarnings("ignore")
    import numba

    numba.set_num_threads(1)
    X, y, note = load_table(name)
    k = int(y.max()) + 1
    rows = []
    t0 = time.perf_counter()
    for fold, te, regime, args in fold_splits(X, y, folds, regimes):
        for engine in ("xgboost", "lightgbm"):
            base = dict(dataset=name, engine=engine, regime=regime, fold=fold)
            if models is None or "logloss" in models:
                ll = _logloss_model(engine, k, regime, *args)
                rows.append(dict(base, model="logloss", output="-", rounds=_rounds(ll),
                                 **scores(y[te], ll.predict_proba(X[te]))))
            for model_name, params, outputs in FOCAL_MODELS:
                if (model_name == "alpha=0.9" and k > 2) or (models is not None and model_name not in models):
                    continue
                fm = _focal_model(engine, regime, params, *args)
                for output in outputs:
                    fm.set_params(probability=output)
                    rows.append(dict(base, model=model_name, output=output, rounds=int(fm.n_estimators_),
                                     temperature=float(fm.temperature_), shift=float(np.max(np.abs(fm.margin_shift_))),
                                     **scores(y[te], fm.predict_proba(X[te]))))
    info = dict(rows=int(X.shape[0]), classes=k, smallest=float(np.bincount(y).min() / y.size), note=note,
                seconds=time.perf_counter() - t0)
    return {"info": info, "rows": rows}


def _rounds(model):
    best = getattr(model, "best_iteration", None)
    if best is None:
        best = getattr(model, "best_iteration_", None)
    return int(best) + 1 if best else int(model.n_estimators)


def cached_run(name, folds, rerun=None, refit=None):
    """The cached result of a table; ``rerun``: recompute that regime's rows and replace them;
    ``refit``: recompute these models' rows (both regimes, or only the ``rerun`` regime's when
    both are given) and replace them."""
    path = CACHE / f"{name.replace('/', '__')}.f{folds}.json"
    if path.exists() and rerun is None and refit is None:
        return json.loads(path.read_text())
    if path.exists() and refit is not None:
        old = json.loads(path.read_text())
        regimes = tuple(ROUNDS) if rerun is None else (rerun,)
        new = run_dataset(name, folds, regimes, models=refit)
        new["rows"] = [r for r in old["rows"] if r["model"] not in refit or r["regime"] not in regimes] + new["rows"]
        new["info"]["seconds"] += old["info"]["seconds"]
        result = new
    elif path.exists():
        old = json.loads(path.read_text())
        new = run_dataset(name, folds, (rerun,))
        new["rows"] = [r for r in old["rows"] if r["regime"] != rerun] + new["rows"]
        new["info"]["seconds"] += old["info"]["seconds"]
        result = new
    else:
        result = run_dataset(name, folds)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))
    return result


# ------------------------------------------------------------------------------------ report
def frame(results):
    import pandas as pd

    rows = [r for res in results.values() for r in res["rows"]]
    df = pd.DataFrame(rows)
    df["task"] = df.dataset.map(lambda n: "binary" if results[n]["info"]["classes"] == 2 else "multiclass")
    return df


def comparisons(df):
    """One row per (dataset, engine, regime, model, output): fold means, ratios to logloss, PR-AUC check."""
    import pandas as pd

    key = ["dataset", "task", "engine", "regime", "fold"]
    ll = df[df.model == "logloss"].set_index(key)
    out = []
    for (name, task, engine, regime, model, output), g in df[df.model != "logloss"].groupby(
        ["dataset", "task", "engine", "regime", "model", "output"]
    ):
        g = g.set_index(key)
        ref = ll.loc[g.index]
        diff = (g.pr_auc - ref.pr_auc).to_numpy()
        row = dict(dataset=name, task=task, engine=engine, regime=regime, model=model, output=output,
                   log_loss=g.log_loss.mean(), brier=g.brier.mean(), pr_auc=g.pr_auc.mean(), ece=g.ece.mean(),
                   ll_log_loss=ref.log_loss.mean(), ll_brier=ref.brier.mean(), ll_pr_auc=ref.pr_auc.mean(),
                   pr_diff=diff.mean(), pr_sd=diff.std(ddof=1) if diff.size > 1 else 0.0,
                   temperature=g.temperature.median(), rounds=g.rounds.mean())
        row["r_log_loss"] = row["log_loss"] / row["ll_log_loss"]
        row["r_brier"] = row["brier"] / row["ll_brier"]
        row["pass"] = row["r_log_loss"] <= 1.05 and row["r_brier"] <= 1.05
        row["pr_ok"] = row["pr_diff"] >= -row["pr_sd"] - 1e-12
        out.append(row)
    return pd.DataFrame(out)


LABELS = {
    ("focal", "calibrated"): "default (calibrated)",
    ("focal", "posterior"): "default trees, posterior",
    ("focal", "raw"): "default trees, raw",
    ("before", "posterior"): "before issue 16",
    ("balanced", "calibrated"): 'alpha="balanced"',
    ("alpha=0.9", "calibrated"): "alpha=0.9",
}


def summary_table(cmp, task):
    lines = [
        "| engine | regime | model | datasets | log loss & Brier within 1.05x | median log-loss ratio | max log-loss ratio"
        " | max Brier ratio | PR-AUC within fold sd | median T |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    sub = cmp[cmp.task == task]
    for engine in ("xgboost", "lightgbm"):
        for regime in ROUNDS:
            for (model, output), label in LABELS.items():
                g = sub[(sub.engine == engine) & (sub.regime == regime) & (sub.model == model) & (sub.output == output)]
                if g.empty:
                    continue
                share = g["pass"].mean()
                lines.append(
                    f"| {engine} | {regime} | {label} | {len(g)} | {int(g['pass'].sum())}/{len(g)} ({share:.0%}) "
                    f"| {g.r_log_loss.median():.3f} | {g.r_log_loss.max():.2f} | {g.r_brier.max():.2f} "
                    f"| {int(g.pr_ok.sum())}/{len(g)} | {g.temperature.median():.2f} |"
                )
    return lines


def targets(cmp):
    """The issue's acceptance lines for the default estimator."""
    lines = []
    d = cmp[(cmp.model == "focal") & (cmp.output == "calibrated")]
    for engine in ("xgboost", "lightgbm"):
        for regime in ROUNDS:
            b = d[(d.task == "binary") & (d.engine == engine) & (d.regime == regime)]
            m = d[(d.task == "multiclass") & (d.engine == engine) & (d.regime == regime)]
            share = b["pass"].mean()
            worst = max(b.r_log_loss.max(), b.r_brier.max())
            ok = share >= 0.8 and worst <= 1.2 and b.pr_ok.all() and (m.r_log_loss <= 1.05).all()
            lines.append(
                f"- {engine}, {regime}: binary within 1.05x on {int(b['pass'].sum())}/{len(b)} ({share:.0%}; target >= 80%), "
                f"worst ratio {worst:.2f} (target <= 1.2), PR-AUC within fold sd on {int(b.pr_ok.sum())}/{len(b)}; "
                f"multiclass log-loss ratios {', '.join(f'{v:.2f}' for v in m.r_log_loss)} (target <= 1.05): "
                f"**{'met' if ok else 'NOT met'}**"
            )
    return lines


def render(results, cmp, args, elapsed):
    df_info = {n: r["info"] for n, r in results.items()}
    binary = sorted(n for n, i in df_info.items() if i["classes"] == 2)
    multi = sorted(n for n, i in df_info.items() if i["classes"] > 2)
    notes = [f"`{n}`: {i['note']}" for n, i in df_info.items() if i["note"]]
    lines = [
        "# Calibration of the default estimators",
        "",
        f"Generated by `python benchmarks/default_calibration.py{' --quick' if args.quick else ''}` "
        f"({args.folds}-fold stratified CV, {len(binary)} binary and {len(multi)} multiclass tables from "
        f"`../shared/data`, {elapsed / 60:.0f} min of compute for the tables run now). Method and settings: the "
        "module docstring. Ratios are the focal model's fold-mean metric over the library's own logloss "
        "classifier's (1.00 = as good; above 1 is worse).",
        "",
        "The older study of the posterior map itself (raw sigmoid vs recovered posterior, FocalLoss on its own) "
        "is in [calibration_posterior.md](calibration_posterior.md).",
        "",
        "## What the defaults do",
        "",
        "* `loss_scale=\"auto\"`: train on c * FL with c chosen so the mean Hessian at the starting score equals "
        "the library's logloss Hessian at the class prior ([math.md](math.md), section 7). The libraries' "
        "Hessian thresholds and L2 penalty then mean what they mean for their own classifiers. XGBoost's L2 "
        "penalty is `lambda = 1 + 2 min(gamma, 2)` (5 at gamma 2; since 2026-12-07, the XGBoost rows \"default\", "
        "\"balanced\" and \"alpha=0.9\" were refitted with it; [calibration_choice.md](calibration_choice.md), "
        "\"XGBoost's reg_lambda under focal loss\").",
        "* `probability=\"calibrated\"`: the posterior of z / T + b. With an `eval_set`, T in [1, gamma + 1] is "
        "fitted on the eval set's log loss after training (jointly with a shift, under a weak prior centred on "
        "the no-eval-set T of the kept trees' budget, early-stopped or not; since 2026-12-07, before which an "
        "early-stopped model's fit was centred on T = 1: the stopped rows \"default\", \"balanced\" and "
        "\"alpha=0.9\" below were refitted with it; [calibration_choice.md](calibration_choice.md), \"The "
        "eval-set fit's centre under early stopping\"); without one, "
        "T = 1 + s min(gamma, 2) min(1, B / 10) with B = learning rate x trees and s = 1/8, 3/32 for XGBoost "
        "binary (at gamma 2 and B >= 10: 1.25, XGBoost binary 1.1875; since 2026-12-06, the unstopped rows "
        "were refitted with it; [calibration_choice.md](calibration_choice.md), \"The no-eval-set temperature "
        "and the boosting budget\"; since 2026-12-07, with 3 or more classes, 3/16, T = 1.375, and for XGBoost "
        "with more than 6 classes, none of them here, 3/16 (6 / K)^2; since 2026-12-07 (night), LightGBM with two "
        "classes keeps rising past B = 10, times 1 + log10(B / 10): 1.37 at the 300 rounds x 0.1 here, the "
        "LightGBM rows \"default\", \"balanced\" and \"alpha=0.9\" were refitted with it; "
        "[calibration_choice.md](calibration_choice.md), \"LightGBM's temperature past the full budget\"). Then, for "
        "two classes, b is set on the training "
        "rows so that their mean probability is the class frequency, as a logloss fit has it "
        "([math.md](math.md), section 7.2; since 2026-12-04: the rows \"default\", \"balanced\" and "
        "\"alpha=0.9\" below were refitted with it, \"before issue 16\" and the logloss classifiers were not). "
        "With unequal class alphas (`alpha=\"balanced\"`, a per-class list) a multiclass model gets a shift "
        "vector b (K,), mean zero, set the same way per class (section 7.2; the multiclass \"balanced\" rows "
        "were refitted with it on 2026-12-05; at equal alphas, the default, b = 0).",
        "* `hessian=\"bohning\"` (FocalLoss's default): for multiclass, since 2026-12-07, the floor is on the "
        "curvature along the label's margin u and reaches the other classes through the chain rule "
        "([math.md](math.md), section 4); the multiclass rows \"default\", \"before issue 16\" and "
        "\"balanced\" below were refitted with it (binary models are unchanged).",
        "",
        "## Targets (default estimator)",
        "",
        *targets(cmp),
        "",
        "## Binary tables",
        "",
        *summary_table(cmp, "binary"),
        "",
        "## Multiclass tables",
        "",
        *summary_table(cmp, "multiclass"),
        "",
    ]
    if notes:
        lines += ["Subsampled: " + "; ".join(notes) + ".", ""]
    lines += ["## Per table (default estimator, calibrated)", "",
              "| table | rows | classes | smallest | engine | regime | log loss (logloss) | ratio | Brier ratio "
              "| PR-AUC (logloss) | T |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    d = cmp[(cmp.model == "focal") & (cmp.output == "calibrated")].sort_values(["task", "dataset", "engine", "regime"])
    for r in d.itertuples():
        i = df_info[r.dataset]
        lines.append(
            f"| {r.dataset} | {i['rows']:,} | {i['classes']} | {i['smallest']:.1%} | {r.engine} | {r.regime} "
            f"| {r.log_loss:.4f} ({r.ll_log_loss:.4f}) | {r.r_log_loss:.3f} | {r.r_brier:.3f} "
            f"| {r.pr_auc:.3f} ({r.ll_pr_auc:.3f}) | {r.temperature:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{len(QUICK)} tables, 3 folds, print the report")
    parser.add_argument("--folds", type=int, default=None)
    parser.add_argument("--jobs", type=int, default=1, help="datasets run in this many processes")
    parser.add_argument("--only", default=None, help="comma-separated table names (default: all)")
    parser.add_argument("--out", default=None, help="markdown output (default docs/calibration.md)")
    parser.add_argument("--csv", default=None, help="also write the comparison rows as CSV")
    parser.add_argument("--rerun", choices=tuple(ROUNDS), default=None,
                        help="recompute this regime's rows of the cached tables (after a change that affects only it)")
    parser.add_argument("--refit", default=None,
                        help="comma-separated model names (e.g. focal,balanced,alpha=0.9): recompute their rows "
                             "of the cached tables, keep the others (after a change that affects only them); "
                             "with --rerun, only that regime's rows of these models")
    args = parser.parse_args(argv)
    refit = None
    if args.refit:
        refit = tuple(args.refit.split(","))
        unknown = set(refit) - {"logloss", *(m for m, _, _ in FOCAL_MODELS)}
        if unknown:
            parser.error(f"--refit: unknown model(s) {sorted(unknown)}")
    args.folds = args.folds or (3 if args.quick else 5)
    names = list(QUICK) if args.quick else (args.only.split(",") if args.only else discover())
    start = time.perf_counter()
    results = {}
    with ProcessPoolExecutor(args.jobs) if args.jobs > 1 else _Serial() as pool:
        for name, res in zip(names, pool.map(cached_run, names, [args.folds] * len(names), [args.rerun] * len(names),
                                               [refit] * len(names))):
            results[name] = res
            print(f"{name}: {res['info']['seconds']:.0f} s", file=sys.stderr, flush=True)
    cmp = comparisons(frame(results))
    if args.csv:
        cmp.to_csv(args.csv, index=False)
    computed = sum(r["info"]["seconds"] for r in results.values())
    text = render(results, cmp, args, computed if computed else time.perf_counter() - start)
    out = args.out or (None if args.quick else str(REPO / "docs" / "calibration.md"))
    if out:
        Path(out).write_text(text)
        print(f"wrote {out}", file=sys.stderr)
    else:
        print(text)


class _Serial:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map(self, fn, *iterables):
        return map(fn, *iterables)


if __name__ == "__main__":
    main()
