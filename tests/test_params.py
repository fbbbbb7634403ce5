"""Unknown and NaN parameters: the same clear ValueError in both estimators (issue 15)."""

import warnings

import numpy as np
import pytest

from boost_focal import FocalLGBMClassifier, FocalXGBClassifier

ESTIMATORS = (FocalXGBClassifier, FocalLGBMClassifier)
ids = ["xgb", "lgbm"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    return X, (X[:, 0] > 0).astype(int)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
@pytest.mark.parametrize("how", ["constructor", "set_params"])
def test_unknown_parameter_is_named(cls, how, data):
    model = cls(n_estimators=2, n_jobs=1, gama=3) if how == "constructor" else cls(n_estimators=2, n_jobs=1)
    if how == "set_params":
        model.set_params(gama=3)
    with pytest.raises(ValueError, match=r"unknown (XGBoost|LightGBM) parameter\(s\) \['gama'\]"):
        model.fit(*data)


@pytest.mark.parametrize(
    "params",
    [
        {"eta": 0.3, "max_cached_hist_node": 128, "num_parallel_tree": 2, "seed_per_iteration": True},
        {"booster": "dart", "rate_drop": 0.1, "skip_drop": 0.5},
        {"booster": "gblinear", "updater": "shotgun", "feature_selector": "cyclic"},
        {"feature_types": ["q", "q", "q"]},  # a DMatrix argument, not a booster parameter
    ],
)
def test_valid_xgboost_parameters_pass_through(params, data):
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*are not used")
        FocalXGBClassifier(n_estimators=2, n_jobs=1, **params).fit(*data)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids)
@pytest.mark.parametrize("name", ["learning_rate", "gamma", "extra"])
def test_nan_parameter_is_named(cls, name, data):
    key = name if name != "extra" else ("colsample_bynode" if cls is FocalXGBClassifier else "feature_fraction_bynode")
    model = cls(n_estimators=2, n_jobs=1).set_params(**{key: float("nan")})
    with pytest.raises(ValueError, match=f"^{key} must be a number, got NaN"):
        model.fit(*data)


def test_missing_may_be_nan(data):
    FocalXGBClassifier(n_estimators=2, n_jobs=1, missing=np.nan).fit(*data)


def test_feature_dependent_named_parameters_do_not_disturb_the_check(data):
    """The check booster has 1 feature: constraints for 3 must not make it fail."""
    X, y = data
    FocalXGBClassifier(n_estimators=2, n_jobs=1, monotone_constraints=(1, 0, 0),
                       interaction_constraints="[[0, 1], [2]]", eta=0.3).fit(X, y)
