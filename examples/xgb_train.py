"""Binary focal loss with ``xgb.train``: sample weights, starting score, focal metric, early stopping.

Run: python examples/xgb_train.py
"""

import numpy as np
import xgboost as xgb
from sklearn.datasets import make_classification
from sklearn.metrics import average_precision_score
from sklearn.model_selection import train_test_split

from boost_focal import FocalLoss, xgb_base_score

X, y = make_classification(
    n_samples=3000, n_features=20, n_informative=6, weights=[0.93], flip_y=0.02, random_state=0
)
w = np.where(y == 1, 2.0, 1.0)  # any per-row weights (costs, survey weights, ...)
X_tr, X_va, y_tr, y_va, w_tr, w_va = train_test_split(X, y, w, test_size=0.3, stratify=y, random_state=0)

fl = FocalLoss(gamma=2.0, alpha=0.25)
dtrain = xgb.DMatrix(X_tr, label=y_tr, weight=w_tr)  # weights reach the focal gradient
dvalid = xgb.DMatrix(X_va, label=y_va, weight=w_va)  # ... and the focal metric

params = {
    # The link for the custom objective: base_score is a probability and predict() applies sigmoid.
    "objective": "binary:logistic",
    # Start at the focal-optimal constant (stored in the model) instead of margin 0.
    "base_score": xgb_base_score(fl, y_tr, w_tr),
    # Otherwise XGBoost also reports logloss, and early stopping would follow the last metric.
    "disable_default_eval_metric": 1,
    "eta": 0.1,
    "max_depth": 4,
}
history = {}
bst = xgb.train(
    params,
    dtrain,
    num_boost_round=400,
    obj=fl,
    evals=[(dtrain, "train"), (dvalid, "valid")],
    custom_metric=fl.metric(),  # weighted mean focal loss of the raw margins
    evals_result=history,
    verbose_eval=False,
    callbacks=[xgb.callback.EarlyStopping(rounds=20, metric_name="focal", data_name="valid", maximize=False)],
)

margin = bst.predict(dvalid, output_margin=True, iteration_range=(0, bst.best_iteration + 1))
proba = fl.posterior(margin)  # P(y = 1); bst.predict() would give sigmoid(margin), which focal loss skews
valid = history["valid"]["focal"]
print(f"stopped after {len(valid)} rounds, best round {bst.best_iteration}")
print(f"valid focal loss: round 0 {valid[0]:.5f} -> best {min(valid):.5f}")
print(f"valid PR-AUC {average_precision_score(y_va, proba, sample_weight=w_va):.3f}")
assert min(valid) < valid[0] and 0 <= proba.min() and proba.max() <= 1
