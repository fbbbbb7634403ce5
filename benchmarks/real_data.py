"""Does focal loss help on real imbalanced data? Nested CV over the datasets in a folder.

For every binary dataset (Parquet) in DATA_DIR and each engine (XGBoost, LightGBM), stratified
k-fold CV (outer folds) compares on the same folds:

* ``logloss``: the engine's built-in objective (``XGBClassifier`` / ``LGBMClassifier``);
* ``weighted logloss``: the same with ``scale_pos_weight = n_negative / n_positive``;
* ``focal (inner CV)``: FocalXGBClassifier / FocalLGBMClassifier with (gamma, alpha) chosen by an
  inner stratified CV on the outer training part only (PR-AUC), then refitted on that part;
* ``focal g=2 a=0.25``: the paper's default, untuned; and the same under each other Hessian mode
  (``--hessians``), to show what the safeguard changes;
* CatBoost as a peer: its built-in ``Focal:focal_alpha=0.25;focal_gamma=2`` and ``Logloss``.

All models share trees, rounds, learning rate and seed. Metrics (on each outer test fold): PR-AUC,
ROC-AUC, log loss and Brier (focal models: of the recovered posterior; the raw sigmoid's log loss
is kept too), best-threshold F1, fit time. Results are cached per dataset as JSON (``--results``)
and rendered to Markdown (``--output``, default docs/benchmarks.md), which states the datasets,
settings and library versions that produced it.

Usage::

    python benchmarks/real_data.py ../shared/data                       # everything (long: hours on 2 cores)
    python benchmarks/real_data.py ../shared/data --datasets yeast4,kc1  # a subset
    python benchmarks/real_data.py ../shared/data --quick                # 3 folds, small grid, 100 rounds

Datasets documented as simulated (islr_default, modeldata_mlc_churn) are left out unless
``--include-simulated``; multiclass sets and sets over ``--max-rows`` rows are skipped with a note.
"""

import argparse
import hashlib
import json
import math
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from boost_focal import compare as C  # noqa: E402

SIMULATED = {"islr_default", "modeldata_mlc_churn"}
NOT_FEATURES = {"split", "sample_weight"}
HESSIAN_MODES = ("bohning", "exact", "abs", "clip")
PAPER = (2.0, 0.25)
METRIC_KEYS = ("pr_auc", "roc_auc", "logloss", "brier", "best_f1", "raw_logloss", "rounds", "fit_s")


# ---------------------------------------------------------------------------------------- data
def discover(data_dir):
    """{name: path} for every Parquet file under data_dir; name is the relative path without suffix."""
    data_dir = Path(data_dir)
    return {str(p.relative_to(data_dir).with_suffix("")): p for p in sorted(data_dir.rglob("*.parquet"))}


def select(found, wanted, include_simulated, notes):
    """The datasets to run: all (minus simulated) or those named in ``wanted`` (full or base names)."""
    if wanted:
        chosen = []
        for w in wanted:
            hits = [n for n in found if n == w or n.split("/")[-1] == w]
            if not hits:
                raise SystemExit(f"real_data.py: no dataset named {w!r} in the data folder")
            chosen += hits
        return list(dict.fromkeys(chosen))
    chosen = []
    for name in found:
        if name.split("/")[-1] in SIMULATED and not include_simulated:
            notes.append(f"{name}: skipped, documented as simulated by its source")
            continue
        chosen.append(name)
    return chosen


def load(path):
    """(X frame, y 0/1, label column, positive class) of a Parquet table; other target columns dropped."""
    import pandas as pd

    frame = pd.read_parquet(path)
    targets = [c for c in frame.columns if str(c).startswith("target")]
    label = "target" if "target" in targets else targets[0]
    drop = [c for c in frame.columns if c in NOT_FEATURES or (str(c).startswith("target") and c != label)]
    y = frame[label]
    X = frame.drop(columns=[label, *drop])
    text = [c for c in X.columns if X[c].dtype == object or pd.api.types.is_string_dtype(X[c].dtype)]
    matrix, _, coded = C.encode_features(X, categorical=[c for c in text if not isinstance(X[c].dtype, pd.CategoricalDtype)])
    return matrix, y, label, coded


