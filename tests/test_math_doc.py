"""The formulas in docs/math.md are executable: check the package computes the same numbers."""

import math
import re
from pathlib import Path

import numpy as np
import pytest

from boost_focal import FocalLoss
from boost_focal.focal import log_phi

DOC = Path(__file__).resolve().parents[1] / "docs" / "math.md"
FORMULAS = dict(re.findall(r"```formula (\w+)\n(.*?)\n```", DOC.read_text(), flags=re.S))

MARGINS = np.concatenate([np.linspace(-30, 30, 241), [-200.0, -50.0, 50.0, 200.0]])


def _binary_vars(z, y, gamma, alpha):
    """The doc's symbols, from their definitions (plain NumPy, float64, moderate margins)."""
    s = 2.0 * y - 1.0
    u = s * z
    q = 1.0 / (1.0 + np.exp(-u))
    r = 1.0 / (1.0 + np.exp(u))
    log_q, log_r = -np.logaddexp(0.0, -u), -np.logaddexp(0.0, u)  # log sigmoid(+-u) without log(1 - tiny)
    return dict(np=np, s=s, u=u, q=q, r=r, log_q=log_q, log_r=log_r, gamma=gamma,
                a=np.where(y == 1, alpha, 1.0 - alpha))


def _eval(name, env):
    return eval(FORMULAS[name], {"__builtins__": {}}, env)  # noqa: S307 - our own doc


def test_doc_has_all_formulas():
    expected = {"binary_grad", "binary_hess_exact", "binary_hess_bohning", "softmax_grad_other",
                "softmax_hess_other_exact", "softmax_hess_other_bohning", "log_phi", "binary_posterior"}
    assert expected <= set(FORMULAS)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
@pytest.mark.parametrize("alpha", [0.25, 0.9])
@pytest.mark.parametrize("y", [0, 1])
def test_binary_derivatives_match_doc(gamma, alpha, y):
    z = MARGINS[np.abs(MARGINS) <= 30]
    labels = np.full(z.shape, y)
    env = _binary_vars(z, labels, gamma, alpha)
    g, h = FocalLoss(gamma, alpha, "exact").grad_hess(z, labels)
    np.testing.assert_allclose(g, _eval("binary_grad", env), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(h, _eval("binary_hess_exact", env), rtol=1e-9, atol=1e-14)
    _, hb = FocalLoss(gamma, alpha, "bohning").grad_hess(z, labels)
    np.testing.assert_allclose(hb, _eval("binary_hess_bohning", env), rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.5])
