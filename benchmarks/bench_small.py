"""Tuning-sized data: the estimators against the libraries' own classifiers, whole fits.

What cross-validation and hyperparameter searches run: 1k, 5k and 50k rows, binary and K=5,
200 rounds, depth 4, 2 threads, no eval set, integer labels (as users pass them; an information
row gives ``XGBClassifier`` float32 labels, which it turns into a DMatrix faster).
``FocalXGBClassifier`` vs ``XGBClassifier`` (hist)
and ``FocalLGBMClassifier`` vs ``LGBMClassifier``, each with the same tree settings. There a
round costs a few hundred microseconds, so per-round fixed costs (the custom-objective round
trip through Python) decide the ratio. Two information rows per XGBoost case separate that:
the estimator trained through ``xgb.train`` (what it did before ``boost_focal._xgb_loop``), and
``xgb.train(obj=FocalLoss)`` against ``boost_focal.xgb_train(obj=FocalLoss)`` on the same DMatrix.

Two more rows per case measure the floor that any custom objective stands on: the logloss
gradients, recorded once from a NumPy logloss objective started at the class prior (the trees of
the libraries' own logloss classifiers, to within rounding), replayed through the fastest loop
(``boost_focal.xgb_train``; ``lgb.train`` with a callable objective), whole fits as for the
classifiers. "logloss replay vs XGBClassifier" is then the library's own custom-objective round
trip (margins out, gradients in) with nothing computed, and "FocalXGBClassifier vs the logloss
replay" what boost-focal adds on top of it (the focal kernel and the trees focal gradients grow).

Every fit is timed whole (building the DMatrix/Dataset included, as a user's fit); candidates
run in turns and the medians over the repeats are compared. ``run(..., threads=1, clock="cpu")``
times one-thread fits by the process's CPU time instead of the wall clock: on a shared, loaded
machine a 2-thread fit's wall time mostly measures OpenMP threads waiting for each other, while
one thread's CPU time is what the fit itself costs.
"""

import functools
import sys

import numpy as np

from boost_focal import FocalLGBMClassifier, FocalLoss, FocalXGBClassifier, xgb_train

from .bench_training import binary_data, logloss_objective, prior_margin, recording, replaying, softmax_data
from .timing import Row, fmt_ms, verdict

THREADS = 2
ROUNDS = 200
DEPTH = 4
SIZES = (1_000, 5_000, 50_000)
# (XGBoost, LightGBM) targets by size
TARGETS = {1_000: (1.15, 1.10), 5_000: (1.15, 1.10), 50_000: (1.05, 1.05)}


def _xgb_params(threads):
    return dict(n_estimators=ROUNDS, max_depth=DEPTH, learning_rate=0.1, n_jobs=threads, tree_method="hist")


def _lgb_params(threads):
    return dict(
        n_estimators=ROUNDS, max_depth=DEPTH, num_leaves=2**DEPTH - 1, learning_rate=0.1, n_jobs=threads,
        verbose=-1,
    )


def _through_xgb_train():
    """FocalXGBClassifier as it trained before the lean loop: through xgb.train itself."""
    from boost_focal import _xgb_loop

    class ThroughXgbTrain(FocalXGBClassifier):
        def fit(self, *args, **kwargs):
            saved = _xgb_loop.supported
            _xgb_loop.supported = lambda xgb: False
            try:
                return super().fit(*args, **kwargs)
            finally:
                _xgb_loop.supported = saved

    return ThroughXgbTrain


def _logloss_replays(x, y, k, threads, train_params, lp):
    """Whole-fit callables replaying recorded logloss gradients: (XGBoost, LightGBM)."""
    import lightgbm as lgb
    import xgboost as xgb

    start = prior_margin(y, k)
    base_margin = np.tile(start, (y.size, 1)) if k > 2 else np.full(y.size, start)

    def xgb_fit(obj):
        dtrain = xgb.QuantileDMatrix(x, label=y, base_margin=base_margin, nthread=threads)
        return xgb_train(train_params, dtrain, ROUNDS, obj=obj)

    lgb_params = {
        "max_depth": lp["max_depth"], "num_leaves": lp["num_leaves"], "learning_rate": lp["learning_rate"],
        "num_threads": threads, "verbose": -1,
    }
    if k > 2:
        lgb_params["num_class"] = k

    def lgb_fit(obj):
        data = lgb.Dataset(x, label=y, init_score=base_margin)
        return lgb.train(dict(lgb_params, objective=obj), data, ROUNDS)

    xgb_store, lgb_store = [], []
    xgb_fit(recording(logloss_objective(y, k, "xgb"), xgb_store))
    lgb_fit(recording(logloss_objective(y, k, "lgb"), lgb_store))
    return lambda: xgb_fit(replaying(xgb_store)), lambda: lgb_fit(replaying(lgb_store))