# ---------------------------------------------------------------------------------------- models
def catboost_build(config, settings, y_train):
    from catboost import CatBoostClassifier

    loss = "Logloss" if config.loss == "logloss" else f"Focal:focal_alpha={config.alpha};focal_gamma={config.gamma:g}"
    return CatBoostClassifier(
        loss_function=loss, iterations=settings.n_estimators, learning_rate=settings.learning_rate,
        depth=settings.max_depth, random_seed=settings.random_state, thread_count=settings.n_jobs or -1,
        verbose=False, allow_writing_files=False,
    )


def run_dataset(name, path, opts):
    """All methods on all outer folds of one dataset: a JSON-ready dict."""
    import pandas as pd  # noqa: F401 - fail early in a worker without pandas

    warnings.filterwarnings("ignore")
    start = time.perf_counter()
    X, y_raw, label, coded = load(path)
    try:
        y, positive, counts = C.encode_target(y_raw)
    except C.DataError as exc:
        return {"name": name, "skipped": str(exc)}
    if len(y) > opts["max_rows"]:
        return {"name": name, "skipped": f"{len(y)} rows > --max-rows {opts['max_rows']}"}
    if int(min(y.sum(), len(y) - y.sum())) < opts["folds"] + 1:
        return {"name": name, "skipped": f"only {int(y.sum())} positives for {opts['folds']} folds"}
    settings = C.Settings(n_estimators=opts["n_estimators"], learning_rate=opts["learning_rate"],
                          max_depth=opts["max_depth"], n_jobs=opts["n_jobs"], random_state=opts["seed"],
                          early_stopping=opts.get("early_stopping"))
    try:
        rows, chosen, inner = _outer_cv(X, y, settings, opts)
    except C.DataError as exc:  # too few positives for the inner folds / validation split
        return {"name": name, "skipped": str(exc).split(";")[0]}
    return {"name": name, "rows_n": int(len(y)), "features": int(X.shape[1]), "categorical_coded": len(coded),
            "label": label, "positive": str(positive), "positives": int(y.sum()),
            "rows": rows, "chosen": chosen, "inner": inner, "seconds": time.perf_counter() - start}


def _outer_cv(X, y, settings, opts):
    """(metric rows, inner-CV choices, inner-CV scores) over the outer folds of one dataset."""
    grid = C.make_grid(opts["engines"], opts["gammas"], opts["alphas"], baselines=False)
    rows, chosen, inner = [], [], []
    folds = C.folds_for(y, opts["folds"], opts["seed"])
    for fold, (train, test) in enumerate(folds):
        Xtr, ytr, Xte, yte = X[train], y[train], X[test], y[test]

        def record(engine, method, config, build=C.build_model):
            metrics, _ = C.fit_and_score(config, settings, Xtr, ytr, Xte, yte, build)
            rows.append({"engine": engine, "method": method, "fold": fold, **metrics})

        for engine in opts["engines"]:
            record(engine, "logloss", C.Config(engine, "logloss"))
            record(engine, "weighted logloss", C.Config(engine, "weighted"))
            configs = [c for c in grid if c.engine == engine]
            best, scores = C.inner_cv_select(Xtr, ytr, configs, settings, n_splits=opts["inner_folds"],
                                             seed=opts["seed"] + 1 + fold)
            chosen.append({"engine": engine, "fold": fold, "gamma": best.gamma, "alpha": best.alpha})
            inner += [{"engine": engine, "fold": fold, "gamma": c.gamma, "alpha": c.alpha, "pr_auc": s}
                      for c, s in scores.items()]
            record(engine, "focal (inner CV)", best)
            for mode in opts["hessians"]:
                record(engine, f"focal g=2 a=0.25 h={mode}", C.Config(engine, "focal", PAPER[0], PAPER[1], mode))
        if opts["catboost"]:
            record("catboost", "logloss", C.Config("catboost", "logloss"), catboost_build)
            record("catboost", "Focal g=2 a=0.25 (built-in)", C.Config("catboost", "focal", *PAPER), catboost_build)
    return rows, chosen, inner


# ---------------------------------------------------------------------------------------- report
def _values(rows, engine, method, key):
    sel = sorted((r for r in rows if r["engine"] == engine and r["method"] == method), key=lambda r: r["fold"])
    return np.array([r.get(key) if r.get(key) is not None else math.nan for r in sel], dtype=float)


def _mean(v):
    return float(np.mean(v)) if v.size and np.all(np.isfinite(v)) else math.nan