def test_softmax_off_class_terms_match_doc(gamma):
    rng = np.random.default_rng(0)
    z = rng.normal(scale=3.0, size=(50, 4))
    y = rng.integers(0, 4, 50)
    alpha = np.array([0.1, 0.2, 0.3, 0.4])
    g, h = FocalLoss(gamma, alpha, "exact").grad_hess(z, y)
    _, hb = FocalLoss(gamma, alpha, "bohning").grad_hess(z, y)
    for i in range(z.shape[0]):
        others = [k for k in range(4) if k != y[i]]
        lse_other = np.log(np.exp(z[i, others]).sum())
        u = z[i, y[i]] - lse_other
        env = _binary_vars(np.array([u]), np.array([1]), gamma, alpha[y[i]])
        env["d1"] = g[i, y[i]]  # dFL/dz_y = l'(u)
        env["d2"] = h[i, y[i]]  # d2FL/dz_y2 = l''(u)
        np.testing.assert_allclose(env["d1"], _eval("binary_grad", env), rtol=1e-10)
        env["pi"] = np.exp(z[i, others] - lse_other)
        np.testing.assert_allclose(g[i, others], _eval("softmax_grad_other", env), rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(h[i, others], _eval("softmax_hess_other_exact", env), rtol=1e-9, atol=1e-15)
        # the Boehning floor on l''(u): alpha_y (1 - p_y)^gamma (1 - 1/K) / 2, with 1 - p_y = sigmoid(-u)
        env["floor"] = alpha[y[i]] * env["r"][0] ** gamma * (1.0 - 1.0 / 4) / 2.0
        np.testing.assert_allclose(hb[i, y[i]], np.maximum(env["d2"], env["floor"]), rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(hb[i, others], _eval("softmax_hess_other_bohning", env), rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0, 7.0])
def test_log_phi_matches_doc_and_definition(gamma):
    u = np.linspace(-30, 30, 121)
    env = _binary_vars(u, np.ones_like(u), gamma, 1.0)
    ours = log_phi(u, gamma)
    np.testing.assert_allclose(ours, _eval("log_phi", env), rtol=1e-10, atol=1e-12)
    mid = np.abs(u) <= 10  # the naive definition loses digits to log(q) with q near 1 beyond that
    q, r = env["q"][mid], env["r"][mid]
    phi = r**gamma / q - gamma * r ** (gamma - 1) * np.log(q)
    np.testing.assert_allclose(ours[mid], np.log(phi), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("alpha", [0.25, 0.5, 0.75])
def test_binary_posterior_matches_doc(gamma, alpha):
    z = np.linspace(-15, 15, 61)

    def phi(q):
        return (1 - q) ** gamma / q - gamma * (1 - q) ** (gamma - 1) * np.log(q)

    env = dict(np=np, p=1 / (1 + np.exp(-z)), a0=1 - alpha, a1=alpha, phi=phi)
    np.testing.assert_allclose(FocalLoss(gamma, alpha).posterior(z), _eval("binary_posterior", env),
                               rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------------- section 7 (estimators)
def test_loss_scale_matches_doc():
    from boost_focal import FocalXGBClassifier

    rng = np.random.default_rng(5)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] + rng.normal(size=400) > 1.2).astype(int)
    w = rng.uniform(0.5, 2.0, size=400)
    for alpha in (None, 0.8, "balanced"):
        model = FocalXGBClassifier(alpha=alpha, n_estimators=1, n_jobs=1).fit(X, y, sample_weight=w)
        _, h = FocalLoss(2.0, model.alpha_.tolist(), "bohning").grad_hess(np.full(400, model.init_score_), y, w)
        h = h / w  # the per-row Hessian; the doc's mean is weighted
        pi1 = np.average(y, weights=w)
        expected = _eval("loss_scale_binary", dict(np=np, max=max, pi1=pi1, h_focal_at_start=h, w=w))
        assert model.loss_scale_ == pytest.approx(expected, rel=1e-9)


def test_temperature_formulas_match_doc():
    from boost_focal import FocalLGBMClassifier, FocalXGBClassifier

    rng = np.random.default_rng(6)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] + rng.normal(size=300) > 1.0).astype(int)
    g_lgbm = _eval("lightgbm_binary_growth", {})
    assert g_lgbm == 1
    for gamma in (0.0, 1.0, 2.0, 4.0):
        model = FocalLGBMClassifier(gamma=gamma, n_estimators=5, n_jobs=1).fit(X, y)
        env = dict(gamma=gamma, min=min, max=max, log10=math.log10, s=1 / 8, g=g_lgbm, B=5 * 0.1)
        assert model.temperature_ == pytest.approx(_eval("default_temperature", env))
        for cls, s, g, rate, trees in ((FocalLGBMClassifier, 1 / 8, g_lgbm, 0.3, 50),
                                       (FocalLGBMClassifier, 1 / 8, g_lgbm, 0.1, 300),
                                       (FocalXGBClassifier, 3 / 32, 0, None, 20),
                                       (FocalXGBClassifier, 3 / 32, 0, 0.1, 300)):
            tempered = cls(gamma=gamma, n_estimators=trees, learning_rate=rate, n_jobs=1).fit(X, y).temperature_
            env = dict(gamma=gamma, min=min, max=max, log10=math.log10, s=s, g=g,
                       B=trees * (rate or 0.3))  # XGBoost's default eta 0.3
            assert tempered == pytest.approx(_eval("default_temperature", env))
        z = model.decision_function(X)
        env = dict(posterior=model.loss_.posterior, z=z, T=model.temperature_, b=model.margin_shift_)
        np.testing.assert_allclose(model.predict_proba(X)[:, 1], _eval("tempered_posterior", env), rtol=1e-12)
        if gamma > 0:  # b solves the doc's training-rows condition (these are the training rows)
            w = rng.uniform(0.5, 2.0, size=300)
            model = FocalLGBMClassifier(gamma=gamma, n_estimators=5, n_jobs=1).fit(X, y, sample_weight=w)
            z = model.decision_function(X)
            env = dict(np=np, posterior=model.loss_.posterior, z=z, T=model.temperature_, b=model.margin_shift_,
                       w=w, y=y)
            assert abs(_eval("training_shift_condition", env)) < 1e-7 * min(y.mean(), 1 - y.mean())
            assert abs(_eval("training_shift_condition", dict(env, b=0.0))) > 1e-6

    # more than two classes, unequal alphas: one shift per class, mean zero
    X = rng.normal(size=(600, 3))
    y = np.digitize(X[:, 0] + rng.normal(size=600), [-0.5, 0.8, 1.8])
    w = rng.uniform(0.5, 2.0, size=600)
    model = FocalLGBMClassifier(alpha="balanced", n_estimators=5, n_jobs=1).fit(X, y, sample_weight=w)
    z = model.decision_function(X)
    b = model.margin_shift_
    env = dict(np=np, posterior=model.loss_.posterior, z=z, T=model.temperature_, b=b, w=w, Y=np.eye(4)[y])
    np.testing.assert_allclose(model.predict_proba(X), _eval("tempered_posterior", env), rtol=1e-12)
    freq = np.bincount(y, weights=w) / w.sum()
    assert np.abs(_eval("training_shifts_condition", env)).max() < 1e-7 * freq.min()
    assert np.abs(_eval("training_shifts_condition", dict(env, b=np.zeros(4)))).max() > 1e-4
    assert abs(b.sum()) < 1e-9
    equal = FocalLGBMClassifier(n_estimators=5, n_jobs=1).fit(X, y, sample_weight=w)
    assert not np.any(equal.margin_shift_)


