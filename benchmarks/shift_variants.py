"""Where the binary margin shift b of ``probability="calibrated"`` comes from: the options (issue 16).

The shipped rule (``boost_focal.estimators._calibration.training_shift``): T as before (fitted with
a free shift on the eval set, or the fixed no-eval-set temperature), then b set on the training rows
so that their mean probability is their class frequency. This script compares it with the
alternatives on the same trees, under the protocol of ``default_calibration.py`` (same folds, same
20% early-stopping rows, same settings, one thread):

* ``eval_fit``: T and b both from the eval-set fit (b = 0 without an eval set): the rule before;
* ``posterior``: T = 1, b = 0;
* ``train_shift``: the shipped rule;
* ``profile``: T fitted on the eval set with b = training_shift(T) for every T (the fit's prior on T
  kept, none on b);
* ``t1_train_shift``: with an eval set, T = 1 and the training-rows b;
* ``all_rows_shift``: b matched on the training AND eval rows together;
* ``fixed_T_1.375`` / ``fixed_T_1.5``: without an eval set, a larger fixed T with the training b.

Usage (``margins`` fits the default estimators once and caches each fold's margins under
``--cache``; ``report`` needs no fit; ``--params alpha=0.9`` for the alpha variants)::

    python benchmarks/shift_variants.py margins --jobs 2 [--params alpha=0.9] [--cache DIR]
    python benchmarks/shift_variants.py report [--cache DIR]

It prints, per engine x regime, on how many binary tables log loss AND Brier are within 1.05x of
the logloss classifier (rows cached by ``default_calibration.py``), split at 1,000 rows, with the
median and worst log-loss ratio and the worst Brier ratio.
"""

import argparse
import json
import pickle
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import default_calibration as dc  # noqa: E402

DEFAULT_CACHE = Path("/tmp/boost_focal_shift_variants")


def _binary_tables():
    return [n for n in dc.discover()
            if json.loads((dc.CACHE / f"{n.replace('/', '__')}.f5.json").read_text())["info"]["classes"] == 2]


def margins_of_table(name, cache, params):
    """Cache, per fold x regime x engine, the default estimator's margins on its fit, eval and test rows."""
    path = cache / f"{name.replace('/', '__')}.pkl"
    if path.exists():
        return name
    warnings.filterwarnings("ignore")
    import numba

    numba.set_num_threads(1)
    X, y, _ = dc.load_table(name)
    rows = []
    for fold, te, regime, args in dc.fold_splits(X, y, 5, tuple(dc.ROUNDS)):
        X_fit, y_fit, X_va, y_va = args
        for engine in ("xgboost", "lightgbm"):
            m = dc._focal_model(engine, regime, params, *args)
            rows.append(dict(engine=engine, regime=regime, fold=fold, T=float(m.temperature_),
                             zf=m.decision_function(X_fit), yf=y_fit, ye=y_va, yt=y[te],
                             ze=m.decision_function(X_va) if len(y_va) else None, zt=m.decision_function(X[te]),
                             gamma=float(m.loss_.gamma), alpha=[float(a) for a in m.alpha_]))
    path.write_bytes(pickle.dumps(rows))
    return name


# ---------------------------------------------------------------------------- the options: r -> (T, b)
def _eval_fit(r, post, centre):
    from boost_focal.estimators._calibration import fit_temperature

    return fit_temperature(post, r["ze"], r["ye"], None, r["gamma"], centre)


def _train_b(r, post, T):
    from boost_focal.estimators._calibration import training_shift

    return training_shift(post, r["zf"], r["yf"], None, T)