def _version(module):
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return "not installed"


def _f(v, digits=4):
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.{digits}f}"


def _verdict(gain, half):
    if not np.isfinite(gain):
        return "n/a"
    if gain - half > 0:
        return "**better**"
    if gain + half < 0:
        return "**worse**"
    return "no clear difference"


def _alpha_text(a):
    return "none" if a is None else (a if isinstance(a, str) else f"{a:g}")


def render(results, opts, notes, command):
    """docs/benchmarks.md from the per-dataset results."""
    done = [r for r in results if "skipped" not in r]
    engines = opts["engines"]
    et = C.ENGINE_TITLES
    out = ["# Real-data benchmark: does focal loss help?", ""]
    out += [f"Generated by `benchmarks/real_data.py` on {date.today().isoformat()} with:", "", f"    {command}", ""]
    out += [
        f"- Datasets ({len(done)}): " + ", ".join(f"`{r['name']}`" for r in done) + ".",
        f"- Outer CV: stratified {opts['folds']}-fold (seed {opts['seed']}); focal (gamma, alpha) chosen by an inner "
        f"stratified {opts['inner_folds']}-fold CV on PR-AUC over gamma in {{{', '.join(f'{g:g}' for g in opts['gammas'])}}} "
        f"x alpha in {{{', '.join(_alpha_text(a) for a in opts['alphas'])}}} on the outer training part only, then refitted on it.",
        (f"- Early stopping: each fit holds out a stratified 20% of its training rows and stops when its own objective "
         f"(logloss, weighted logloss, focal loss; CatBoost: its loss) on them has not improved for {opts['early_stopping']} "
         f"rounds, keeping the best round (at most {opts['n_estimators']})."
         if opts.get("early_stopping") else
         f"- No early stopping: every model trains exactly {opts['n_estimators']} rounds (this favours the loss that "
         "overfits more slowly; see docs/choosing.md)."),
        f"- Every model: learning rate {opts['learning_rate']:g}, depth {opts['max_depth']} "
        f"(LightGBM: {min(31, 2 ** opts['max_depth'])} leaves), threads {opts['n_jobs']}, otherwise library defaults. "
        "Baselines are the built-in objectives (`XGBClassifier`, `LGBMClassifier`); weighted logloss uses "
        "`scale_pos_weight = n_neg / n_pos`. Focal models are `FocalXGBClassifier` / `FocalLGBMClassifier` with "
        "their default Hessian mode unless a row names one (`h=`).",
        "- Log loss and Brier of focal rows are of the recovered posterior (`probability=\"posterior\"`); `raw log loss` "
        "is the uncorrected sigmoid of the focal margin. CatBoost's Focal has no posterior correction (its probabilities "
        "are the raw sigmoid). Best F1 is at the best threshold on each test fold (optimistic, equal for all methods).",
        "- Versions: " + ", ".join(f"{m} {_version(m)}" for m in ("xgboost", "lightgbm", "catboost", "scikit-learn"))
        + ". Timings are wall-clock on a shared machine: compare them within a dataset only.",
    ]
    if notes:
        out += ["- Not run: " + "; ".join(notes) + "."]
    out += ["", "## Summary: tuned focal loss minus logloss, PR-AUC", "",
            "Gain = mean over outer folds of (focal chosen by inner CV) - (logloss), paired by fold; +- is the half-width "
            "of a 95% t-interval over folds; wins = folds where focal was higher. \"better\"/\"worse\" only when the "
            "interval excludes 0.", ""]
    header = "| dataset | rows | positives |"
    sep = "|---|---:|---:|"
    for e in engines:
        header += f" {et[e]} gain | {et[e]} wins | {et[e]} verdict |"
        sep += "---:|---:|---|"
    out += [header, sep]
    tallies = {e: {"**better**": 0, "**worse**": 0, "no clear difference": 0, "n/a": 0} for e in engines}
    gains = {e: [] for e in engines}
    for r in done:
        line = f"| {r['name']} | {r['rows_n']} | {r['positives']} ({r['positives'] / r['rows_n']:.1%}) |"
        for e in engines:
            a, b = _values(r["rows"], e, "focal (inner CV)", "pr_auc"), _values(r["rows"], e, "logloss", "pr_auc")
            gain, half, wins, k = C.paired_difference(a, b)
            v = _verdict(gain, half)
            tallies[e][v] += 1
            if np.isfinite(gain):
                gains[e].append(gain)
            line += f" {gain:+.4f} +- {half:.4f} | {wins}/{k} | {v} |"
        out.append(line)
    out += [""]
    for e in engines:
        t, g = tallies[e], np.array(gains[e])
        if g.size:
            out.append(f"- {et[e]}: focal (inner CV) better on {t['**better**']}, worse on {t['**worse**']}, no clear "
                       f"difference on {t['no clear difference']} of {len(done)} datasets; mean gain {g.mean():+.4f}, "
                       f"median {np.median(g):+.4f}, positive on {int((g > 0).sum())} of {g.size}.")
    out += ["", "### Where focal loss does not help", ""]
    no_help = []
    for r in done:
        for e in engines:
            a, b = _values(r["rows"], e, "focal (inner CV)", "pr_auc"), _values(r["rows"], e, "logloss", "pr_auc")
            gain, half, _, _ = C.paired_difference(a, b)
            if not (np.isfinite(gain) and gain - half > 0):
                no_help.append(f"{r['name']} ({et[e]}, {gain:+.4f})")
    pairs = len(done) * len(engines)
    out.append(f"Tuned focal loss did not beat plain logloss with confidence on {len(no_help)} of {pairs} "
               "dataset-engine pairs: " + (", ".join(no_help) or "none") + ".")
    worse = [f"{r['name']} ({et[e]})" for r in done for e in engines
             if _verdict(*C.paired_difference(_values(r["rows"], e, "focal (inner CV)", "pr_auc"),
                                              _values(r["rows"], e, "logloss", "pr_auc"))[:2]) == "**worse**"]
    if worse:
        out.append(f"It was worse than logloss with confidence on: {', '.join(worse)}.")
    if len(no_help) == pairs:
        out += ["", "On these datasets, tuned focal loss never beat logloss on ranking quality by more than the "
                "fold-to-fold noise. A gain that a one-off grid search finds on one split is likely noise; "
                "`boost-focal compare` on your own data applies the same paired test, corrected for the settings tried."]
    out += _others_section(done, engines, opts)
    out += _calibration_section(done, engines, opts)
    out += _choice_section(done, engines, opts)
    out += _hessian_section(done, engines, opts)
    out += ["", "## Per dataset", "",
            "Mean over outer folds (PR-AUC: +- standard deviation over folds).", ""]
    methods_order = ["logloss", "weighted logloss", "focal (inner CV)"] + [f"focal g=2 a=0.25 h={m}" for m in opts["hessians"]]
    for r in done:
        out += [f"### {r['name']}", "",
                f"{r['rows_n']} rows, {r['features']} features ({r['categorical_coded']} categorical, integer-coded), "
                f"label `{r['label']}`, positive class {r['positive']}: {r['positives']} rows. Run time {r['seconds']:.0f} s.", "",
                "| engine | method | PR-AUC | ROC-AUC | log loss | Brier | best F1 | raw log loss | rounds | fit s |",
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        present = list(dict.fromkeys((row["engine"], row["method"]) for row in r["rows"]))
        ordered = [(e, m) for e in [*engines, "catboost"] for m in methods_order + [p[1] for p in present if p[0] == e]
                   if (e, m) in present]
        for e, m in dict.fromkeys(ordered):
            pr = _values(r["rows"], e, m, "pr_auc")
            cells = [f"{_f(_mean(pr))} +- {_f(float(np.std(pr, ddof=1)) if pr.size > 1 else math.nan, 3)}"]
            cells += [_f(_mean(_values(r["rows"], e, m, k)), {"fit_s": 2, "rounds": 0}.get(k, 4)) for k in METRIC_KEYS[1:]]
            out.append(f"| {et.get(e, e)} | {m} | " + " | ".join(cells) + " |")
        picks = [f"{et[c['engine']]} fold {c['fold']}: g={c['gamma']:g} a={_alpha_text(c['alpha'])}" for c in r["chosen"]]
        out += ["", "Chosen by inner CV: " + "; ".join(picks) + ".", ""]
    return "\n".join(out) + "\n"


def _others_section(done, engines, opts):
    """PR-AUC of the other methods against their engine's logloss, summarised over datasets."""
    pairs = [(e, m, e) for e in engines for m in ["weighted logloss"] + [f"focal g=2 a=0.25 h={h}" for h in opts["hessians"][:1]]]
    if opts["catboost"] or any(r["engine"] == "catboost" for d in done for r in d["rows"]):
        pairs.append(("catboost", "Focal g=2 a=0.25 (built-in)", "catboost"))
    out = ["", "## Other methods against logloss, PR-AUC", "",
           "Per dataset the fold-paired gain over the same engine's logloss (95% t-interval over folds); counted "
           "\"better\"/\"worse\" when the interval excludes 0.", "",
           "| engine | method | datasets better | worse | no clear difference | mean gain | median gain |",
           "|---|---|---:|---:|---:|---:|---:|"]
    for engine, method, base_engine in pairs:
        gains, better, worse, tie = [], 0, 0, 0
        for r in done:
            a, b = _values(r["rows"], engine, method, "pr_auc"), _values(r["rows"], base_engine, "logloss", "pr_auc")
            if a.size == 0 or b.size == 0:
                continue
            gain, half, _, _ = C.paired_difference(a, b)
            if not np.isfinite(gain):
                continue
            gains.append(gain)
            v = _verdict(gain, half)
            better, worse, tie = better + (v == "**better**"), worse + (v == "**worse**"), tie + (v == "no clear difference")
        if gains:
            out.append(f"| {C.ENGINE_TITLES[engine]} | {method} | {better} | {worse} | {tie} | {np.mean(gains):+.4f} | "
                       f"{np.median(gains):+.4f} |")
    return out


def _calibration_section(done, engines, opts):
    out = ["", "## Calibration: log loss of the probabilities", "",
           "Median over datasets of (method's log loss) / (logloss's log loss), outer-fold means; below 1 is better.", "",
           "| engine | weighted logloss | focal (inner CV), posterior | focal (inner CV), raw sigmoid | focal g=2 a=0.25, posterior | focal g=2 a=0.25, raw |",
           "|---|---:|---:|---:|---:|---:|"]
    for e in engines:
        cols = []
        for method, key in (("weighted logloss", "logloss"), ("focal (inner CV)", "logloss"), ("focal (inner CV)", "raw_logloss"),
                            ("focal g=2 a=0.25 h=bohning", "logloss"), ("focal g=2 a=0.25 h=bohning", "raw_logloss")):
            ratios = []
            for r in done:
                base = _mean(_values(r["rows"], e, "logloss", "logloss"))
                v = _mean(_values(r["rows"], e, method, key))
                if np.isfinite(base) and np.isfinite(v) and base > 0:
                    ratios.append(v / base)
            cols.append(f"{np.median(ratios):.3f}" if ratios else "n/a")
        out.append(f"| {C.ENGINE_TITLES[e]} | " + " | ".join(cols) + " |")
    out += ["", "Counts over datasets (outer-fold means; lower log loss is better):", ""]
    for e in engines:
        post_vs_base = raw_vs_post = post_vs_base_b = n = 0
        for r in done:
            base = _mean(_values(r["rows"], e, "logloss", "logloss"))
            post = _mean(_values(r["rows"], e, "focal (inner CV)", "logloss"))
            raw = _mean(_values(r["rows"], e, "focal (inner CV)", "raw_logloss"))
            bb = _mean(_values(r["rows"], e, "logloss", "brier"))
            pb = _mean(_values(r["rows"], e, "focal (inner CV)", "brier"))
            if all(np.isfinite(v) for v in (base, post, raw, bb, pb)):
                n += 1
                post_vs_base += post < base
                raw_vs_post += raw < post
                post_vs_base_b += pb < bb
        out.append(f"- {C.ENGINE_TITLES[e]}: the tuned focal model's posterior had lower log loss than logloss on "
                   f"{post_vs_base} of {n} datasets (lower Brier on {post_vs_base_b}); its raw sigmoid had lower log loss "
                   f"than its posterior on {raw_vs_post} of {n}.")
    if not opts.get("early_stopping"):
        out += ["", "No early stopping is used (a fixed number of rounds for every method), so a logloss model that has "
                "started to overfit is overconfident; focal loss, which pushes less on well-classified rows, is less so. "
                "The posterior correction undoes focal loss's shrinkage of confident predictions, which is right at the "
                "population optimum but gives back part of that accidental regularisation."]
    out += ["", "Calibrate on held-out data when probabilities matter, whatever the loss."]
    cb = []
    for r in done:
        base = _mean(_values(r["rows"], "catboost", "logloss", "logloss"))
        v = _mean(_values(r["rows"], "catboost", "Focal g=2 a=0.25 (built-in)", "logloss"))
        if np.isfinite(base) and np.isfinite(v) and base > 0:
            cb.append(v / base)
    if cb:
        out += ["", f"CatBoost's built-in Focal (raw sigmoid, no correction) vs CatBoost Logloss: median ratio {np.median(cb):.3f}."]
    return out


def _choice_section(done, engines, opts):
    """How often each (gamma, alpha) was chosen, and how much PR-AUC each costs versus the inner best."""
    out = ["", "## Which (gamma, alpha) the inner CV chose", "",
           "Count of outer folds (all datasets) where a setting won the inner CV, and its mean inner PR-AUC shortfall "
           "from the inner winner (0 = always the best; small everywhere = a flat, noisy surface).", ""]
    for e in engines:
        out += [f"**{C.ENGINE_TITLES[e]}**", "", "| gamma | alpha | chosen | mean shortfall |", "|---:|---|---:|---:|"]
        for g in opts["gammas"]:
            for a in opts["alphas"]:
                n = sum(1 for r in done for c in r["chosen"] if c["engine"] == e and c["gamma"] == g and c["alpha"] == a)
                short = []
                for r in done:
                    for fold in {i["fold"] for i in r["inner"] if i["engine"] == e}:
                        scores = {(i["gamma"], i["alpha"]): (math.nan if i["pr_auc"] is None else i["pr_auc"])
                                  for i in r["inner"] if i["engine"] == e and i["fold"] == fold}
                        if (g, a) in scores and np.isfinite(scores[(g, a)]):
                            short.append(max(v for v in scores.values() if np.isfinite(v)) - scores[(g, a)])
                out.append(f"| {g:g} | {_alpha_text(a)} | {n} | {np.mean(short):.4f} |" if short else f"| {g:g} | {_alpha_text(a)} | {n} | n/a |")
        out.append("")
    return out


def _hessian_section(done, engines, opts):
    if len(opts["hessians"]) < 2:
        return []
    out = ["", "## Hessian modes at gamma=2, alpha=0.25", "",
           "Mean over datasets of the outer-fold mean PR-AUC and log loss (posterior), and the number of dataset-folds "
           "where a model's predictions were not finite (diverged).", "",
           "| engine | Hessian | mean PR-AUC | mean log loss | diverged folds |", "|---|---|---:|---:|---:|"]
    for e in engines:
        for mode in opts["hessians"]:
            m = f"focal g=2 a=0.25 h={mode}"
            pr = [_mean(_values(r["rows"], e, m, "pr_auc")) for r in done]
            ll = [_mean(_values(r["rows"], e, m, "logloss")) for r in done]
            div = sum(int(np.sum(~np.isfinite(_values(r["rows"], e, m, "pr_auc")))) for r in done)
            pr_ok, ll_ok = [v for v in pr if np.isfinite(v)], [v for v in ll if np.isfinite(v)]
            out.append(f"| {C.ENGINE_TITLES[e]} | {mode} | {_f(np.mean(pr_ok) if pr_ok else math.nan)} | "
                       f"{_f(np.mean(ll_ok) if ll_ok else math.nan)} | {div} |")
    return out


# ---------------------------------------------------------------------------------------- main
def _floats(text):
    return [float(v) for v in text.split(",") if v.strip()]


def _alphas(text):
    out = []
    for v in (s.strip().lower() for s in text.split(",") if s.strip()):
        out.append(None if v == "none" else ("balanced" if v == "balanced" else float(v)))
    return out


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data_dir", type=Path, help="folder of Parquet datasets (e.g. ../shared/data)")
    p.add_argument("--datasets", type=lambda s: [v.strip() for v in s.split(",") if v.strip()], default=None,
                   help="comma-separated names (e.g. lending_club,keel_binary/yeast4 or just yeast4); default all")
    p.add_argument("--quick", action="store_true", help="3 outer / 2 inner folds, gammas 1,2 x alphas none,0.25, 100 rounds")
    p.add_argument("--folds", type=int, default=None)
    p.add_argument("--inner-folds", type=int, default=None)
    p.add_argument("--gammas", type=_floats, default=None)
    p.add_argument("--alphas", type=_alphas, default=None)
    p.add_argument("--hessians", type=lambda s: [v.strip() for v in s.split(",") if v.strip()], default=list(HESSIAN_MODES))
    p.add_argument("--engines", type=lambda s: [v.strip() for v in s.split(",") if v.strip()], default=list(C.ENGINES))
    p.add_argument("--n-estimators", type=int, default=None,
                   help="maximum rounds with early stopping (default 1000; quick 300), else the rounds (default 200; quick 100)")
    p.add_argument("--early-stopping", type=int, default=30,
                   help="patience in rounds on a 20%% validation part of each training set (default 30; 0 = fixed rounds)")
    p.add_argument("--learning-rate", type=float, default=0.1)
    p.add_argument("--max-depth", type=int, default=4)
    p.add_argument("--n-jobs", type=int, default=1, help="threads per fit (default 1)")
    p.add_argument("--workers", type=int, default=1, help="datasets run in parallel processes (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-rows", type=int, default=100_000)
    p.add_argument("--no-catboost", action="store_true")
    p.add_argument("--include-simulated", action="store_true")
    p.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results" / "real_data",
                   help="per-dataset JSON cache (reused when the settings match; --force reruns)")
    p.add_argument("--force", action="store_true")
    p.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = p.parse_args(argv)
    q = args.quick
    opts = {
        "folds": args.folds or (3 if q else 5),
        "inner_folds": args.inner_folds or (2 if q else 3),
        "gammas": args.gammas or list(C.QUICK_GAMMAS if q else C.DEFAULT_GAMMAS),
        "alphas": args.alphas or list(C.QUICK_ALPHAS if q else C.DEFAULT_ALPHAS),
        "hessians": args.hessians,
        "engines": args.engines,
        "n_estimators": args.n_estimators or ((300 if q else 1000) if args.early_stopping else (100 if q else 200)),
        "learning_rate": args.learning_rate,
        "max_depth": args.max_depth,
        "n_jobs": args.n_jobs,
        "seed": args.seed,
        "max_rows": args.max_rows,
        "catboost": not args.no_catboost,
    }
    if args.early_stopping:  # absent when off, so fixed-round caches keep their key
        opts["early_stopping"] = args.early_stopping
    return args, opts


