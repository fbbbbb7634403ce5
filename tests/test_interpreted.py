"""The interpreted scalar math (boost_focal._interpreted) gives the compiled reference kernels'
values bit for bit, and the starting score and loss scale use it instead of compiling kernels."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boost_focal import FocalLoss, _cpu, _interpreted
from boost_focal._scalar import MODE_CODES
from boost_focal.estimators import _scale
from boost_focal.focal import constant_margin_terms

HYP = settings(max_examples=60, deadline=None, derandomize=True, database=None,
               suppress_health_check=[HealthCheck.too_slow])

margin_st = st.floats(-1e4, 1e4) | st.sampled_from([0.0, -1e4, 1e4, 35.0, -745.0, 1e-300])
gamma_st = st.floats(0.0, 20.0) | st.sampled_from([0.0, 0.5, 1.0, 2.0, 2.5, 20.0, 50.0])
mode_st = st.sampled_from(sorted(MODE_CODES.values()))


@HYP
@given(data=st.data(), gamma=gamma_st, mode=mode_st)
def test_softmax_rows_match_the_reference_kernels(data, gamma, mode):
    k = data.draw(st.integers(2, 6))
    n = data.draw(st.integers(1, 6))
    z = np.array(data.draw(st.lists(margin_st, min_size=n * k, max_size=n * k))).reshape(n, k)
    y = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)), dtype=np.float32)
    w = np.array(data.draw(st.lists(st.floats(0.0, 5.0), min_size=n, max_size=n)))
    alpha = np.array(data.draw(st.lists(st.floats(0.01, 1.0), min_size=k, max_size=k)))
    bohning = (1.0 - 1.0 / k) / 2.0
    loss, grad, hess = _interpreted.softmax_rows(z, y, w, gamma, alpha, mode, bohning)
    ref_loss, ref_grad, ref_hess = np.empty(n), np.empty((n, k)), np.empty((n, k))
    _cpu.softmax_loss(z, y, w, gamma, alpha, ref_loss)
    _cpu.softmax_grad_hess(z, y, w, gamma, alpha, mode, bohning, ref_grad, ref_hess)
    np.testing.assert_array_equal(loss, ref_loss)
    np.testing.assert_array_equal(grad, ref_grad)
    np.testing.assert_array_equal(hess, ref_hess)


@HYP
@given(data=st.data(), gamma=gamma_st, mode=mode_st)
def test_binary_rows_match_the_reference_kernels(data, gamma, mode):
    n = data.draw(st.integers(1, 8))
    z = np.array(data.draw(st.lists(margin_st, min_size=n, max_size=n)))
    y = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), dtype=np.float32)
    w = np.array(data.draw(st.lists(st.floats(0.0, 5.0), min_size=n, max_size=n)))
    a_pos, a_neg = data.draw(st.floats(0.01, 1.0)), data.draw(st.floats(0.01, 1.0))
    loss, grad, hess = _interpreted.binary_rows(z, y, w, gamma, a_pos, a_neg, mode)
    ref_loss, ref_grad, ref_hess = np.empty(n), np.empty(n), np.empty(n)
    _cpu.binary_loss(z, y, w, gamma, a_pos, a_neg, ref_loss)
    _cpu.binary_grad_hess(z, y, w, gamma, a_pos, a_neg, mode, ref_grad, ref_hess)
    np.testing.assert_array_equal(loss, ref_loss)
    np.testing.assert_array_equal(grad, ref_grad)
    np.testing.assert_array_equal(hess, ref_hess)


def _forbid_reference_kernels(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("a compiled reference kernel was called")

    for name in ("binary_loss", "binary_grad_hess", "softmax_loss", "softmax_grad_hess"):
        monkeypatch.setattr(_cpu, name, forbidden)


@pytest.mark.parametrize("k", [2, 5, _interpreted.MAX_CLASSES])
def test_fit_start_needs_no_reference_kernel(monkeypatch, k):
    """A fit without an eval set (starting score, loss scale, training, no-split probe,
    predict_proba) runs without the float64 reference kernels: nothing of theirs to compile."""
    from boost_focal import FocalXGBClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    y = rng.integers(0, k, 300)
    _forbid_reference_kernels(monkeypatch)
    model = FocalXGBClassifier(n_estimators=3, alpha="balanced").fit(x, y)
    assert model.loss_scale_ >= 1.0
    assert np.allclose(model.predict_proba(x).sum(axis=1), 1.0)


def test_many_classes_use_the_kernels(monkeypatch):
    k = _interpreted.MAX_CLASSES + 2
    rng = np.random.default_rng(1)
    y = rng.integers(0, k, 500)
    fl = FocalLoss(2.0, "balanced")
    expected = fl.init_score(y)

    def forbidden(*args, **kwargs):
        raise AssertionError("interpreted above MAX_CLASSES")

    monkeypatch.setattr(_interpreted, "softmax_rows", forbidden)
    np.testing.assert_array_equal(fl.init_score(y), expected)  # the same values either way


@pytest.mark.parametrize("k", [2, 4, _interpreted.MAX_CLASSES + 1])
def test_constant_margin_terms_are_the_training_sums(k):
    """The K weighted rows equal grad_hess/loss summed over a whole training set at that margin."""
    rng = np.random.default_rng(k)
    y = rng.integers(0, k, 400)
    w = rng.uniform(0.2, 3.0, 400)
    fl = FocalLoss(2.5, "balanced", "exact")
    start = fl.init_score(y, w, k)
    alpha = fl.class_alpha(k, y.astype(np.float32))
    totals = np.bincount(y, weights=w, minlength=k)
    loss, grad, hess = constant_margin_terms(fl, start, totals, alpha)
    margin = np.full(400, start) if k == 2 else np.tile(start, (400, 1))
    g, h = fl.grad_hess(margin, y, w)
    np.testing.assert_allclose(loss.sum(), fl.loss(margin, y, w).sum(), rtol=1e-12)
    np.testing.assert_allclose(grad.sum(axis=0), g.sum(axis=0), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(hess.sum(axis=0), h.sum(axis=0), rtol=1e-12)
    assert _scale.focal_start_hessian(fl, totals, alpha, start) == pytest.approx(h.sum() / w.sum(), rel=1e-12)


@pytest.mark.parametrize("k", [2, 3])
def test_an_arithmetic_error_in_the_interpreter_falls_back_to_the_kernels(monkeypatch, k):
    """Python's math raises (OverflowError, ZeroDivisionError) where compiled code gives inf or NaN;
    should a line search's trial margin ever get there, the kernels answer instead of the fit failing."""
    fl = FocalLoss(2.0)
    z = 0.3 if k == 2 else np.array([0.5, -0.2, 0.1])
    expected = constant_margin_terms(fl, z, np.full(k, 1.0 / k), np.ones(k))

    def overflow(*args, **kwargs):
        raise OverflowError("math range error")

    monkeypatch.setattr(_interpreted, "binary_rows" if k == 2 else "softmax_rows", overflow)
    for got, want in zip(constant_margin_terms(fl, z, np.full(k, 1.0 / k), np.ones(k)), expected):
        np.testing.assert_array_equal(got, want)
