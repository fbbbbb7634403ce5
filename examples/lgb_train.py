"""Binary focal loss with ``lgb.train``: weights, init_score, focal metric, early stopping.

Run: python examples/lgb_train.py
"""

import lightgbm as lgb
import numpy as np
from sklearn.datasets import make_classification
from sklearn.metrics import average_precision_score
from sklearn.model_selection import train_test_split

from boost_focal import FocalLoss, lgb_init_score

X, y = make_classification(
    n_samples=3000, n_features=20, n_informative=6, weights=[0.93], flip_y=0.02, random_state=3
)
w = np.where(y == 1, 2.0, 1.0)
X_tr, X_va, y_tr, y_va, w_tr, w_va = train_test_split(X, y, w, test_size=0.3, stratify=y, random_state=3)

fl = FocalLoss(gamma=2.0, alpha=0.25)
start = fl.init_score(y_tr, w_tr)  # the focal-optimal constant margin
# LightGBM starts a custom objective at 0 and does not store init_score in the model: give it
# to the training set AND every validation set (same constant), and add it back at predict time.
dtrain = lgb.Dataset(X_tr, y_tr, weight=w_tr, init_score=lgb_init_score(fl, y_tr, w_tr))
dvalid = lgb.Dataset(
    X_va, y_va, weight=w_va, init_score=lgb_init_score(fl, y_tr, w_tr, n_rows=len(y_va)), reference=dtrain
)
params = {
    "objective": fl,  # LightGBM deep-copies it; the copy works the same
    "metric": "None",  # no built-in metric: only the focal one below, which drives early stopping
    "learning_rate": 0.1,
    "num_leaves": 15,
    "verbose": -1,
}
history = {}
bst = lgb.train(
    params,
    dtrain,
    num_boost_round=400,
    valid_sets=[dvalid],
    valid_names=["valid"],
    feval=fl.metric(),  # returns ("focal", value, False): lower is better
    callbacks=[lgb.early_stopping(20, verbose=False), lgb.record_evaluation(history)],
)

margin = bst.predict(X_va, raw_score=True, num_iteration=bst.best_iteration) + start
proba = fl.posterior(margin)  # bst.predict(X_va) would return raw scores: the model has no objective
valid = history["valid"]["focal"]
print(f"best round {bst.best_iteration}, valid focal loss {valid[0]:.5f} -> {min(valid):.5f}")
print(f"valid PR-AUC {average_precision_score(y_va, proba, sample_weight=w_va):.3f}")
assert abs(fl.metric().value(margin, y_va, w_va) - min(valid)) < 1e-6
