"""Data for the adapter tests (test_xgboost.py, test_lightgbm.py): one definition for both."""

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification


def weighted_classification(n_classes=2, n=600, seed=0):
    """(X, y, w): 8 features, 70% in class 0, weights uniform in [0.1, 4]."""
    X, y = make_classification(
        n, 8, n_informative=5, n_classes=n_classes, weights=[0.7] + [0.3 / (n_classes - 1)] * (n_classes - 1),
        random_state=seed,
    )
    w = np.random.default_rng(seed).uniform(0.1, 4.0, n)
    return X, y, w


def load_shared(shared_data, name, n_max=None):
    """Numeric features (categoricals as codes) and integer labels of a shared dataset."""
    df = pd.read_parquet(shared_data / f"{name}.parquet")
    y = df.pop("target")
    y = (y.cat.codes if isinstance(y.dtype, pd.CategoricalDtype) else y).to_numpy(np.int64)
    df = df.drop(columns=[c for c in ("split", "sample_weight") if c in df])
    X = np.column_stack(
        [df[c].cat.codes.to_numpy(float) if isinstance(df[c].dtype, pd.CategoricalDtype) else df[c].to_numpy(float)
         for c in df]
    )
    if n_max is not None and len(y) > n_max:
        idx = np.random.default_rng(0).choice(len(y), n_max, replace=False)
        X, y = X[idx], y[idx]
    return X, y
