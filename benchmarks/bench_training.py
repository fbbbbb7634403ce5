"""End to end: training with FocalLoss against each library's built-in objective.

The public API exactly as a user writes it: ``xgb.train(params, dtrain, obj=FocalLoss(2.0))``
with ``objective="binary:logistic"``/``"multi:softprob"`` in params, and
``lgb.train({..., "objective": FocalLoss(2.0)}, ds)``, against the same call with the built-in
objective. Same data, same tree settings (hist, depth 6), same threads; the DMatrix/Dataset is
built once and reused.

A third run per case replays the gradients that FocalLoss returned in a recorded run, so it grows
exactly FocalLoss's trees while computing nothing (checked: the replayed model predicts
bit-for-bit what the FocalLoss model predicts). That splits the FocalLoss/built-in ratio into two
factors: replay/built-in, what the library spends on growing focal-loss trees instead of
log-loss trees (plus the custom-objective round trip), which no objective implementation can
change; and FocalLoss/replay, the objective's own cost. Built-in, FocalLoss and replay fits
alternate; each is timed round by round and the per-round medians are summed
(``timing.interleaved_round_medians``).

XGBoost also runs each case through ``boost_focal.xgb_train`` (the lean loop the estimators use,
same models as ``xgb.train``): FocalLoss, the replay of its gradients, and a replay of logloss
gradients (the built-in's trees), so the table separates the round trip (logloss replay /
built-in), the cost of growing focal trees (replay / logloss replay) and the objective's own cost
in the fastest loop (FocalLoss / its replay, target <= 1.05x).
"""

import functools

import numpy as np

from boost_focal import FocalLoss

from .timing import Row, fmt_s, interleaved_round_medians, verdict

THREADS = 2
DEPTH = 6
BINARY_TARGET = 1.10
SOFTMAX_TARGET = 1.15
OWN_COST_TARGET = 1.05  # binary: FocalLoss against a replay of its own gradients through the same loop


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


def logloss_objective(y, k, library):
    """NumPy logloss (grad, hess) as the built-in objectives compute them, float32: binary
    p - y and p (1 - p); K classes p - onehot and 2 p (1 - p) (XGBoost) or K/(K-1) p (1 - p)
    (LightGBM). Recorded once and replayed, it separates a library's custom-objective round trip
    from the shape of the trees that focal gradients grow."""
    codes = np.asarray(y).astype(np.int64)
    onehot = np.eye(k, dtype=np.float64)[codes] if k > 2 else None
    target = codes.astype(np.float64)

    def objective(margin, _data):
        z = np.asarray(margin, dtype=np.float64)
        if k == 2:
            p = 1.0 / (1.0 + np.exp(-z))
            g, h = p - target, p * (1.0 - p)
        else:
            z = z.reshape(-1, k)
            e = np.exp(z - z.max(axis=1, keepdims=True))
            p = e / e.sum(axis=1, keepdims=True)
            g, h = p - onehot, (2.0 if library == "xgb" else k / (k - 1.0)) * p * (1.0 - p)
        return g.astype(np.float32), np.maximum(h, 1e-16).astype(np.float32)

    return objective


def prior_margin(y, k):
    """The logloss-optimal constant margin: log-odds of the base rate, or log class priors."""
    prior = np.bincount(np.asarray(y).astype(np.int64), minlength=k) / len(y)
    if k == 2:
        return float(np.log(prior[1] / prior[0]))
    return np.log(prior)


def recording(objective, store):
    """``objective`` with every (grad, hess) it returns appended to ``store`` (as copies: an
    objective may hand back buffers that it overwrites in the next round)."""

    def recorded(first, second):
        grad, hess = objective(first, second)
        store.append((np.array(grad), np.array(hess)))
        return grad, hess

    return recorded


def replaying(store):
    """A Python objective that hands back ``store``'s arrays, one pair per round, and computes
    nothing: replaying a recorded FocalLoss run grows exactly the same trees, so the time of such
    a run is what the library spends on those trees plus the custom-objective round trip
    (margins out, gradients in); what a real objective adds on top is its own cost."""
    pairs = iter(store)

    def replay(_first, _second):
        return next(pairs)

    return replay


def _cases(train, raw_margin, gamma):
    """The three timed fits of one case, for either library.

    ``train(clock, objective=None)`` fits once (the built-in objective without one);
    ``raw_margin(model)`` is a model's raw prediction on a probe. Fits each once untimed (the
    FocalLoss fit is recorded for the replay) and says whether the replay reproduced its model.
    """
    train(None)
    store = []
    focal_model = train(None, recording(FocalLoss(gamma), store))
    same = np.array_equal(raw_margin(focal_model), raw_margin(train(None, replaying(store))))
    fl = FocalLoss(gamma)
    cases = {
        "builtin": lambda clock: train(clock),
        "focal": lambda clock: train(clock, fl),
        "replay": lambda clock: train(clock, replaying(store)),
    }
    return cases, same, store


