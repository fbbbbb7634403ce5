"""Validation folded into the float32 kernels' pass (FocalLoss.grad_hess and the adapters).

The SIMD kernels count rows with a non-finite margin or an invalid label; the caller then runs
the separate checks only to raise. These tests pin that the float32 path raises exactly the
errors of the float64 path (which validates before the kernel), that its results on valid input
are those of the validate-first path bit for bit, and that bad labels never index out of range.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boost_focal import FocalLoss
from boost_focal._cpu import MIN_ROWS_PER_THREAD


def _error(call):
    try:
        call()
    except (ValueError, TypeError) as exc:
        return type(exc), str(exc)
    return None


def _binary(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 3, n).astype(np.float32), (rng.random(n) < 0.3).astype(np.float32)


def _softmax(n, k, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 2, (n, k)).astype(np.float32), rng.integers(0, k, n).astype(np.float32)


# rows: small (one thread) and large enough to be split across threads, bad value near the end
SIZES = (7, 2 * MIN_ROWS_PER_THREAD + 13)
BAD_MARGINS = (np.nan, np.inf, -np.inf)
BAD_LABELS = ("k", "k+1", -1.0, 0.5, np.nan, np.inf, 1e30)  # "k": one past the last class


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("bad", BAD_MARGINS)
@pytest.mark.parametrize("k", [2, 4])
def test_bad_margin_raises_the_float64_error(n, bad, k):
    z, y = _binary(n) if k == 2 else _softmax(n, k)
    z[n - 2] = bad
    fl = FocalLoss(2.0)
    got = _error(lambda: fl.grad_hess(z, y))
    assert got is not None and got == _error(lambda: fl.grad_hess(z.astype(np.float64), y))
    assert "margin" in got[1] and "NaN or infinite" in got[1]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("bad", BAD_LABELS)
@pytest.mark.parametrize("k", [2, 4])
def test_bad_float32_label_raises_the_float64_error(n, bad, k):
    z, y = _binary(n) if k == 2 else _softmax(n, k)
    y[n - 3] = {"k": k, "k+1": k + 1}.get(bad, bad)
    fl = FocalLoss(2.0, alpha=[0.1, 0.2, 0.3, 0.4] if k == 4 else 0.25)
    got = _error(lambda: fl.grad_hess(z, y))
    assert got is not None, "an invalid label was accepted"
    assert got == _error(lambda: fl.grad_hess(z.astype(np.float64), y))
    assert got[1].startswith("y ")


@pytest.mark.parametrize("label", [-1, 2, 2**24 + 1, 2**40, np.iinfo(np.int64).min])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint64])
def test_bad_integer_label_raises(label, dtype):
    if np.dtype(dtype).kind == "u" and label < 0:
        pytest.skip("negative label in an unsigned dtype")
    if np.dtype(dtype).itemsize == 4 and abs(label) >= 2**31:
        pytest.skip("does not fit")
    z, y = _binary(50)
    y = y.astype(dtype)
    y[10] = label
    got = _error(lambda: FocalLoss(2.0).grad_hess(z, y))
    assert got is not None and got == _error(lambda: FocalLoss(2.0).grad_hess(z.astype(np.float64), y))


def test_both_problems_name_the_margin_first():
    """As in the validate-first path, the margin is checked before the labels."""
    z, y = _softmax(100, 3)
    z[5, 1] = np.nan
    y[7] = 9
    assert "margin" in _error(lambda: FocalLoss(2.0).grad_hess(z, y))[1]


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 600),
    k=st.sampled_from([2, 3, 10]),
    gamma=st.sampled_from([0.0, 0.5, 1.0, 2.0, 2.5, 3.7]),
    hessian=st.sampled_from(["bohning", "exact", "abs", "clip"]),
    label_dtype=st.sampled_from([np.float32, np.int64, np.int8, np.float64]),
    weighted=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_valid_input_gives_the_validate_first_result(n, k, gamma, hessian, label_dtype, weighted, seed):
    rng = np.random.default_rng(seed)
    z = (rng.normal(0, 5, n) if k == 2 else rng.normal(0, 5, (n, k))).astype(np.float32)
    y = rng.integers(0, k, n).astype(label_dtype)
    w = rng.random(n) * 3 if weighted else None
    fl = FocalLoss(gamma, hessian=hessian)
    g, h = fl.grad_hess(z, y, w)
    g0, h0 = fl._grad_hess_checked(*fl._prepare(z, y, w))
    np.testing.assert_array_equal(g, g0)
    np.testing.assert_array_equal(h, h0)


def test_adapters_defer_the_margin_check():
    xgb = pytest.importorskip("xgboost")
    lgb = pytest.importorskip("lightgbm")
    x = np.random.default_rng(0).normal(size=(20, 2))
    y = np.arange(20) % 2
    fl = FocalLoss(2.0)
    bad = np.zeros(20, dtype=np.float32)
    bad[3] = np.nan
    with pytest.raises(ValueError, match=r"predt contains NaN or infinite"):
        fl(bad, xgb.DMatrix(x, label=y))
    with pytest.raises(ValueError, match=r"preds contains NaN or infinite"):
        fl(bad.astype(np.float64), lgb.Dataset(x, y).construct())
    with pytest.raises(ValueError, match=r"y_pred \(the second argument\) contains NaN"):
        fl(y, bad)
    with pytest.raises(ValueError, match=r"y_pred \(the second argument\) contains NaN"):
        fl(y, bad.astype(np.float64))  # float64 outputs: the reference kernel, checked first


def test_estimator_objective_names_divergence():
    from boost_focal.estimators._base import make_objective

    fl = FocalLoss(2.0)
    objective = make_objective(fl, np.array([0, 1, 1]), np.empty(0), fl.class_alpha(2))
    objective(np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match=r"diverged.*learning_rate"):
        objective(np.array([0.0, np.inf, 1.0], dtype=np.float32))


def test_estimator_objective_through_the_reference_kernels(monkeypatch):
    """With FAST_FLOAT32 off the reference kernels run, which check nothing: the objective's
    deferred check then runs first, and must pass finite margins and stop non-finite ones."""
    from boost_focal import focal
    from boost_focal.estimators._base import make_objective

    monkeypatch.setattr(focal, "FAST_FLOAT32", False)
    fl = FocalLoss(2.0)
    objective = make_objective(fl, np.array([0, 1, 1]), np.empty(0), fl.class_alpha(2))
    grad, _ = objective(np.array([0.5, -1.0, 2.0], dtype=np.float32))
    assert np.all(np.isfinite(grad))
    with pytest.raises(ValueError, match=r"diverged"):
        objective(np.array([0.0, np.nan, 1.0], dtype=np.float32))
