"""End to end: training with FocalLoss against each library's built-in objective.

The public API exactly as a user writes it: ``xgb.train(params, dtrain, obj=FocalLoss(2.0))``
with ``objective="binary:logistic"``/``"multi:softprob"`` in params, and
``lgb.train({..., "objective": FocalLoss(2.0)}, ds)``, against the same call with the built-in
objective. Same data, same trees (hist, depth 6), same threads; the DMatrix/Dataset is built
once and reused; built-in and focal fits alternate and the medians are compared.
"""

import numpy as np

from boost_focal import FocalLoss

from .timing import Row, fmt_s, interleaved_medians, verdict

THREADS = 2
DEPTH = 6
BINARY_TARGET = 1.10
SOFTMAX_TARGET = 1.15


def binary_data(n, n_features=20, positive_rate=0.05, seed=0):
    """Features N(0, 1); labels from a logistic model with an intercept giving ~5% positives."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_features)).astype(np.float32)
    beta = rng.normal(0.0, 0.5, n_features)
    logit = x @ beta
    # intercept: the quantile that leaves `positive_rate` of rows above a noisy threshold
    intercept = -np.quantile(logit + rng.logistic(size=n), 1.0 - positive_rate)
    y = (logit + intercept + rng.logistic(size=n) > 0).astype(np.float32)
    return x, y


def softmax_data(n, k, n_features=20, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_features)).astype(np.float32)
    w = rng.normal(0.0, 0.7, (n_features, k))
    scores = x @ w + rng.gumbel(size=(n, k))
    return x, scores.argmax(axis=1).astype(np.float32)


def _xgb_rows(x, y, k, rounds, repeats, gamma):
    import xgboost as xgb

    dtrain = xgb.QuantileDMatrix(x, label=y, nthread=THREADS)  # binned once, not per train()
    params = {"tree_method": "hist", "max_depth": DEPTH, "eta": 0.1, "nthread": THREADS, "verbosity": 0}
    if k == 2:
        builtin = dict(params, objective="binary:logistic")
    else:
        builtin = dict(params, objective="multi:softprob", num_class=k)
    fl = FocalLoss(gamma)
    fns = {
        "builtin": lambda: xgb.train(builtin, dtrain, rounds),
        "focal": lambda: xgb.train(builtin, dtrain, rounds, obj=fl),
    }
    if k == 2:
        fns["python_floor"] = lambda: xgb.train(builtin, dtrain, rounds, obj=precomputed_objective(y))
    t = interleaved_medians(fns, repeats)
    return t, f"xgboost {xgb.__version__}", builtin["objective"]


def precomputed_objective(y):
    """A Python objective that costs next to nothing: it hands back fixed arrays (the logloss
    gradient at margin 0). What any custom objective costs on top of the built-in one: the
    library's Python round trip (margins out, gradients in), without computing anything."""
    grad = (0.5 - np.asarray(y, dtype=np.float32)) * np.float32(-1.0)
    hess = np.full_like(grad, 0.25)

    def objective(_preds, _data):
        return grad.copy(), hess.copy()  # fresh arrays, as a real objective returns

    return objective


def _lgb_rows(x, y, k, rounds, repeats, gamma):
    import lightgbm as lgb

    params = {
        "max_depth": DEPTH, "num_leaves": 2**DEPTH - 1, "learning_rate": 0.1, "num_threads": THREADS,
        "verbose": -1, "deterministic": True, "force_col_wise": True,
    }
    if k == 2:
        builtin = dict(params, objective="binary")
    else:
        builtin = dict(params, objective="multiclass", num_class=k)
    focal = dict(builtin, objective=FocalLoss(gamma))
    ds = lgb.Dataset(x, label=y, params={"verbose": -1}, free_raw_data=False).construct()
    fns = {
        "builtin": lambda: lgb.train(builtin, ds, rounds),
        "focal": lambda: lgb.train(focal, ds, rounds),
    }
    if k == 2:
        floor = dict(builtin, objective=precomputed_objective(y))
        fns["python_floor"] = lambda: lgb.train(floor, ds, rounds)
    t = interleaved_medians(fns, repeats)
    return t, f"lightgbm {lgb.__version__}", builtin["objective"]


def _row(case, sizes, t, versions, builtin_name, target):
    ratio = t["focal"] / t["builtin"]
    return Row(
        "training", f"{case}: FocalLoss(gamma=2) vs built-in {builtin_name}", sizes,
        f"{THREADS} (library) + {_numba_threads()} (numba)", versions,
        f"{fmt_s(t['focal'])} vs {fmt_s(t['builtin'])}", f"{ratio:.3f}x", f"<= {target:.2f}x",
        verdict(ratio, target), {k: v for k, v in t.items()},
    )


def _floor_row(case, sizes, t, versions, builtin_name):
    ratio = t["python_floor"] / t["builtin"]
    return Row(
        "training", f"{case}: for scale, a Python objective returning precomputed arrays vs built-in "
        f"{builtin_name} (the custom-objective round trip alone; trees differ)", sizes,
        f"{THREADS} (library)", versions, f"{fmt_s(t['python_floor'])} vs {fmt_s(t['builtin'])}",
        f"{ratio:.3f}x", "", "", {k: v for k, v in t.items()},
    )


def _numba_threads():
    import numba

    return numba.get_num_threads()


def run(quick):
    repeats = 1 if quick else 5
    rounds = 20 if quick else 50
    gamma = 2.0
    rows = []
    n_bin, n_soft, k = 1_000_000, 200_000, 10
    x, y = binary_data(n_bin)
    sizes = f"{n_bin:,} x 20, {y.mean():.1%} positive, {rounds} rounds, hist, depth {DEPTH}"
    for lib, fn in (("XGBoost", _xgb_rows), ("LightGBM", _lgb_rows)):
        t, versions, name = fn(x, y, 2, rounds, repeats, gamma)
        rows.append(_row(f"{lib} binary", sizes, t, versions, name, BINARY_TARGET))
        rows.append(_floor_row(f"{lib} binary", sizes, t, versions, name))
    x, y = softmax_data(n_soft, k)
    sizes = f"{n_soft:,} x 20, K={k}, {rounds} rounds, hist, depth {DEPTH}"
    for lib, fn in (("XGBoost", _xgb_rows), ("LightGBM", _lgb_rows)):
        t, versions, name = fn(x, y, k, rounds, repeats, gamma)
        rows.append(_row(f"{lib} multiclass", sizes, t, versions, name, SOFTMAX_TARGET))
    return rows
