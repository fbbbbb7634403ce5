"""How the estimators' probability defaults were chosen (issue 16): the study behind them.

``docs/calibration.md`` checks the defaults as shipped; this script is the exploration that chose
them, kept so the choice can be re-run. Two steps:

    python benchmarks/calibration_choice.py collect NAMES... --tag base --extra loss_scale=1.0
    python benchmarks/calibration_choice.py collect NAMES... --tag g4 --variants default --extra gamma=4.0
    python benchmarks/calibration_choice.py analyze TAG raw,post,T1.25,evTb [-v]

``collect`` fits, per table, 5 stratified folds x both engines x regimes ``a`` (300 rounds,
learning rate 0.1, depth 4 / 16 leaves, no eval set), ``b`` (up to 1000 rounds, early stopping
with patience 30 on a stratified 20% of the training fold, which the focal estimators also get as
``eval_set``) and ``c`` (each library's defaults, 100 rounds, no eval set): the library's logloss
classifier and the focal estimators (``default``, ``balanced``, ``a09`` = alpha 0.9), storing the
held-out margins and eval-set margins. ``analyze`` then scores probability maps of those margins
without refitting: ``raw`` (sigmoid), ``post`` (posterior), ``T<x>`` (posterior of z / x),
``g<x>`` (posterior with gamma * x), ``evT`` / ``evT1`` (T fitted on the eval set, free / in
[1, gamma + 1]), ``evTb`` (T in [1, gamma + 1] and shift b, the shipped rule). It prints, per
engine x regime x variant, on how many binary tables log loss AND Brier are within 1.05x of the
logloss classifier's, and the median / max log-loss ratio.
"""

import glob
import numpy as np

import os
import pickle
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
CACHE = REPO / "benchmarks" / "results" / "calibration_choice"


def collect(argv):
    import argparse, time, warnings

    from pathlib import Path
    from calibration import load
    from sklearn.model_selection import StratifiedKFold, train_test_split
    import xgboost as xgb, lightgbm as lgb
    from boost_focal import FocalXGBClassifier, FocalLGBMClassifier

    warnings.filterwarnings("ignore")
    p = argparse.ArgumentParser(prog="calibration_choice.py collect")
    p.add_argument("names", nargs="+")
    p.add_argument("--out", default=str(CACHE))
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--variants", default="default,balanced,a09")
    p.add_argument("--extra", default="")  # k=v,... extra estimator kwargs for focal
    p.add_argument("--tag", default="base")
    p.add_argument("--maxrows", type=int, default=20000)
    p.add_argument("--regimes", default="a,b")
    a = p.parse_args(argv)
    extra = {}
    for kv in filter(None, a.extra.split(",")):
        k, v = kv.split("=")
        try: v = float(v)
        except ValueError: pass
        extra[k] = v
    VARIANTS = {"default": {}, "balanced": {"alpha": "balanced"}, "a09": {"alpha": 0.9}}
    Path(a.out).mkdir(parents=True, exist_ok=True)
    for name in a.names:
        X, y = load(name)
        if X.shape[0] > a.maxrows:
            X, _, y, _ = train_test_split(X, y, train_size=a.maxrows, stratify=y, random_state=0)
        K = int(y.max()) + 1
        skf = StratifiedKFold(a.folds, shuffle=True, random_state=0)
        t0 = time.time()
        for engine in ("xgboost", "lightgbm"):
            for regime in a.regimes.split(","):
                fn = Path(a.out) / f"{name.replace('/', '__')}.{engine}.{regime}.{a.tag}.pkl"
                if fn.exists():
                    continue
                recs = []
                for fold, (tr, te) in enumerate(skf.split(X, y)):
                    common = dict(n_estimators=300 if regime == "a" else 1000, learning_rate=0.1, n_jobs=1, random_state=0)
                    if engine == "xgboost":
                        common["max_depth"] = 4
                    else:
                        common.update(num_leaves=16, verbose=-1)
                    if regime == "c":  # the libraries' defaults (100 rounds; XGBoost eta 0.3, depth 6; LightGBM 31 leaves)
                        common = dict(n_jobs=1, random_state=0, **({} if engine == "xgboost" else {"verbose": -1}))
                    if regime == "b":
                        try:
                            itr, iva = train_test_split(tr, test_size=0.2, stratify=y[tr], random_state=fold)
                        except ValueError:
                            itr, iva = train_test_split(tr, test_size=0.2, random_state=fold)
                    else:
                        itr, iva = tr, None
                    rec = {"fold": fold, "y_te": y[te], "y_va": None if iva is None else y[iva]}
                    # logloss
                    if engine == "xgboost":
                        m = xgb.XGBClassifier(**common, early_stopping_rounds=30 if regime == "b" else None, eval_metric="logloss" if K == 2 else "mlogloss")
                    else:
                        m = lgb.LGBMClassifier(**common)
                    kw = {}
                    if regime == "b":
                        kw["eval_set"] = [(X[iva], y[iva])]
                        if engine == "lightgbm":
                            kw["callbacks"] = [lgb.early_stopping(30, verbose=False)]
                    m.fit(X[itr], y[itr], **kw, **({"verbose": False} if engine == "xgboost" else {}))
                    rec["ll_te"] = m.predict_proba(X[te])
                    for v in a.variants.split(","):
                        Est = FocalXGBClassifier if engine == "xgboost" else FocalLGBMClassifier
                        params = dict(common, **VARIANTS[v], **extra)
                        if v == "a09" and K > 2:
                            continue
                        if regime == "b":
                            params["early_stopping_rounds"] = 30
                        f = Est(**params)
                        kw = {"eval_set": [(X[iva], y[iva])]} if regime == "b" else {}
                        with warnings.catch_warnings(record=True) as wl:
                            warnings.simplefilter("always")
                            f.fit(X[itr], y[itr], **kw)
                        rec[v] = {"z_te": f.decision_function(X[te]), "z_va": None if iva is None else f.decision_function(X[iva]),
                                  "gamma": f.loss_.gamma, "alpha": f.alpha_, "rounds": f.n_estimators_, "warn": [str(w.message) for w in wl]}
                    recs.append(rec)
                with open(fn, "wb") as fh:
                    pickle.dump(recs, fh)
        print(name, X.shape, K, f"{time.time()-t0:.1f}s", flush=True)