def option(name, r, post):
    has_eval = r["ze"] is not None  # only the early-stopped folds have an eval set here
    if name == "posterior":
        return 1.0, 0.0
    if name == "eval_fit":  # centred on T = 1, the centre under early stopping when this was measured
        return _eval_fit(r, post, 1.0) if has_eval else (r["T"], 0.0)
    if name == "train_shift":
        return r["T"], _train_b(r, post, r["T"])
    if name == "t1_train_shift":
        T = 1.0 if has_eval else r["T"]
        return T, _train_b(r, post, T)
    if name == "all_rows_shift":
        from boost_focal.estimators._calibration import training_shift

        z = np.concatenate([r["zf"], r["ze"]]) if has_eval else r["zf"]
        y = np.concatenate([r["yf"], r["ye"]]) if has_eval else r["yf"]
        return r["T"], training_shift(post, z, y, None, r["T"])
    if name == "profile":
        if not has_eval:
            return r["T"], _train_b(r, post, r["T"])
        from scipy import optimize

        from boost_focal.estimators._calibration import PRIOR_SD_LOG_T

        def objective(log_t):
            T = float(np.exp(log_t))
            p = post(r["ze"] / T + _train_b(r, post, T))
            p_true = np.where(r["ye"] == 1, p, 1 - p)
            return float(-np.log(np.clip(p_true, 1e-15, 1)).sum()) + 0.5 * (log_t / PRIOR_SD_LOG_T) ** 2

        fit = optimize.minimize_scalar(objective, bounds=(0.0, np.log(1 + r["gamma"])), method="bounded",
                                       options={"xatol": 1e-3})
        T = float(np.exp(min([0.0, fit.x], key=objective)))
        return T, _train_b(r, post, T)
    if name.startswith("fixed_T_"):
        T = r["T"] if has_eval else float(name.rpartition("_")[2])
        return T, _train_b(r, post, T)
    raise ValueError(name)


OPTIONS = ("eval_fit", "posterior", "train_shift", "profile", "t1_train_shift", "all_rows_shift",
           "fixed_T_1.375", "fixed_T_1.5")


def report(cache, options=OPTIONS):
    from boost_focal import FocalLoss

    results = {}
    for path in sorted(cache.glob("*.pkl")):
        rows = pickle.loads(path.read_bytes())
        base = json.loads((dc.CACHE / f"{path.stem}.f5.json").read_text())
        big = base["info"]["rows"] >= 1000
        for engine in ("xgboost", "lightgbm"):
            for regime in dc.ROUNDS:
                ref = [x for x in base["rows"]
                       if x["engine"] == engine and x["regime"] == regime and x["model"] == "logloss"]
                ll, lb = np.mean([x["log_loss"] for x in ref]), np.mean([x["brier"] for x in ref])
                mine = [x for x in rows if x["engine"] == engine and x["regime"] == regime]
                for name in options:
                    scores = []
                    for r in mine:
                        post = FocalLoss(r["gamma"], r["alpha"]).posterior
                        T, b = option(name, r, post)
                        p = np.clip(post(r["zt"] / T + b), 1e-15, 1 - 1e-15)
                        scores.append(dc.scores(r["yt"], np.column_stack([1 - p, p])))
                    fl = np.mean([s["log_loss"] for s in scores]) / ll
                    fb = np.mean([s["brier"] for s in scores]) / lb
                    results.setdefault((engine, regime, name), []).append((fl, fb, big))
    lines = []
    order = {name: i for i, name in enumerate(options)}
    for (engine, regime, name), v in sorted(results.items(), key=lambda kv: (kv[0][:2], order[kv[0][2]])):
        v = np.array(v, dtype=float)
        ok = (v[:, 0] <= 1.05) & (v[:, 1] <= 1.05)
        big = v[:, 2] > 0
        lines.append(f"{engine:8s} {regime:9s} {name:15s} within 1.05x {ok.sum():2d}/{len(v)} (< 1000 rows "
                     f"{ok[~big].sum():2d}/{(~big).sum()}, >= 1000 rows {ok[big].sum():2d}/{big.sum()}) median "
                     f"{np.median(v[:, 0]):.3f} max {v[:, 0].max():.2f} max Brier {v[:, 1].max():.2f}")
    return "\n".join(lines)


def main(argv=None):
    from calibration_variants import _pairs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("margins")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--params", default="", help="k=v,... focal estimator parameters (e.g. alpha=0.9)")
    p.add_argument("--cache", type=Path, default=None)
    p = sub.add_parser("report")
    p.add_argument("--cache", type=Path, default=None)
    p.add_argument("--params", default="")
    args = parser.parse_args(argv)
    params = _pairs(args.params)
    cache = args.cache or DEFAULT_CACHE / (args.params.replace("=", "_").replace(",", "__") or "default")
    if args.command == "margins":
        cache.mkdir(parents=True, exist_ok=True)
        names = _binary_tables()
        n = len(names)
        if args.jobs > 1:
            with ProcessPoolExecutor(args.jobs) as pool:
                list(pool.map(margins_of_table, names, [cache] * n, [params] * n))
        else:
            for name in names:
                margins_of_table(name, cache, params)
    else:
        print(report(cache))


if __name__ == "__main__":
    main()