def _xgb_cases(x, y, k, rounds, gamma, lean=False):
    import xgboost as xgb

    class Ticks(xgb.callback.TrainingCallback):
        def __init__(self, clock):
            super().__init__()
            self.clock = clock

        def after_iteration(self, model, epoch, evals_log):
            self.clock.tick()
            return False

    dtrain = xgb.QuantileDMatrix(x, label=y, nthread=THREADS)  # binned once, not per train()
    params = {"tree_method": "hist", "max_depth": DEPTH, "eta": 0.1, "nthread": THREADS, "verbosity": 0}
    if k == 2:
        builtin = dict(params, objective="binary:logistic")
    else:
        builtin = dict(params, objective="multi:softprob", num_class=k)

    def train(clock, obj=None):
        return xgb.train(builtin, dtrain, rounds, obj=obj, callbacks=[Ticks(clock)] if clock else None)

    probe = xgb.DMatrix(x[:20_000])
    cases, same, store = _cases(train, lambda model: model.predict(probe, output_margin=True), gamma)
    if lean:
        lean_cases, lean_same = _xgb_lean_cases(x, y, k, rounds, gamma, builtin, dtrain, store, Ticks)
        cases.update(lean_cases)
        same = same and lean_same
    return cases, same, f"xgboost {xgb.__version__}", builtin["objective"]


def _xgb_lean_cases(x, y, k, rounds, gamma, params, dtrain, focal_store, ticks):
    """The same fits through ``boost_focal.xgb_train``, the fastest loop: FocalLoss, the replay
    of FocalLoss's recorded gradients (``focal_store``, the ones the replay through ``xgb.train`` hands back: the two loops grow
    byte-identical models, tests/test_xgb_loop.py), and a replay of logloss gradients recorded
    once from a NumPy logloss objective started at the class prior (``base_margin``), which grows
    the built-in's trees to within rounding: the round trip through the loop with nothing
    computed and logloss's tree shape. So "replay / logloss replay" is what focal trees cost to
    grow, and "FocalLoss / replay" the objective's own cost in that loop."""
    import xgboost as xgb

    from boost_focal import xgb_train

    start = prior_margin(y, k)
    base_margin = np.tile(start, (y.size, 1)) if k > 2 else np.full(y.size, start)
    dlogloss = xgb.QuantileDMatrix(x, label=y, base_margin=base_margin, nthread=THREADS)
    store = []
    xgb_train(params, dlogloss, rounds, obj=recording(logloss_objective(y, k, "xgb"), store))
    fl = FocalLoss(gamma)

    def lean(clock, data, obj):
        return xgb_train(params, data, rounds, obj=obj, callbacks=[ticks(clock)] if clock else None)

    lean_cases = {
        "lean_focal": lambda clock: lean(clock, dtrain, fl),
        "lean_replay": lambda clock: lean(clock, dtrain, replaying(focal_store)),
        "lean_logloss_replay": lambda clock: lean(clock, dlogloss, replaying(store)),
    }
    warm = {name: fn(None) for name, fn in lean_cases.items()}
    probe = xgb.DMatrix(x[:20_000])
    same = np.array_equal(warm["lean_focal"].predict(probe, output_margin=True),
                          warm["lean_replay"].predict(probe, output_margin=True))
    return lean_cases, same


def _lgb_cases(x, y, k, rounds, gamma):
    import lightgbm as lgb

    params = {
        "max_depth": DEPTH, "num_leaves": 2**DEPTH - 1, "learning_rate": 0.1, "num_threads": THREADS,
        "verbose": -1, "deterministic": True, "force_col_wise": True,
    }
    if k == 2:
        builtin = dict(params, objective="binary")
    else:
        builtin = dict(params, objective="multiclass", num_class=k)
    ds = lgb.Dataset(x, label=y, params={"verbose": -1}, free_raw_data=False).construct()

    def train(clock, objective=None):
        p = builtin if objective is None else dict(builtin, objective=objective)
        return lgb.train(p, ds, rounds, callbacks=[lambda env: clock.tick()] if clock else None)

    cases, same, _ = _cases(train, lambda model: model.predict(x[:20_000], raw_score=True), gamma)
    return cases, same, f"lightgbm {lgb.__version__}", builtin["objective"]


