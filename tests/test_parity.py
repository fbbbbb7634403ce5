"""docs/parity.md, row by row: each entry of the table is one case here (issue 15)."""

import numpy as np
import pytest
from sklearn.datasets import make_classification

from boost_focal import FocalLGBMClassifier, FocalXGBClassifier


@pytest.fixture(scope="module")
def fitted():
    X, y = make_classification(600, 5, n_informative=3, n_classes=3, flip_y=0.3, random_state=0)
    Xv, yv = X[:200], y[:200]  # held out: the eval metric turns up and early stopping stops
    out = {}
    for cls in (FocalXGBClassifier, FocalLGBMClassifier):
        for k in (2, 3):
            yk = y if k == 3 else (y > 0).astype(int)
            yvk = yv if k == 3 else (yv > 0).astype(int)
            out[cls, k] = cls(n_estimators=60, n_jobs=1, early_stopping_rounds=3, learning_rate=0.2).fit(
                X[200:], yk[200:], eval_set=[(Xv, yvk)])
    return X, out


def _rows_xgb():
    def fit_args(m, X):
        y = m.classes_[np.zeros(X.shape[0], dtype=int)]
        y[::2] = m.classes_[1]
        for name in ("xgb_model", "base_margin", "base_margin_eval_set", "feature_weights"):
            with pytest.raises(ValueError, match=f"fit\\({name}=...\\) is not supported"):
                type(m)().fit(X, y, **{name: 1})

    def predict_margin(m, X):
        np.testing.assert_array_equal(m.predict(X, output_margin=True), m.decision_function(X))
        assert m.best_iteration >= 1
        few = m.predict(X, output_margin=True, iteration_range=(0, 1))
        assert np.abs(few - m.decision_function(X)).max() > 0

    def predict_proba_range(m, X):
        np.testing.assert_array_equal(m.predict_proba(X, iteration_range=(0, 0)), m.predict_proba(X))
        p1 = m.predict_proba(X, iteration_range=(0, 1))
        np.testing.assert_allclose(p1, m._proba_from_margin(m.predict(X, output_margin=True, iteration_range=(0, 1))))
        with pytest.raises(ValueError, match="iterations must satisfy"):
            m.predict_proba(X, iteration_range=(0, 10_000))

    def base_margin(m, X):
        with pytest.raises(ValueError, match="base_margin is not supported"):
            m.predict_proba(X, base_margin=np.zeros(X.shape[0]))

    def apply(m, X):
        leaves = m.apply(X)
        assert leaves.shape[0] == X.shape[0] and leaves.shape[1] == (m.best_iteration + 1) * (
            1 if m.n_classes_ == 2 else m.n_classes_)

    def contribs(m, X):
        c = m.predict_contribs(X)
        np.testing.assert_allclose(c.sum(axis=-1), m.decision_function(X), atol=1e-5)

    def best(m, X):
        assert m.best_iteration == m.best_iteration_ < 59  # stopped early
        assert m.best_score == m.best_score_ == min(next(iter(m.evals_result()["validation_0"].values())))
        assert m.evals_result() is m.evals_result_

    def importances(m, X):
        imp = m.feature_importances_
        assert imp.shape == (X.shape[1],) and abs(imp.sum() - 1) < 1e-6

    def rounds(m, X):
        assert m.get_num_boosting_rounds() == m.best_iteration + 1
        params = m.get_xgb_params()
        assert params["nthread"] == 1 and params["eta"] == 0.2 and "objective" not in params

    def coef(m, X):
        with pytest.raises(AttributeError, match="gblinear"):
            m.coef_
        with pytest.raises(AttributeError, match="init_score_"):
            m.intercept_

    def sklearn_api(m, X):
        assert 0 <= m.score(X, m.predict(X)) == 1.0
        m.get_metadata_routing()

    def reserved(m, X):
        with pytest.raises(ValueError, match="sets the XGBoost parameter 'base_score' itself"):
            FocalXGBClassifier(base_score=0.5).fit(X, m.predict(X))

    def callbacks(m, X):
        import xgboost as xgb

        class Count(xgb.callback.TrainingCallback):
            rounds = 0

            def after_iteration(self, model, epoch, evals_log):
                type(self).rounds += 1
                return False

        FocalXGBClassifier(n_estimators=4, n_jobs=1, callbacks=[Count()]).fit(X, m.predict(X))
        assert Count.rounds == 4

    return [callbacks, fit_args, predict_margin, predict_proba_range, base_margin, apply, contribs, best, importances, rounds,
            coef, sklearn_api, reserved]


