"""Options the defaults were checked against after shipping, on every table (issue 16).

``default_calibration.py`` measures the shipped defaults; this script fits one variant of the
focal estimators (constructor parameters given on the command line) under the same protocol
(same folds, the same 20% early-stopping rows, same tree settings, one thread) and compares it
with the logloss classifiers and the default estimator whose rows ``default_calibration.py``
cached. Variants measured so far (``docs/calibration_choice.md``, "Checked after shipping"):

    python benchmarks/calibration_variants.py run stop_logloss --params eval_metric=logloss --regimes stopped
    python benchmarks/calibration_variants.py run gamma1 --params gamma=1.0
    python benchmarks/calibration_variants.py report stop_logloss gamma1

and on the binary tables under 1,000 rows, early-stopped (the gap left open; section "The small
early-stopped tables" of ``docs/calibration_choice.md``), ``--calibration`` setting constants of
``boost_focal.estimators._calibration`` (the eval-set fit of T and b) for the run::

    python benchmarks/calibration_variants.py run small_tmin07 --calibration MIN_TEMPERATURE=0.7 --regimes stopped --max-rows 1000
    python benchmarks/calibration_variants.py run small_prior_half --calibration PRIOR_SD_LOG_T=0.1,PRIOR_SD_SHIFT=0.25 --regimes stopped --max-rows 1000
    python benchmarks/calibration_variants.py run small_scale3 --params loss_scale=3.0 --regimes stopped --max-rows 1000
    python benchmarks/calibration_variants.py run small_scale05 --params loss_scale=0.5 --regimes stopped --max-rows 1000
    python benchmarks/calibration_variants.py run small_scale025 --params loss_scale=0.25 --regimes stopped --max-rows 1000
    python benchmarks/calibration_variants.py run small_scale05_stopll --params loss_scale=0.5,eval_metric=logloss --regimes stopped --max-rows 1000

and the centre of the eval-set fit under early stopping (2026-12-07, section "The eval-set fit's
centre under early stopping"; ``--centre-factor 0`` is the centre before, T = 1; the shipped centre,
factor 1, is the default's rows since)::

    python benchmarks/calibration_variants.py run stopped_centre_one --centre-factor 0 --regimes stopped --jobs 2
    python benchmarks/calibration_variants.py run s_centre_mult0.5 --centre-factor 0.5 --regimes stopped --max-rows 1000
    python benchmarks/calibration_variants.py run s_centre_mult1.5 --centre-factor 1.5 --regimes stopped --max-rows 1000
    python benchmarks/calibration_variants.py run s_budget_stopll --params eval_metric=logloss --regimes stopped --max-rows 1000

and on the four multiclass tables, early-stopped, stopping on the posterior's log loss instead of
the focal loss (2026-12-07, after the softmax floor change; not kept)::

    python benchmarks/calibration_variants.py run mc_stopll glass hpc_jobs satellite_statlog diamonds_cut --params eval_metric=logloss --regimes stopped
    python benchmarks/calibration_variants.py run mc_lr05 glass hpc_jobs satellite_statlog diamonds_cut --params learning_rate=0.05 --regimes stopped

and LightGBM's binary temperature past a budget of 10 (2026-12-07, night, section "LightGBM's
temperature past the full budget"; ``lgb_growth1`` ran the shipped code, the rows before are the
cached default's of that time; ``lgb_s3_16`` a steeper slope instead, not kept)::

    python benchmarks/calibration_variants.py run lgb_growth1 --jobs 2
    python benchmarks/calibration_variants.py run lgb_s3_16 --calibration DEFAULT_TEMPERATURE_SLOPE=0.1875,LIGHTGBM_BINARY_TEMPERATURE_GROWTH=0 --jobs 2

(``lgb_s3_16`` ran before the growth existed; with the shipped code the growth must be set to 0 as
above to reproduce it)

``run`` caches per-table rows in ``benchmarks/results/calibration_variants/TAG/`` (delete to
rerun; ``--jobs 2`` for two processes); ``report`` prints, per engine x regime, on how many
binary tables log loss AND Brier are within 1.05x of the logloss classifier, the median and
maximum log-loss ratio, the maximum Brier ratio and how many PR-AUCs are within the fold
standard deviation, for the default estimator and the variant (calibrated and posterior).
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

OUT = REPO / "benchmarks" / "results" / "calibration_variants"


def _value(text):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"None": None, "True": True, "False": False}.get(text, text)


def _pairs(text):
    """{k: v} of "k=v,k=v" (values cast by _value)."""
    return {k: _value(v) for k, v in (kv.split("=", 1) for kv in filter(None, text.split(",")))}


def set_calibration_constants(constants):
    """Set module constants of boost_focal.estimators._calibration (names checked) for this process."""
    from boost_focal.estimators import _calibration

    for key, value in constants.items():
        if not hasattr(_calibration, key):
            raise ValueError(f"--calibration: boost_focal.estimators._calibration has no constant {key!r}")
        setattr(_calibration, key, float(value))


def set_centre_factor(factor):
    """Centre the eval-set fit of (T, b) on 1 + factor (T_B - 1) for this process, T_B being the
    no-eval-set temperature of the kept trees' budget (the shipped centre is factor 1; factor 0 is
    the centre before 2026-12-07, T = 1, for early-stopped models). None: the shipped centre."""
    if factor is None:
        return
    from boost_focal.estimators import _base, _calibration

    def centre(gamma, budget=None, slope=None, growth=0.0):
        return 1.0 + float(factor) * (_calibration.temperature_centre(gamma, budget, slope, growth) - 1.0)

    _base.temperature_centre = centre


def run_table(name, tag, params, regimes, folds=5, constants=None, centre_factor=None):
    """Rows of the variant on one table: the folds and eval rows of default_calibration.run_dataset."""
    warnings.filterwarnings("ignore")
    import numba

    set_calibration_constants(constants or {})
    set_centre_factor(centre_factor)
    numba.set_num_threads(1)
    X, y, _ = dc.load_table(name)
    rows = []
    for fold, te, regime, args in dc.fold_splits(X, y, folds, regimes):
        for engine in ("xgboost", "lightgbm"):
            model = dc._focal_model(engine, regime, params, *args)
            for output in ("calibrated", "posterior"):
                model.set_params(probability=output)
                rows.append(dict(dataset=name, engine=engine, regime=regime, fold=fold, model=tag, output=output,
                                 rounds=int(model.n_estimators_), temperature=float(model.temperature_),
                                 **dc.scores(y[te], model.predict_proba(X[te]))))
    return rows


def _cached(name, tag, params, regimes, constants=None, centre_factor=None):
    path = OUT / tag / f"{name.replace('/', '__')}.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        path.write_text(json.dumps(run_table(name, tag, params, regimes, constants=constants,
                                             centre_factor=centre_factor)))
        print(f"{name}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    return name


def run(args):
    params = _pairs(args.params)
    constants = _pairs(args.calibration)
    set_calibration_constants(constants)  # checks the names before any fit
    regimes = tuple(args.regimes.split(","))
    names = args.tables or dc.discover()
    if args.max_rows is not None:  # row counts from default_calibration's cache (run it first)
        names = [n for n in names
                 if json.loads((dc.CACHE / f"{n.replace('/', '__')}.f5.json").read_text())["info"]["rows"] < args.max_rows]
    (OUT / args.tag).mkdir(parents=True, exist_ok=True)
    (OUT / args.tag / "params.json").write_text(
        json.dumps({"params": params, "calibration": constants, "regimes": regimes, "centre_factor": args.centre_factor})
    )
    n = len(names)
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            list(pool.map(_cached, names, [args.tag] * n, [params] * n, [regimes] * n, [constants] * n,
                          [args.centre_factor] * n))
    else:
        for name in names:
            _cached(name, args.tag, params, regimes, constants, args.centre_factor)


def _mean(rows, model, output, engine, regime, key):
    return [r[key] for r in rows if r["engine"] == engine and r["regime"] == regime and r["model"] == model
            and r["output"] == output]


def report(args):
    for tag in args.tags:
        setting = json.loads((OUT / tag / "params.json").read_text())
        print(f"### {tag}: {setting['params']} {setting.get('calibration') or ''}")
        tables = {}
        for path in sorted((OUT / tag).glob("*.json")):
            if path.name == "params.json":
                continue
            base = dc.CACHE / f"{path.stem}.f5.json"
            if base.exists():
                cached = json.loads(base.read_text())
                tables[path.stem] = (cached["info"], cached["rows"] + json.loads(path.read_text()))
        for engine in ("xgboost", "lightgbm"):
            for regime in setting["regimes"]:
                for model, output in (("focal", "calibrated"), (tag, "calibrated"), (tag, "posterior")):
                    ok = pr_ok = 0
                    ratios, briers, big = [], [], [0, 0]
                    for info, rows in tables.values():
                        if info["classes"] != 2:
                            continue
                        ll = np.mean(_mean(rows, "logloss", "-", engine, regime, "log_loss"))
                        lb = np.mean(_mean(rows, "logloss", "-", engine, regime, "brier"))
                        fl = np.mean(_mean(rows, model, output, engine, regime, "log_loss"))
                        fb = np.mean(_mean(rows, model, output, engine, regime, "brier"))
                        diff = (np.array(_mean(rows, model, output, engine, regime, "pr_auc"))
                                - np.array(_mean(rows, "logloss", "-", engine, regime, "pr_auc")))
                        pr_ok += diff.mean() >= -diff.std(ddof=1) - 1e-12
                        good = fl / ll <= 1.05 and fb / lb <= 1.05
                        ok += good
                        ratios.append(fl / ll)
                        briers.append(fb / lb)
                        if info["rows"] >= 1000:
                            big[0] += good
                            big[1] += 1
                    label = "default (gamma 2)" if model == "focal" else f"{tag}"
                    print(f"{engine:8s} {regime:9s} {label:18s} {output:10s} within 1.05x {ok}/{len(ratios)} "
                          f"(>= 1000 rows: {big[0]}/{big[1]}) median {np.median(ratios):.3f} max {max(ratios):.2f} "
                          f"max Brier {max(briers):.2f} PR-AUC ok {pr_ok}/{len(ratios)}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument("tag")
    p.add_argument("--params", default="", help="k=v,... focal estimator parameters")
    p.add_argument("--calibration", default="", help="K=v,... constants of boost_focal.estimators._calibration")
    p.add_argument("--centre-factor", type=float, default=None,
                   help="centre the eval-set fit on 1 + F (T_B - 1) (shipped: 1; 0: T = 1, the centre before 2026-12-07)")
    p.add_argument("--regimes", default="stopped,unstopped")
    p.add_argument("--max-rows", type=int, default=None, help="only tables with fewer rows")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("tables", nargs="*")
    p.set_defaults(func=run)
    p = sub.add_parser("report")
    p.add_argument("tags", nargs="+")
    p.set_defaults(func=report)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