def _rows(case, sizes, t, same, versions, builtin_name, target):
    """Three rows: FocalLoss vs built-in (the target), and its two factors."""
    est = {name: v[0] for name, v in t.items()}
    extra = {"sum_of_round_medians_s": est, "median_total_s": {name: v[1] for name, v in t.items()},
             "replay_identical_model": same}
    lib = f"{THREADS} (library)"
    both = f"{lib} + {_numba_threads()} (numba)"
    ratio = est["focal"] / est["builtin"]
    focal = Row(
        "training", f"{case}: FocalLoss(gamma=2) vs built-in {builtin_name}", sizes, both, versions,
        f"{fmt_s(est['focal'])} vs {fmt_s(est['builtin'])}", f"{ratio:.3f}x", f"<= {target:.2f}x",
        verdict(ratio, target), extra,
    )
    trees = Row(
        "training", f"{case}: factor 1, the library's side (round trip + growing FocalLoss's trees): FocalLoss's own "
        f"gradients replayed (precomputed, same trees"
        f"{'' if same else ' NOT reproduced'}) vs built-in {builtin_name}", sizes, lib, versions,
        f"{fmt_s(est['replay'])} vs {fmt_s(est['builtin'])}", f"{est['replay'] / est['builtin']:.3f}x", "", "", extra,
    )
    own = Row(
        "training", f"{case}: factor 2, the objective's own cost: FocalLoss(gamma=2) vs its replay", sizes, both,
        versions, f"{fmt_s(est['focal'])} vs {fmt_s(est['replay'])}", f"{est['focal'] / est['replay']:.3f}x", "", "",
        extra,
    )
    if "lean_focal" not in est:
        return [focal, trees, own]
    return [focal, trees, own, *_lean_rows(case, sizes, est, extra, both, lib, versions, builtin_name, target)]


def _lean_rows(case, sizes, est, extra, both, lib, versions, builtin_name, target):
    """XGBoost through ``boost_focal.xgb_train`` (see :func:`_xgb_lean_cases`): end to end, the
    round trip, the trees' shape, and the objective's own cost (target 1.05x its replay)."""
    loop = "boost_focal.xgb_train"

    def row(what, a, b, threads, limit=None):
        r = est[a] / est[b]
        return Row("training", f"{case}: {what}", sizes, threads, versions, f"{fmt_s(est[a])} vs {fmt_s(est[b])}",
                   f"{r:.3f}x", f"<= {limit:.2f}x" if limit else "", verdict(r, limit) if limit else "", extra)

    return [
        row(f"FocalLoss(gamma=2) through {loop} vs built-in {builtin_name}", "lean_focal", "builtin", both, target),
        row(f"logloss gradients replayed through {loop} (precomputed, the built-in's trees) vs built-in "
            f"{builtin_name}: the round trip", "lean_logloss_replay", "builtin", lib),
        row(f"FocalLoss's gradients replayed through {loop} vs that logloss replay: growing focal trees",
            "lean_replay", "lean_logloss_replay", lib),
        row(f"FocalLoss(gamma=2) through {loop} vs its replay through {loop}: the objective's own cost",
            "lean_focal", "lean_replay", both, OWN_COST_TARGET if "binary" in case else None),
    ]


def _numba_threads():
    import numba

    return numba.get_num_threads()


def _library_rows(case, x, y, k, sizes, rounds, repeats, gamma, target):
    rows = []
    for lib, fn in (("XGBoost", functools.partial(_xgb_cases, lean=True)), ("LightGBM", _lgb_cases)):
        cases, same, versions, name = fn(x, y, k, rounds, gamma)  # every fit has run once
        t = interleaved_round_medians(cases, repeats)
        rows += _rows(f"{lib} {case}", sizes, t, same, versions, name, target)
        del cases  # the recorded gradients
    return rows


def run(quick):
    repeats = 1 if quick else 5
    rounds = 20 if quick else 50
    gamma = 2.0
    n_bin, n_soft, k = 1_000_000, 200_000, 10
    x, y = binary_data(n_bin)
    sizes = f"{n_bin:,} x 20, {y.mean():.1%} positive, {rounds} rounds, hist, depth {DEPTH}"
    rows = _library_rows("binary", x, y, 2, sizes, rounds, repeats, gamma, BINARY_TARGET)
    x, y = softmax_data(n_soft, k)
    sizes = f"{n_soft:,} x 20, K={k}, {rounds} rounds, hist, depth {DEPTH}"
    return rows + _library_rows("multiclass", x, y, k, sizes, rounds, repeats, gamma, SOFTMAX_TARGET)