def test_xgboost_multiclass_temperature_slope_matches_doc():
    """FocalXGBClassifier's no-eval-set temperature with K classes: the doc's slope in the doc's
    formula (unchanged up to 6 classes, falling beyond); LightGBM's multiclass slope is the doc's
    at every K (its binary slope, 1/8, is checked in test_calibrated_defaults)."""
    from sklearn.datasets import make_classification

    from boost_focal import FocalLGBMClassifier, FocalXGBClassifier

    for k in (3, 6, 8, 12):
        X, y = make_classification(60 * k, 6, n_informative=5, n_redundant=0, n_classes=k, n_clusters_per_class=1,
                                   random_state=k)
        slope = _eval("xgboost_multiclass_slope", dict(min=min, K=k))
        assert slope == pytest.approx(3 / 16 if k <= 6 else 3 / 16 * (6 / k) ** 2)
        for trees in (20, 150):  # budgets 2 and 15 at learning rate 0.1
            env = dict(gamma=2.0, min=min, max=max, log10=math.log10, s=slope, g=0, B=trees * 0.1)
            model = FocalXGBClassifier(n_estimators=trees, learning_rate=0.1, n_jobs=1).fit(X, y)
            assert model.temperature_ == pytest.approx(_eval("default_temperature", env), rel=1e-12)
            lgbm = FocalLGBMClassifier(n_estimators=trees, learning_rate=0.1, n_jobs=1).fit(X, y)
            lgbm_slope = _eval("lightgbm_multiclass_slope", {})
            assert lgbm_slope == 3 / 16
            assert lgbm.temperature_ == pytest.approx(_eval("default_temperature", dict(env, s=lgbm_slope)), rel=1e-12)