class _OwnReplay:
    """An estimator fit whose objective hands back the gradients its own objective returned in a
    recorded fit (``_base.make_objective`` swapped for the time of the fit): the same estimator,
    the same starting score and trees, nothing computed per round. The estimator against its
    replay is then what its focal objective costs inside the loop; the replay against the
    library's classifier is the round trip, the focal trees' shape and the estimator's own
    per-fit work."""

    def __init__(self, make_estimator, x, y):
        from boost_focal.estimators import _base

        self._base, self._make, self._x, self._y = _base, make_estimator, x, y
        self.store = []
        real = _base.make_objective

        def recording_make(*args, **kwargs):
            objective = real(*args, **kwargs)

            def recorded(margin):
                grad, hess = objective(margin)
                self.store.append((np.array(grad), np.array(hess)))  # the buffers are reused: copies
                return grad, hess

            return recorded

        self.recorded_model = self._fit_with(recording_make)

    def _fit_with(self, make):
        real = self._base.make_objective
        self._base.make_objective = make
        try:
            return self._make().fit(self._x, self._y)
        finally:
            self._base.make_objective = real

    def __call__(self):
        pairs = iter(self.store)
        return self._fit_with(lambda *args, **kwargs: lambda margin: next(pairs))


def _candidates(x, y, k, threads):
    import lightgbm as lgb
    import xgboost as xgb

    xp, lp = _xgb_params(threads), _lgb_params(threads)
    old = _through_xgb_train()
    train_params = {"tree_method": "hist", "max_depth": DEPTH, "eta": 0.1, "nthread": threads, "verbosity": 0}
    if k == 2:
        train_params["objective"] = "binary:logistic"
    else:
        train_params.update(objective="multi:softprob", num_class=k)
    dtrain = xgb.QuantileDMatrix(x, label=y, nthread=threads)
    fl = FocalLoss(2.0)
    y32 = y.astype(np.float32)  # XGBoost builds its DMatrix ~25 ms faster at 1k rows from float32 labels
    xgb_replay, lgb_replay = _logloss_replays(x, y, k, threads, train_params, lp)
    own_xgb = _OwnReplay(lambda: FocalXGBClassifier(**xp), x, y)
    own_lgb = _OwnReplay(lambda: FocalLGBMClassifier(**lp), x, y)
    return {
        "xgb": lambda: xgb.XGBClassifier(**xp).fit(x, y),
        "xgb_float32_labels": lambda: xgb.XGBClassifier(**xp).fit(x, y32),
        "focal_xgb": lambda: FocalXGBClassifier(**xp).fit(x, y),
        "focal_xgb_via_xgb_train": lambda: old(**xp).fit(x, y),
        "xgb.train(FocalLoss)": lambda: xgb.train(train_params, dtrain, ROUNDS, obj=fl),
        "xgb_train(FocalLoss)": lambda: xgb_train(train_params, dtrain, ROUNDS, obj=fl),
        "xgb_logloss_replay": xgb_replay,
        "focal_xgb_own_replay": own_xgb,
        "lgb": lambda: lgb.LGBMClassifier(**lp).fit(x, y),
        "focal_lgb": lambda: FocalLGBMClassifier(**lp).fit(x, y),
        "lgb_logloss_replay": lgb_replay,
        "focal_lgb_own_replay": own_lgb,
    }


def _rows(n, k, t, load, threads, clock):
    import lightgbm
    import xgboost

    case = "binary" if k == 2 else f"K={k}"
    sizes = f"{n:,} x 20, {case}, {ROUNDS} rounds, depth {DEPTH}"
    threads = f"{threads} (library)" + (", CPU time" if clock == "cpu" else "")
    xgb_target, lgb_target = TARGETS[n]
    extra = {"median_s": t, "load_average": load}
    xv, lv = f"xgboost {xgboost.__version__}", f"lightgbm {lightgbm.__version__}"

    def ratio_row(what, a, b, versions, target=None):
        r = t[a] / t[b]
        return Row(
            "small data", what, sizes, threads, versions, f"{fmt_ms(t[a])} vs {fmt_ms(t[b])}", f"{r:.3f}x",
            f"<= {target:.2f}x" if target else "", verdict(r, target) if target else "", extra,
        )

    def replay_rows(estimator, classifier, loop, tag, versions):
        """The four decomposition rows of one library (see the module docstring)."""
        own, logloss = f"focal_{tag}_own_replay", f"{tag}_logloss_replay"
        return [
            ratio_row(f"floor: logloss gradients replayed through {loop} (precomputed, nothing computed) "
                      f"vs {classifier}", logloss, tag, versions),
            ratio_row(f"{estimator} vs that logloss replay", f"focal_{tag}", logloss, versions),
            ratio_row(f"{estimator} with its own gradients replayed (same estimator and trees, objective "
                      f"computes nothing) vs {classifier}", own, tag, versions),
            ratio_row(f"{estimator} vs that replay of its own gradients (the focal objective's cost in the "
                      "loop)", f"focal_{tag}", own, versions),
        ]

    return [
        ratio_row("FocalXGBClassifier vs XGBClassifier", "focal_xgb", "xgb", xv, xgb_target),
        ratio_row("FocalXGBClassifier vs XGBClassifier given the labels as float32 (its fastest input)",
                  "focal_xgb", "xgb_float32_labels", xv),
        ratio_row("FocalXGBClassifier through xgb.train (before the lean loop) vs XGBClassifier",
                  "focal_xgb_via_xgb_train", "xgb", xv),
        ratio_row("boost_focal.xgb_train vs xgb.train, obj=FocalLoss(2), same DMatrix",
                  "xgb_train(FocalLoss)", "xgb.train(FocalLoss)", xv),
        *replay_rows("FocalXGBClassifier", "XGBClassifier", "boost_focal.xgb_train", "xgb", xv),
        ratio_row("FocalLGBMClassifier vs LGBMClassifier", "focal_lgb", "lgb", lv, lgb_target),
        *replay_rows("FocalLGBMClassifier", "LGBMClassifier", "lgb.train", "lgb", lv),
    ]


