"""Multiclass focal loss in ``lightgbm.LGBMClassifier``: weights, init_score, focal early stopping.

Run: python examples/lgb_sklearn.py
"""

import inspect

import lightgbm as lgb
import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

from boost_focal import FocalLoss, lgb_init_score

K = 4
X, y = make_classification(
    n_samples=3000, n_features=20, n_informative=8, n_classes=K, weights=[0.6, 0.25, 0.1, 0.05], random_state=4
)
w = np.random.default_rng(4).uniform(0.5, 2.0, len(y))
X_tr, X_va, y_tr, y_va, w_tr, w_va = train_test_split(X, y, w, test_size=0.3, stratify=y, random_state=4)

fl = FocalLoss(gamma=2.0)
start = fl.init_score(y_tr, w_tr)  # (K,) optimal constant margins
clf = lgb.LGBMClassifier(
    objective=fl,  # three parameters: LGBMClassifier passes the sample weights to it
    metric="None",  # else multi_logloss is computed on raw scores as if they were probabilities
    n_estimators=300,
    learning_rate=0.1,
    num_leaves=15,
    verbose=-1,
)
# LightGBM >= 4.7 takes validation data as eval_X/eval_y; eval_set (older versions) is deprecated.
if "eval_X" in inspect.signature(clf.fit).parameters:
    validation = {"eval_X": (X_va,), "eval_y": (y_va,)}
else:
    validation = {"eval_set": [(X_va, y_va)]}
clf.fit(
    X_tr,
    y_tr,
    sample_weight=w_tr,
    init_score=lgb_init_score(fl, y_tr, w_tr),  # (n, K): start at the optimum, not at 0
    eval_sample_weight=[w_va],
    eval_init_score=[lgb_init_score(fl, y_tr, w_tr, n_rows=len(y_va))],  # same constant
    eval_metric=fl.metric(),
    callbacks=[lgb.early_stopping(20, verbose=False)],
    **validation,
)

# predict_proba() returns raw scores for a custom objective; recover probabilities ourselves.
margin = clf.predict(X_va, raw_score=True) + start  # best iteration; add the starting score back
proba = fl.posterior(margin)
valid = clf.evals_result_["valid_0"]["focal"]
print(f"best round {clf.best_iteration_}, valid focal loss {valid[0]:.4f} -> {min(valid):.4f}")
print(f"valid accuracy {np.mean(proba.argmax(axis=1) == y_va):.3f}")
assert abs(fl.metric().value(margin, y_va, w_va) - min(valid)) < 1e-6
