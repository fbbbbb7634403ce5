"""Regression test for the default Hessian safeguard (docs/hessian_stability.md).

Setup where the exact focal Hessian breaks LightGBM's Newton leaf steps: the glass data
(6 classes, the smallest with 9 rows), a stratified 70% training split, gamma=5, learning
rate 1.0, library defaults otherwise. On every split seed 0-4 tried, LightGBM with
hessian="exact" drove training margins to 1e4-5e4 within 30 rounds, while the default
safeguard kept them below 10 in both engines (XGBoost's min_child_weight=1 and lambda=1 keep
even the exact Hessian bounded here, so only the default is checked there).
"""

import numpy as np
import pandas as pd
import pytest

from boost_focal import FocalLoss

lgb = pytest.importorskip("lightgbm")
xgb = pytest.importorskip("xgboost")

GAMMA = 5.0
LEARNING_RATE = 1.0
ROUNDS = 30
BOUND = 50.0


@pytest.fixture(scope="module")
def glass(shared_data):
    df = pd.read_parquet(shared_data / "glass.parquet")
    y = df["target"].cat.codes.to_numpy().astype(np.int64)
    X = df.drop(columns=["target"]).to_numpy(dtype=np.float64)
    return X, y


@pytest.fixture(autouse=True, scope="module")
def one_numba_thread():
    # small data: the parallel kernels' thread wake-ups dominate and the CPU is shared
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


def _train_split(X, y, seed):
    from sklearn.model_selection import train_test_split

    Xtr, _, ytr, _ = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    return Xtr, ytr


class _Tracked:
    """Calls FocalLoss.grad_hess and records the largest row-centred |margin| it was given."""

    def __init__(self, fl, y):
        self.fl, self.y, self.max_margin = fl, y, 0.0

    def __call__(self, margin):
        m = np.asarray(margin, dtype=np.float64)
        if not np.isfinite(m).all():
            self.max_margin = np.inf
            raise FloatingPointError("non-finite margin")
        self.max_margin = max(self.max_margin, float(np.abs(m - m.mean(axis=1, keepdims=True)).max()))
        return self.fl.grad_hess(margin, self.y)


def _lightgbm_max_margin(fl, X, y):
    k = int(y.max()) + 1
    obj = _Tracked(fl, y)
    init = np.tile(fl.init_score(y, n_classes=k), (len(y), 1))
    params = {"objective": lambda preds, ds: obj(preds), "num_class": k, "learning_rate": LEARNING_RATE,
              "num_threads": 1, "verbose": -1, "deterministic": True, "seed": 0}
    try:
        bst = lgb.train(params, lgb.Dataset(X, label=y, init_score=init), ROUNDS)
    except FloatingPointError:
        return np.inf
    final = bst.predict(X, raw_score=True)
    return max(obj.max_margin, float(np.abs(final - final.mean(axis=1, keepdims=True)).max()))


def _xgboost_max_margin(fl, X, y):
    k = int(y.max()) + 1
    obj = _Tracked(fl, y)
    init = np.tile(fl.init_score(y, n_classes=k), (len(y), 1))
    dtrain = xgb.DMatrix(X, label=y, base_margin=init)
    params = {"objective": "multi:softprob", "num_class": k, "learning_rate": LEARNING_RATE, "nthread": 1,
              "tree_method": "hist", "seed": 0}
    try:
        bst = xgb.train(params, dtrain, ROUNDS, obj=lambda predt, d: obj(predt))
    except FloatingPointError:
        return np.inf
    final = bst.predict(dtrain, output_margin=True)
    return max(obj.max_margin, float(np.abs(final - final.mean(axis=1, keepdims=True)).max()))


def test_setup_has_a_tiny_class(glass):
    _, y = glass
    assert np.bincount(y).min() <= 10 and np.bincount(y).size == 6


@pytest.mark.parametrize("seed", [0, 1])
def test_exact_hessian_diverges_in_lightgbm(glass, seed):
    """The failure the safeguard exists for: shows the setup can make the bound below fail."""
    X, y = _train_split(*glass, seed)
    assert _lightgbm_max_margin(FocalLoss(gamma=GAMMA, hessian="exact"), X, y) > 1e3


@pytest.mark.parametrize("seed", [0, 1])
def test_default_hessian_stays_bounded_in_lightgbm(glass, seed):
    X, y = _train_split(*glass, seed)
    fl = FocalLoss(gamma=GAMMA)  # the default hessian mode, whatever it is
    assert fl.hessian != "exact"
    assert _lightgbm_max_margin(fl, X, y) < BOUND


@pytest.mark.parametrize("seed", [0, 1])
def test_default_hessian_stays_bounded_in_xgboost(glass, seed):
    X, y = _train_split(*glass, seed)
    assert _xgboost_max_margin(FocalLoss(gamma=GAMMA), X, y) < BOUND


# ------------------------------------------------------------------ the bound behind the default
# With the Boehning floor h >= a (1 - p_t)^gamma B and |l'| = a (1 - p_t)^gamma ((1 - p_t) + gamma p_t |log p_t|),
# p |log p| <= 1/e gives |g| / h <= (1 + gamma / e) / B for every entry (softmax: |g_j| = pi_j |l'| <= |l'|).
# So every leaf value -sum g / (sum h + lambda) is bounded by the same constant, whatever the leaf.


def _step_ratio(fl, z, y, w=None):
    g, h = fl.grad_hess(z, y, w)
    assert np.all(h > 0)
    return np.abs(g) / h


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
def test_bohning_bounds_every_binary_newton_step(gamma):
    z = np.linspace(-40.0, 40.0, 4001)
    rng = np.random.default_rng(0)
    for y in (np.zeros(z.size, np.int64), np.ones(z.size, np.int64)):
        w = rng.uniform(0.1, 3.0, z.size)
        ratio = _step_ratio(FocalLoss(gamma=gamma, alpha=0.3, hessian="bohning"), z, y, w)
        assert ratio.max() <= 4.0 * (1.0 + gamma / np.e) * (1 + 1e-12)


@pytest.mark.parametrize("k", [3, 6])
@pytest.mark.parametrize("gamma", [0.0, 2.0, 5.0])
def test_bohning_bounds_every_softmax_newton_step(gamma, k):
    rng = np.random.default_rng(1)
    z = rng.normal(scale=15.0, size=(5000, k))
    y = rng.integers(0, k, 5000)
    ratio = _step_ratio(FocalLoss(gamma=gamma, hessian="bohning"), z, y)
    assert ratio.max() <= (1.0 + gamma / np.e) / ((1.0 - 1.0 / k) / 2.0) * (1 + 1e-12)


@pytest.mark.parametrize("mode", ["exact", "abs", "clip"])
def test_other_modes_allow_unbounded_steps_on_misclassified_rows(mode):
    """Why they diverge: on a row with p_t -> 0 the curvature vanishes while |g| -> alpha_t."""
    z = np.array([-10.0, -20.0, -30.0])
    g, h = FocalLoss(gamma=2.0, hessian=mode).grad_hess(z, np.ones(3, np.int64))
    step = np.abs(g) / np.maximum(np.abs(h), 1e-300)
    assert step.min() > 1e3 and step.max() > 1e9  # vs <= 4 (1 + 2/e) ~ 6.9 with the Boehning floor
