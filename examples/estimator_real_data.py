"""FocalLGBMClassifier and FocalXGBClassifier on real data, next to the libraries' own classifiers.

Data: run-time classes of 4,331 jobs on a high-performance-computing system (modeldata's
``hpc_data``, MIT licence; Kuhn & Johnson, Applied Predictive Modeling; see
tests/fixtures/README.md). Four classes VF/F/M/L, the longest jobs (L) are 6%; two categorical
features (protocol, weekday) that both libraries split natively from a pandas DataFrame.

The focal models use alpha="balanced" (inverse class frequencies) and stop early on the focal
loss of a validation split. predict_proba returns the class posterior recovered from the focal
margin (probability="posterior", the default); probability="raw" is the plain softmax of the
same margin, which carries the focal/alpha distortion. Expect the ranking (macro PR-AUC) to be
close to the plain models and the posterior's log loss to be far better than the raw softmax's:
this is one dataset, not a claim that focal loss wins.

Run: python examples/estimator_real_data.py
"""

import inspect
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import average_precision_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import label_binarize

from boost_focal import FocalLGBMClassifier, FocalXGBClassifier

DATA = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "hpc_jobs.csv.gz"

frame = pd.read_csv(DATA)
for column in ("protocol", "day"):
    frame[column] = frame[column].astype("category")
X, y = frame.drop(columns="target"), frame["target"].to_numpy()  # labels are the strings VF/F/M/L
X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
X_tr, X_va, y_tr, y_va = train_test_split(X_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=0)

common = dict(n_estimators=1000, learning_rate=0.05, early_stopping_rounds=30, n_jobs=1, random_state=0)
focal = {
    "FocalLGBMClassifier": FocalLGBMClassifier(gamma=2.0, alpha="balanced", num_leaves=15, **common),
    "FocalXGBClassifier": FocalXGBClassifier(gamma=2.0, alpha="balanced", max_depth=4, **common),
}
for model in focal.values():
    model.fit(X_tr, y_tr, eval_set=[(X_va, y_va)])  # early stopping on the validation focal loss

# The libraries' own (cross-entropy) classifiers with the same trees and early stopping.
classes = np.unique(y)
codes = {c: i for i, c in enumerate(classes)}
enc = np.vectorize(codes.get)
plain_lgb = lgb.LGBMClassifier(n_estimators=1000, learning_rate=0.05, num_leaves=15, n_jobs=1, verbose=-1)
# LightGBM >= 4.7 takes validation data as eval_X/eval_y; eval_set (older versions) is deprecated.
if "eval_X" in inspect.signature(plain_lgb.fit).parameters:
    validation = {"eval_X": (X_va,), "eval_y": (enc(y_va),)}
else:
    validation = {"eval_set": [(X_va, enc(y_va))]}
plain_lgb.fit(X_tr, enc(y_tr), callbacks=[lgb.early_stopping(30, verbose=False)], **validation)
plain_xgb = xgb.XGBClassifier(
    n_estimators=1000, learning_rate=0.05, max_depth=4, n_jobs=1, enable_categorical=True, early_stopping_rounds=30
)
plain_xgb.fit(X_tr, enc(y_tr), eval_set=[(X_va, enc(y_va))], verbose=False)


def report(name, proba, rounds):
    onehot = label_binarize(y_test, classes=classes)
    pr_auc = average_precision_score(onehot, proba, average="macro")
    acc = np.mean(classes[proba.argmax(axis=1)] == y_test)
    print(f"{name:34s} rounds {rounds:4d}  macro PR-AUC {pr_auc:.3f}  log loss {log_loss(y_test, proba):.3f}  "
          f"accuracy {acc:.3f}")
    return pr_auc, log_loss(y_test, proba)


print(f"test rows {len(y_test)}, class shares {dict(zip(*np.unique(y_test, return_counts=True)))}")
scores = {}
for name, model in focal.items():
    assert list(model.classes_) == list(classes) and model.n_features_in_ == X.shape[1]
    posterior = model.predict_proba(X_test)
    assert np.allclose(posterior.sum(axis=1), 1.0)
    assert set(model.predict(X_test)) <= set(classes)
    raw = model.set_params(probability="raw").predict_proba(X_test)  # same trees, plain softmax
    model.set_params(probability="posterior")
    scores[name] = report(f"{name} (posterior)", posterior, model.n_estimators_)
    scores[name + " raw"] = report(f"{name} (raw softmax)", raw, model.n_estimators_)
scores["LGBMClassifier"] = report("LGBMClassifier", plain_lgb.predict_proba(X_test), plain_lgb.best_iteration_)
scores["XGBClassifier"] = report("XGBClassifier", plain_xgb.predict_proba(X_test), plain_xgb.best_iteration + 1)

for name in focal:
    # alpha='balanced' inflates the rare classes in the raw softmax; the posterior undoes it
    assert scores[name][1] < scores[name + " raw"][1], name