def _key(opts):
    fields = {k: v for k, v in opts.items() if k != "n_jobs"}
    return hashlib.sha1(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _clean(v):
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_clean(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item"):
        return _clean(v.item())
    return v


def main(argv=None):
    args, opts = parse(argv)
    notes = []
    if opts["catboost"]:
        try:
            import catboost  # noqa: F401
        except ImportError:
            opts["catboost"] = False
            notes.append("CatBoost: not installed, so its peer rows are missing")
    found = discover(args.data_dir)
    if not found:
        raise SystemExit(f"real_data.py: no .parquet files under {args.data_dir}")
    names = select(found, args.datasets, args.include_simulated, notes)
    key = _key(opts)
    cache = args.results / key
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "settings.json").write_text(json.dumps(opts, indent=2, default=str) + "\n")
    results, todo = {}, []
    for name in names:
        path = cache / (name.replace("/", "__") + ".json")
        if path.exists() and not args.force:
            results[name] = json.loads(path.read_text())
        else:
            todo.append(name)
    print(f"{len(names)} datasets ({len(names) - len(todo)} cached in {cache}); running {len(todo)}", file=sys.stderr)

    def save(res):
        (cache / (res["name"].replace("/", "__") + ".json")).write_text(json.dumps(_clean(res)) + "\n")
        results[res["name"]] = res
        extra = res.get("skipped") or f"{res['seconds']:.0f} s"
        print(f"  {res['name']}: {extra}", file=sys.stderr, flush=True)

    if args.workers > 1 and len(todo) > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            for res in pool.map(run_dataset, todo, [found[n] for n in todo], [opts] * len(todo)):
                save(res)
    else:
        for name in todo:
            save(run_dataset(name, found[name], opts))
    ordered = [results[n] for n in names]
    notes += [f"{r['name']}: skipped, {r['skipped']}" for r in ordered if "skipped" in r]
    command = "python benchmarks/real_data.py " + " ".join(sys.argv[1:] if argv is None else argv)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(ordered, opts, notes, command))
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
