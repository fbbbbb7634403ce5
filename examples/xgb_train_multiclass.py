"""Multiclass focal loss with ``xgb.train`` (``multi:softprob``): per-class alpha and a per-class start.

Run: python examples/xgb_train_multiclass.py
"""

import numpy as np
import xgboost as xgb
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

from boost_focal import FocalLoss, xgb_base_score

K = 4
X, y = make_classification(
    n_samples=3000, n_features=20, n_informative=8, n_classes=K, weights=[0.6, 0.25, 0.1, 0.05], random_state=1
)
X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.3, stratify=y, random_state=1)

fl = FocalLoss(gamma=2.0, alpha=[0.1, 0.2, 0.3, 0.4])  # one weight per class
dtrain = xgb.DMatrix(X_tr, label=y_tr)
dvalid = xgb.DMatrix(X_va, label=y_va)
params = {
    "objective": "multi:softprob",  # with only num_class, predict() would return labels
    "num_class": K,
    # multi:softprob takes a vector of K raw margins (xgboost >= 3.1), stored in the model.
    "base_score": xgb_base_score(fl, y_tr),
    "disable_default_eval_metric": 1,
    "eta": 0.2,
    "max_depth": 4,
}
history = {}
bst = xgb.train(
    params,
    dtrain,
    num_boost_round=300,
    obj=fl,  # gets (n, K) margins, returns (n, K) gradients and Hessians
    evals=[(dvalid, "valid")],
    custom_metric=fl.metric(),
    evals_result=history,
    verbose_eval=False,
    callbacks=[xgb.callback.EarlyStopping(rounds=20, metric_name="focal", data_name="valid", maximize=False)],
)

margin = bst.predict(dvalid, output_margin=True, iteration_range=(0, bst.best_iteration + 1))
proba = fl.posterior(margin)  # (n, K) class probabilities, rows sum to 1
valid = history["valid"]["focal"]
print(f"best round {bst.best_iteration}, valid focal loss {valid[0]:.4f} -> {min(valid):.4f}")
print(f"valid accuracy {np.mean(proba.argmax(axis=1) == y_va):.3f}")
assert min(valid) < valid[0] and np.allclose(proba.sum(axis=1), 1.0)