def _rows_lgb():
    def fit_args(m, X):
        y = m.predict(X)
        for name in ("init_model", "init_score", "eval_init_score", "eval_class_weight", "eval_names", "eval_metric"):
            with pytest.raises(ValueError, match=f"fit\\({name}=...\\) is not supported"):
                FocalLGBMClassifier().fit(X, y, **{name: 1})
        with pytest.raises(ValueError, match="feature_name"):
            FocalLGBMClassifier().fit(X, y, feature_name=["a"] * X.shape[1])

    def raw_score(m, X):
        np.testing.assert_array_equal(m.predict_proba(X, raw_score=True), m.decision_function(X))
        np.testing.assert_array_equal(m.predict(X, raw_score=True), m.decision_function(X))

    def iterations(m, X):
        assert m.best_iteration_ >= 1
        few = m.predict_proba(X, num_iteration=1)
        np.testing.assert_allclose(few, m._proba_from_margin(m.predict(X, raw_score=True, num_iteration=1)))
        assert np.abs(few - m.predict_proba(X)).max() > 0
        late = m.predict(X, raw_score=True, start_iteration=1, num_iteration=1)
        raw = m.booster_.predict(X, raw_score=True, start_iteration=1, num_iteration=1)
        np.testing.assert_allclose(late, np.reshape(raw, late.shape) + m.init_score_)

    def leaves(m, X):
        assert m.predict(X, pred_leaf=True).shape[0] == X.shape[0]

    def contrib(m, X):
        c = m.predict_proba(X, pred_contrib=True)
        c = c if m.n_classes_ == 2 else c.reshape(X.shape[0], m.n_classes_, -1)
        np.testing.assert_allclose(c.sum(axis=-1), m.decision_function(X), atol=1e-10)

    def kwargs(m, X):
        with pytest.raises(TypeError, match="unsupported predict option"):
            m.predict(X, num_threads=2)

    def attributes(m, X):
        assert m.n_iter_ == m.n_estimators_ == m.best_iteration_ + 1 < 60
        assert m.best_score_ is not None and "validation_0" in m.evals_result_
        assert m.n_features_ == m.n_features_in_ == X.shape[1]
        assert m.feature_name_ == [f"Column_{i}" for i in range(X.shape[1])]
        assert m.objective_ is m.loss_
        assert m.feature_importances_.shape == (X.shape[1],)

    def sklearn_api(m, X):
        assert m.score(X, m.predict(X)) == 1.0
        m.get_metadata_routing()

    def reserved(m, X):
        with pytest.raises(ValueError, match="sets the LightGBM parameter 'is_unbalance' itself"):
            FocalLGBMClassifier(is_unbalance=True).fit(X, m.predict(X))

    def callbacks(m, X):
        seen = []
        FocalLGBMClassifier(n_estimators=4, n_jobs=1).fit(X, m.predict(X), callbacks=[lambda env: seen.append(env.iteration)])
        assert seen == [0, 1, 2, 3]

    return [callbacks, fit_args, raw_score, iterations, leaves, contrib, kwargs, attributes, sklearn_api, reserved]


CASES = [(FocalXGBClassifier, row) for row in _rows_xgb()] + [(FocalLGBMClassifier, row) for row in _rows_lgb()]


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("cls,row", CASES, ids=[f"{c.__name__[5:8]}-{r.__name__}" for c, r in CASES])
def test_parity_row(fitted, cls, row, k):
    X, models = fitted
    row(models[cls, k], X)


@pytest.mark.parametrize("cls", [FocalXGBClassifier, FocalLGBMClassifier])
def test_validate_features_row_features_always_checked(fitted, cls):
    """docs/parity.md: validate_features=False does not switch the feature check off."""
    X, models = fitted
    model = models[cls, 2]
    with pytest.raises(ValueError, match="features"):
        model.predict_proba(X[:, :-1], validate_features=False)
