"""Focal loss in ``xgboost.XGBClassifier``: sample weights, starting score, focal early stopping.

Run: python examples/xgb_sklearn.py
"""

import numpy as np
import xgboost as xgb
from sklearn.datasets import make_classification
from sklearn.metrics import average_precision_score
from sklearn.model_selection import train_test_split

from boost_focal import FocalLoss, xgb_base_score

X, y = make_classification(
    n_samples=3000, n_features=20, n_informative=6, weights=[0.93], flip_y=0.02, random_state=2
)
w = np.random.default_rng(2).uniform(0.5, 2.0, len(y))
X_tr, X_va, y_tr, y_va, w_tr, w_va = train_test_split(X, y, w, test_size=0.3, stratify=y, random_state=2)

fl = FocalLoss(gamma=2.0, alpha=0.25)
clf = xgb.XGBClassifier(
    objective=fl,  # XGBClassifier passes sample_weight to it by keyword
    base_score=xgb_base_score(fl, y_tr, w_tr),  # probability space: XGBClassifier uses binary:logistic
    eval_metric=fl.metric(),  # named after its __name__, "focal"
    disable_default_eval_metric=True,
    early_stopping_rounds=20,  # "focal" is minimised (XGBoost guesses from the name; it guesses right)
    n_estimators=400,
    learning_rate=0.1,
    max_depth=4,
)
clf.fit(X_tr, y_tr, sample_weight=w_tr, eval_set=[(X_va, y_va)], sample_weight_eval_set=[w_va], verbose=False)

margin = clf.predict(X_va, output_margin=True)  # uses the best iteration after early stopping
proba = fl.posterior(margin)  # predict_proba() would be sigmoid(margin), skewed by focal loss
valid = clf.evals_result()["validation_0"]["focal"]
print(f"best round {clf.best_iteration}, valid focal loss {valid[0]:.5f} -> {min(valid):.5f}")
print(f"valid PR-AUC {average_precision_score(y_va, proba, sample_weight=w_va):.3f}")
assert min(valid) < valid[0]
