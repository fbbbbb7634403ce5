"""One training run's worth of boost-focal calls, timed; run by bench_startup.py in a fresh
interpreter: ``python startup_workload.py {xgboost,lightgbm} {binary,multiclass}``.

Prints one JSON object of timestamps (seconds since the start of this script): ``libs`` after
importing NumPy and the boosting library (not ours), ``imported`` after ``import boost_focal``,
``first_call`` after the first objective call ``fl(margin, dataset)`` as the library makes it, and
``trained`` after what such a run needs: ``init_score`` for the starting margin, a 2-round
training with ``FocalLoss`` as the objective, and the focal loss of the result (the metric).
"""

import json
import sys
import time

START = time.perf_counter()
LIBRARY, TASK = sys.argv[1], sys.argv[2]

import numpy as np  # noqa: E402

if LIBRARY == "xgboost":
    import xgboost as xgb
else:
    import lightgbm as lgb

LIBS = time.perf_counter()

import boost_focal  # noqa: E402
from boost_focal import FocalLoss  # noqa: E402

IMPORTED = time.perf_counter()

rng = np.random.default_rng(0)
n, k = 2000, (2 if TASK == "binary" else 3)
x = rng.normal(size=(n, 5)).astype(np.float32)
y = rng.integers(0, k, n).astype(np.float32)
fl = FocalLoss(2.0)
# The first call is the library's first objective call, with the margins it hands over:
# XGBoost float32 (n,) or (n, K) C order; LightGBM float64, (n, K) as an F-ordered view.
if LIBRARY == "xgboost":
    data = xgb.DMatrix(x, label=y)
    margin = rng.normal(size=n if k == 2 else (n, k)).astype(np.float32)
else:
    data = lgb.Dataset(x, label=y).construct()
    margin = rng.normal(size=n if k == 2 else (k, n)).T
fl(margin, data)
FIRST = time.perf_counter()

start = fl.init_score(y)
if LIBRARY == "xgboost":
    params = {"tree_method": "hist", "max_depth": 3, "nthread": 2, "verbosity": 0}
    params.update({"objective": "binary:logistic"} if k == 2 else {"objective": "multi:softprob", "num_class": k})
    booster = xgb.train(params, xgb.DMatrix(x, label=y), 2, obj=fl)
    raw = booster.predict(xgb.DMatrix(x), output_margin=True)
else:
    params = {"num_leaves": 7, "num_threads": 2, "verbose": -1, "objective": fl}
    params.update({} if k == 2 else {"num_class": k})
    booster = lgb.train(params, lgb.Dataset(x, label=y), 2)
    raw = booster.predict(x, raw_score=True)
fl.loss(raw, y)
TRAINED = time.perf_counter()

print(json.dumps({
    "libs": LIBS - START,
    "imported": IMPORTED - START,
    "first_call": FIRST - START,
    "trained": TRAINED - START,
    "package": boost_focal.__file__,
}))