def interleaved_medians_by(clock, candidates, repeats):
    """:func:`timing.interleaved_medians` with the given clock (one warm-up round)."""
    for fn in candidates.values():
        fn()
    times = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            start = clock()
            fn()
            times[name].append(clock() - start)
    return {name: float(np.median(ts)) for name, ts in times.items()}


def _predict_rows(x, y, k, threads, timer, repeats, load):
    """Information rows: ``predict_proba`` on the training rows, each estimator against the
    library's classifier fitted with the same settings (calls in turns per library, medians). The estimators
    add the class posterior (and the calibration map) to the library's margin prediction."""
    import lightgbm as lgb
    import xgboost as xgb

    xp, lp = _xgb_params(threads), _lgb_params(threads)
    fitted = {
        "xgb": xgb.XGBClassifier(**xp).fit(x, y), "focal_xgb": FocalXGBClassifier(**xp).fit(x, y),
        "lgb": lgb.LGBMClassifier(**lp).fit(x, y), "focal_lgb": FocalLGBMClassifier(**lp).fit(x, y),
    }
    # in turns per library only: right after one library's prediction its OpenMP workers still
    # spin, and a different runtime's call that follows (the other library's) pays for it
    t = {}
    for pair in (("xgb", "focal_xgb"), ("lgb", "focal_lgb")):
        calls = {name: functools.partial(fitted[name].predict_proba, x) for name in pair}
        t.update(interleaved_medians_by(timer, calls, 3 * repeats))
    case = "binary" if k == 2 else f"K={k}"
    sizes = f"{y.size:,} x 20, {case}, {ROUNDS} trees, depth {DEPTH}"
    rows = []
    for ours, theirs, est, lib, versions in (
        ("focal_xgb", "xgb", "FocalXGBClassifier", "XGBClassifier", f"xgboost {xgb.__version__}"),
        ("focal_lgb", "lgb", "FocalLGBMClassifier", "LGBMClassifier", f"lightgbm {lgb.__version__}"),
    ):
        r = t[ours] / t[theirs]
        rows.append(Row(
            "small data", f"{est}.predict_proba vs {lib}.predict_proba (training rows)", sizes, f"{threads} (library)",
            versions, f"{fmt_ms(t[ours])} vs {fmt_ms(t[theirs])}", f"{r:.3f}x", "", "",
            {"median_s": t, "load_average": load},
        ))
    return rows


def run(quick, sizes=SIZES, classes=(2, 5), threads=THREADS, clock="wall"):
    """Rows for every (classes, size); quick: 3 repeats instead of 7. clock: "wall" or "cpu"
    (the process's CPU time; meaningful with threads=1)."""
    import os
    import time

    timer = {"wall": time.perf_counter, "cpu": time.process_time}[clock]
    repeats = 3 if quick else 7
    rows = []
    for k in classes:
        for n in sizes:
            x, y = binary_data(n) if k == 2 else softmax_data(n, k)
            y = y.astype(np.int64)
            load = os.getloadavg()[0]
            t = interleaved_medians_by(timer, _candidates(x, y, k, threads), repeats)
            done = _rows(n, k, t, f"{load:.1f}-{os.getloadavg()[0]:.1f}", threads, clock)
            done += _predict_rows(x, y, k, threads, timer, repeats, f"{os.getloadavg()[0]:.1f}")
            for r in done:  # as they come: a long run under load still leaves its figures
                print(f"[small] {r.case}, {r.sizes}, {r.threads}: {r.measured} = {r.ratio} "
                      f"(load {r.extra['load_average']})", file=sys.stderr, flush=True)
            rows += done
    return rows
