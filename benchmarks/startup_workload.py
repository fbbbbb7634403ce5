"""What one training process compiles, timed; run by bench_startup.py in a fresh interpreter.

Prints one JSON object of timestamps (seconds since the start of this script):
``libs`` after importing NumPy/XGBoost/LightGBM (not ours), ``imported`` after
``import boost_focal``, ``first_call`` after the first ``FocalLoss.grad_hess`` (float32
binary margins, the XGBoost case), ``trained`` after a short binary and multiclass training
run with each library plus ``loss``/``init_score``: every kernel a training run needs.
"""

import json
import sys
import time

START = time.perf_counter()

import lightgbm as lgb  # noqa: E402
import numpy as np  # noqa: E402
import xgboost as xgb  # noqa: E402

LIBS = time.perf_counter()

import boost_focal  # noqa: E402
from boost_focal import FocalLoss  # noqa: E402

IMPORTED = time.perf_counter()

rng = np.random.default_rng(0)
n = 2000
z = rng.normal(size=n).astype(np.float32)
y = (rng.random(n) < 0.2).astype(np.float32)
fl = FocalLoss(2.0)
fl.grad_hess(z, y)
FIRST = time.perf_counter()

x = rng.normal(size=(n, 5)).astype(np.float32)
yk = rng.integers(0, 3, n).astype(np.float32)
xgb_params = {"tree_method": "hist", "max_depth": 3, "nthread": 2, "verbosity": 0}
xgb.train(dict(xgb_params, objective="binary:logistic"), xgb.DMatrix(x, label=y), 2, obj=fl)
xgb.train(dict(xgb_params, objective="multi:softprob", num_class=3), xgb.DMatrix(x, label=yk), 2, obj=fl)
lgb_params = {"num_leaves": 7, "num_threads": 2, "verbose": -1, "objective": fl}
lgb.train(lgb_params, lgb.Dataset(x, label=y), 2)
lgb.train(dict(lgb_params, num_class=3), lgb.Dataset(x, label=yk), 2)
fl.loss(z, y)
fl.init_score(y)
TRAINED = time.perf_counter()

print(json.dumps({
    "libs": LIBS - START,
    "imported": IMPORTED - START,
    "first_call": FIRST - START,
    "trained": TRAINED - START,
    "package": boost_focal.__file__,
}))
sys.exit(0)