def analyze(argv):
    from boost_focal import FocalLoss
    from scipy.special import expit, softmax
    from scipy.optimize import minimize_scalar, minimize
    EPS = 1e-15
    def ll(y, P): return float(np.mean(-np.log(np.clip(P[np.arange(y.size), y], EPS, 1))))
    def brier(y, P): return float(np.mean(((P - np.eye(P.shape[1])[y]) ** 2).sum(1)))
    def M(p): return np.column_stack([1 - p, p]) if p.ndim == 1 else p
    def post(z, g, a, T=1.0, b=0.0):
        fl = FocalLoss(g, (a / a.max()).tolist())
        return M(fl.posterior(np.asarray(z / T + b, dtype=np.float64)))
    def raw(z): return M(expit(z)) if z.ndim == 1 else softmax(z, axis=1)
    def fitTb(z, y, g, a):
        f = lambda v: ll(y, post(z, g, a, np.exp(np.clip(v[0], 0, np.log(g + 1))), v[1]))
        r = minimize(f, [0.0, 0.0], method="Nelder-Mead")
        return float(np.exp(np.clip(r.x[0], 0, np.log(g + 1)))), float(r.x[1])
    def fitT(z, y, g, a, lo=0.2, hi=10):
        r = minimize_scalar(lambda lt: ll(y, post(z, g, a, np.exp(lt))), bounds=(np.log(lo), np.log(hi)), method="bounded")
        return float(np.exp(r.x))
    tag = argv[0]
    maps = argv[1].split(",") if len(argv) > 1 else ["raw", "post", "T1.25", "evTb"]
    rows = []
    for fn in sorted(glob.glob(str(CACHE / f"*.{tag}.pkl"))):
        base = os.path.basename(fn); name, eng, reg = base.split(".")[:3]
        recs = pickle.load(open(fn, "rb"))
        for v in ("default", "balanced", "a09"):
            if v not in recs[0]: continue
            res = {m: [] for m in maps}; res["ll"] = []; resb = {m: [] for m in maps}; resb["ll"] = []
            for r in recs:
                y = r["y_te"]; d = r[v]; z = d["z_te"]; g = d["gamma"]; a = np.asarray(d["alpha"])
                res["ll"].append(ll(y, r["ll_te"])); resb["ll"].append(brier(y, r["ll_te"]))
                for m in maps:
                    if m == "raw": P = raw(z)
                    elif m == "post": P = post(z, g, a)
                    elif m.startswith("T"): P = post(z, g, a, float(m[1:]))
                    elif m.startswith("g"): P = post(z, g * float(m[1:]), a)
                    elif m == "evT1":
                        if d["z_va"] is None: P = post(z, g, a)
                        else: P = post(z, g, a, fitT(d["z_va"], r["y_va"], g, a, 1.0, g + 1.0))
                    elif m == "evTb":
                        if d["z_va"] is None or z.ndim > 1: P = post(z, g, a)
                        else: P = post(z, g, a, *fitTb(d["z_va"], r["y_va"], g, a))
                    elif m == "evT":
                        if d["z_va"] is None: P = post(z, g, a)
                        else: P = post(z, g, a, fitT(d["z_va"], r["y_va"], g, a))
                    res[m].append(ll(y, P)); resb[m].append(brier(y, P))
            row = {"name": name.replace("keel_binary__", ""), "eng": eng[:3], "reg": reg, "v": v, "K": recs[0][v]["z_te"].ndim}
            for m in maps:
                row[m] = np.mean(res[m]) / np.mean(res["ll"]); row["B" + m] = np.mean(resb[m]) / np.mean(resb["ll"])
            rows.append(row)
    import pandas as pd
    df = pd.DataFrame(rows)
    pd.set_option("display.width", 250); pd.set_option("display.max_rows", 500)
    if "-v" in argv: print(df.round(3).to_string())
    for (eng, reg, v), g in df.groupby(["eng", "reg", "v"]):
        b = g[g.K == 1]
        s = f"{eng} {reg} {v:8s} n={len(b):2d} |"
        for m in maps:
            ok = ((b[m] <= 1.05) & (b["B" + m] <= 1.05)).sum()
            s += f" {m}: ok {ok:2d} med {b[m].median():.3f} max {b[m].max():.2f} |"
        mc = g[g.K == 2]
        if len(mc): s += " MC " + " ".join(f"{m}:{mc[m].median():.2f}" for m in maps)
        print(s)


if __name__ == "__main__":
    {"collect": collect, "analyze": analyze}[sys.argv[1]](sys.argv[2:])
