"""Bad input gets a clear ValueError/TypeError naming the argument, before any Numba kernel runs.

Every case below is called through the public API (FocalLoss(...), .loss, .grad_hess,
.posterior, .init_score, .resolve_alpha) and must raise exactly the stated exception type (a
crash inside a kernel would surface as a different type, or as NaN output), with a message that
names the offending argument.
"""

import numpy as np
import pytest

from boost_focal import FocalLoss

Z = np.array([0.5, -1.0, 2.0])
Y = np.array([0, 1, 1])
ZM = np.zeros((3, 4))
YM = np.array([0, 3, 1])


def fl(**kw):
    return FocalLoss(**kw)


# (id, callable, exception, regex that must match the message)
CASES = [
    # gamma
    ("gamma negative", lambda: fl(gamma=-0.5), ValueError, r"gamma.*>= 0"),
    ("gamma NaN", lambda: fl(gamma=float("nan")), ValueError, r"gamma.*finite"),
    ("gamma inf", lambda: fl(gamma=float("inf")), ValueError, r"gamma.*finite"),
    ("gamma float32 NaN", lambda: fl(gamma=np.float32("nan")), ValueError, r"gamma"),
    ("gamma string", lambda: fl(gamma="2"), TypeError, r"gamma.*real number"),
    ("gamma None", lambda: fl(gamma=None), TypeError, r"gamma"),
    ("gamma bool", lambda: fl(gamma=True), TypeError, r"gamma"),
    ("gamma complex", lambda: fl(gamma=1j), TypeError, r"gamma"),
    ("gamma list", lambda: fl(gamma=[2.0]), TypeError, r"gamma"),
    # alpha
    ("alpha above 1", lambda: fl(alpha=1.5), ValueError, r"alpha.*\[0, 1\]"),
    ("alpha negative", lambda: fl(alpha=-0.1), ValueError, r"alpha.*\[0, 1\]"),
    ("alpha NaN", lambda: fl(alpha=float("nan")), ValueError, r"alpha.*\[0, 1\]"),
    ("alpha unknown string", lambda: fl(alpha="balance"), ValueError, r"alpha.*'balanced'"),
    ("alpha list NaN", lambda: fl(alpha=[0.2, float("nan")]), ValueError, r"alpha.*\[0, 1\]"),
    ("alpha list above 1", lambda: fl(alpha=[0.2, 1.2]), ValueError, r"alpha.*\[0, 1\]"),
    ("alpha list negative", lambda: fl(alpha=[0.2, -0.2, 0.5]), ValueError, r"alpha.*\[0, 1\]"),
    ("alpha one weight", lambda: fl(alpha=[0.2]), ValueError, r"alpha.*at least 2"),
    ("alpha 2-D", lambda: fl(alpha=[[0.2, 0.8]]), ValueError, r"alpha.*1-D"),
    ("alpha strings", lambda: fl(alpha=["a", "b"]), TypeError, r"alpha"),
    ("alpha dict", lambda: fl(alpha={0: 0.2}), TypeError, r"alpha"),
    ("alpha bool", lambda: fl(alpha=True), TypeError, r"alpha"),
    ("alpha length != K (binary)", lambda: fl(alpha=[0.2, 0.3, 0.5]).grad_hess(Z, Y), ValueError, r"alpha has 3.*2 classes"),
    ("alpha length != K (softmax)", lambda: fl(alpha=[0.2, 0.8]).grad_hess(ZM, YM), ValueError, r"alpha has 2.*4 classes"),
    ("alpha length != K (loss)", lambda: fl(alpha=[0.2, 0.8]).loss(ZM, YM), ValueError, r"alpha has 2"),
    ("alpha length != K (init)", lambda: fl(alpha=[0.2, 0.8]).init_score(YM), ValueError, r"alpha has 2"),
    ("float alpha, multiclass", lambda: fl(alpha=0.25).grad_hess(ZM, YM), ValueError, r"alpha.*binary.*4 per-class"),
    # hessian
    ("hessian unknown", lambda: fl(hessian="newton"), ValueError, r"hessian must be one of"),
    ("hessian None", lambda: fl(hessian=None), ValueError, r"hessian"),
    ("hessian case", lambda: fl(hessian="Exact"), ValueError, r"hessian"),
    # labels
    ("labels non-integral", lambda: fl().grad_hess(Z, np.array([0, 0.5, 1])), ValueError, r"\by\b.*integer"),
    ("labels NaN", lambda: fl().grad_hess(Z, np.array([0, np.nan, 1])), ValueError, r"\by\b.*NaN"),
    ("labels inf", lambda: fl().grad_hess(Z, np.array([0, np.inf, 1])), ValueError, r"\by\b.*infinite"),
    ("labels 2 with binary margin", lambda: fl().grad_hess(Z, np.array([0, 2, 1])), ValueError, r"\by\b.*0\.\.1"),
    ("labels negative", lambda: fl().grad_hess(Z, np.array([0, -1, 1])), ValueError, r"\by\b.*0\.\.1"),
    ("labels = K", lambda: fl().grad_hess(ZM, np.array([0, 4, 1])), ValueError, r"\by\b.*0\.\.3"),
    ("labels huge float", lambda: fl().grad_hess(Z, np.array([0, 1e20, 1])), ValueError, r"\by\b.*0\.\.1"),
    ("labels huge uint64", lambda: fl().grad_hess(Z, np.array([0, 2**63, 1], dtype=np.uint64)), ValueError, r"\by\b"),
    ("labels strings", lambda: fl().grad_hess(Z, np.array(["a", "b", "a"])), TypeError, r"\by\b.*LabelEncoder"),
    ("labels object", lambda: fl().grad_hess(Z, np.array([0, 1, None], dtype=object)), TypeError, r"\by\b"),
    ("labels complex", lambda: fl().grad_hess(Z, np.array([0, 1, 1j])), TypeError, r"\by\b"),
    ("labels 2-D", lambda: fl().grad_hess(Z, np.zeros((3, 2))), ValueError, r"\by\b.*1-D"),
    ("labels scalar", lambda: fl().grad_hess(Z, 1), ValueError, r"\by\b.*1-D"),
    ("labels too few", lambda: fl().grad_hess(Z, np.array([0, 1])), ValueError, r"\by\b has 2 labels.*3 rows"),
    ("labels too many", lambda: fl().loss(Z, np.array([0, 1, 1, 0])), ValueError, r"\by\b has 4 labels.*3 rows"),
    ("labels too few (softmax)", lambda: fl().grad_hess(ZM, np.array([0, 1])), ValueError, r"\by\b has 2 labels"),
    # sample weights
    ("weights negative", lambda: fl().grad_hess(Z, Y, [1.0, -1.0, 1.0]), ValueError, r"sample_weight.*>= 0"),
    ("weights NaN", lambda: fl().grad_hess(Z, Y, [1.0, np.nan, 1.0]), ValueError, r"sample_weight.*NaN"),
    ("weights inf", lambda: fl().loss(Z, Y, [1.0, np.inf, 1.0]), ValueError, r"sample_weight.*infinite"),
    ("weights too few", lambda: fl().grad_hess(Z, Y, [1.0, 1.0]), ValueError, r"sample_weight.*\(3,\)"),
    ("weights too many", lambda: fl().grad_hess(ZM, YM, np.ones(4)), ValueError, r"sample_weight.*\(3,\)"),
    ("weights 2-D", lambda: fl().grad_hess(Z, Y, np.ones((3, 2))), ValueError, r"sample_weight"),
    ("weights scalar", lambda: fl().grad_hess(Z, Y, 2.0), ValueError, r"sample_weight"),
    ("weights strings", lambda: fl().grad_hess(Z, Y, ["a", "b", "c"]), TypeError, r"sample_weight"),
    ("weights complex", lambda: fl().grad_hess(Z, Y, np.array([1, 1, 1j])), TypeError, r"sample_weight"),
    ("weights None entry", lambda: fl().grad_hess(Z, Y, [1.0, None, 1.0]), TypeError, r"sample_weight"),
    # empty input
    ("empty margin", lambda: fl().grad_hess(np.zeros(0), np.zeros(0, dtype=int)), ValueError, r"margin is empty"),
    ("empty softmax margin", lambda: fl().loss(np.zeros((0, 3)), np.zeros(0, dtype=int)), ValueError, r"margin is empty"),
    ("empty posterior", lambda: fl().posterior(np.zeros(0)), ValueError, r"margin is empty"),
    ("empty init_score", lambda: fl().init_score(np.zeros(0, dtype=int)), ValueError, r"\by\b is empty"),
    ("empty resolve_alpha", lambda: fl(alpha="balanced").resolve_alpha(np.zeros(0, dtype=int)), ValueError, r"\by\b is empty"),
    # margins
    ("margin NaN", lambda: fl().grad_hess(np.array([0.0, np.nan, 1.0]), Y), ValueError, r"margin.*NaN"),
    ("margin inf", lambda: fl().grad_hess(np.array([0.0, np.inf, 1.0]), Y), ValueError, r"margin.*infinite"),
    ("margin -inf softmax", lambda: fl().grad_hess(np.array([[0, -np.inf], [0, 1], [1, 1.0]]), Y), ValueError, r"margin"),
    ("margin NaN float32", lambda: fl().grad_hess(np.array([0.0, np.nan, 1.0], dtype=np.float32), Y), ValueError, r"margin"),
    ("margin NaN loss", lambda: fl().loss(np.array([0.0, np.nan, 1.0]), Y), ValueError, r"margin"),
    ("margin NaN posterior", lambda: fl().posterior(np.array([[0.0, np.nan], [1.0, 0.0]])), ValueError, r"margin"),
    ("margin strings", lambda: fl().grad_hess(np.array(["a", "b", "c"]), Y), TypeError, r"margin"),
    ("margin float16", lambda: fl().grad_hess(np.zeros(3, dtype=np.float16), Y), TypeError, r"margin.*float32 or float64"),
    ("margin complex", lambda: fl().grad_hess(np.zeros(3, dtype=complex), Y), TypeError, r"margin"),
    ("margin bool", lambda: fl().grad_hess(np.array([True, False, True]), Y), TypeError, r"margin"),
    ("margin object", lambda: fl().grad_hess(np.array([0.0, 1.0, None], dtype=object), Y), TypeError, r"margin"),
    ("margin 3-D", lambda: fl().grad_hess(np.zeros((3, 2, 2)), Y), ValueError, r"margin.*shape"),
    ("margin scalar", lambda: fl().grad_hess(0.0, Y), ValueError, r"margin.*shape"),
    ("margin K = 0", lambda: fl().grad_hess(np.zeros((3, 0)), Y), ValueError, r"margin.*K >= 2"),
    # alpha/labels that make a quantity undefined
    ("balanced, one class", lambda: fl(alpha="balanced").grad_hess(Z, np.zeros(3, dtype=int)), ValueError, r"balanced.*two classes"),
    ("resolve_alpha, one class", lambda: fl(alpha="balanced").resolve_alpha(np.ones(4, dtype=int)), ValueError, r"balanced"),
    ("resolve_alpha, NaN label", lambda: fl(alpha="balanced").resolve_alpha(np.array([0, 1, np.nan])), ValueError, r"\by\b.*NaN"),
    ("resolve_alpha, strings", lambda: fl(alpha="balanced").resolve_alpha(np.array(["a", "b"])), TypeError, r"\by\b"),
    ("resolve_alpha, n_classes 1", lambda: fl(alpha="balanced").resolve_alpha(Y, n_classes=1), ValueError, r"n_classes"),
    ("balanced posterior unresolved", lambda: fl(alpha="balanced").posterior(Z), ValueError, r"resolve_alpha"),
    ("posterior, alpha 0", lambda: fl(alpha=0.0).posterior(Z), ValueError, r"alpha = 0"),
    ("posterior, per-class alpha 0", lambda: fl(alpha=[0.5, 0.0, 0.5, 0.2]).posterior(ZM), ValueError, r"alpha = 0"),
    # init_score
    ("init_score one class", lambda: fl().init_score(np.zeros(5, dtype=int)), ValueError, r"init_score.*two classes"),
    ("init_score zero weight class", lambda: fl().init_score(np.array([0, 1]), [1.0, 0.0]), ValueError, r"init_score"),
    ("init_score alpha 0", lambda: fl(alpha=0.0).init_score(np.array([0, 1, 1])), ValueError, r"init_score.*alpha"),
    ("init_score NaN label", lambda: fl().init_score(np.array([0, 1, np.nan])), ValueError, r"\by\b.*NaN"),
    ("init_score non-integral", lambda: fl().init_score(np.array([0, 1, 0.5])), ValueError, r"\by\b.*integer"),
    ("init_score negative label", lambda: fl().init_score(np.array([0, 1, -1])), ValueError, r"\by\b"),
    ("init_score label >= n_classes", lambda: fl().init_score(np.array([0, 1, 2]), n_classes=2), ValueError, r"\by\b.*0\.\.1"),
    ("init_score n_classes 1", lambda: fl().init_score(np.array([0, 0]), n_classes=1), ValueError, r"n_classes.*>= 2"),
    ("init_score n_classes 2.5", lambda: fl().init_score(np.array([0, 1]), n_classes=2.5), TypeError, r"n_classes.*integer"),
    ("init_score n_classes str", lambda: fl().init_score(np.array([0, 1]), n_classes="2"), TypeError, r"n_classes"),
    ("init_score weights negative", lambda: fl().init_score(np.array([0, 1]), [1.0, -1.0]), ValueError, r"sample_weight"),
    ("init_score weights length", lambda: fl().init_score(np.array([0, 1]), [1.0, 1.0, 1.0]), ValueError, r"sample_weight"),
    ("init_score string labels", lambda: fl().init_score(np.array(["a", "b"])), TypeError, r"\by\b"),
    ("init_score 2-D labels", lambda: fl().init_score(np.zeros((2, 2))), ValueError, r"\by\b.*1-D"),
]


@pytest.mark.parametrize("call, exc, pattern", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_a_clear_error(call, exc, pattern):
    with pytest.raises(Exception) as info:
        call()
    # exactly the documented type: no Numba TypingError, no IndexError from inside a kernel
    assert type(info.value) is exc, f"{type(info.value).__name__}: {info.value}"
    assert info.match(pattern)


@pytest.mark.parametrize("mode", ["exact", "bohning", "abs", "clip"])
def test_constructor_validates_eagerly_and_stores_normalised_values(mode):
    f = FocalLoss(gamma=np.float32(2.0), alpha=np.array(0.25), hessian=mode)
    assert f.gamma == 2.0 and isinstance(f.gamma, float)
    assert f.alpha == 0.25 and isinstance(f.alpha, float)
    assert FocalLoss(gamma=np.array(1.5)).gamma == 1.5
    assert FocalLoss(gamma=3).gamma == 3.0
    np.testing.assert_array_equal(FocalLoss(alpha=(0.1, 0.9)).alpha, [0.1, 0.9])
    assert FocalLoss(alpha="balanced").alpha == "balanced"


# --------------------------------------------------------------- odd but valid input is handled
def test_equivalent_inputs_give_identical_results():
    """Lists, bool/float labels, (n, 1) columns, non-contiguous and Fortran-ordered margins,
    integer margins: all normalised before the kernel, with the same numbers as the plain case."""
    f = FocalLoss(2.0, 0.25, "exact")
    g, h = f.grad_hess(Z, Y)
    variants = [
        (Z.tolist(), Y.tolist()),
        (Z, Y.astype(bool)),
        (Z, Y.astype(np.float64)),
        (Z, Y.astype(np.uint8)),
        (Z[:, None], Y[:, None]),
        (np.repeat(Z, 2)[::2], Y),
    ]
    for z, y in variants:
        g2, h2 = f.grad_hess(z, y)
        np.testing.assert_array_equal(g2, g)
        np.testing.assert_array_equal(h2, h)
        np.testing.assert_array_equal(f.loss(z, y), f.loss(Z, Y))

    zm = np.random.default_rng(0).normal(size=(5, 4))
    ym = np.array([0, 3, 1, 2, 2])
    gm, hm = f.__class__(2.0, None, "exact").grad_hess(zm, ym)
    for z in (np.asfortranarray(zm), np.hstack([zm, zm])[:, :4], zm.tolist()):
        g2, h2 = FocalLoss(2.0, None, "exact").grad_hess(z, ym)
        np.testing.assert_array_equal(g2, gm)
        np.testing.assert_array_equal(h2, hm)

    gi, _ = f.grad_hess(np.array([0, -1, 2]), Y)  # integer margins become float64
    assert gi.dtype == np.float64
    np.testing.assert_array_equal(gi, f.grad_hess(np.array([0.0, -1.0, 2.0]), Y)[0])


def test_output_dtype_follows_margin_dtype():
    for dtype in (np.float32, np.float64):
        f = FocalLoss(2.0, None, "bohning")
        g, h = f.grad_hess(Z.astype(dtype), Y)
        assert g.dtype == h.dtype == f.loss(Z.astype(dtype), Y).dtype == dtype
        g, h = f.grad_hess(ZM.astype(dtype), YM)
        assert g.dtype == h.dtype == dtype and g.shape == ZM.shape


def test_validation_runs_before_any_output_is_written():
    """A bad row anywhere (here the last of many) is reported; no partial results come back."""
    z = np.zeros(10_000)
    z[-1] = np.nan
    with pytest.raises(ValueError, match="margin"):
        FocalLoss().grad_hess(z, np.zeros(10_000, dtype=int))
    y = np.zeros(10_000)
    y[-1] = 0.5
    with pytest.raises(ValueError, match="integer"):
        FocalLoss().grad_hess(np.zeros(10_000), y)


@pytest.mark.parametrize("labels", [[0, 1, 1], [False, True, True], [0.0, 1.0, 1.0]])
@pytest.mark.parametrize("dtype", [None, np.int8, np.int64, np.uint32, np.float32, np.float64])
def test_labels_reach_the_kernels_as_float32_whatever_their_dtype(labels, dtype):
    """One label dtype: each dtype would otherwise be a kernel variant compiled of its own."""
    from boost_focal._validation import check_labels

    y = np.asarray(labels) if dtype is None else np.asarray(labels).astype(dtype)
    out = check_labels(y, 3, 2)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    assert out.tolist() == [0.0, 1.0, 1.0]
    g_int, _ = FocalLoss(2.0).grad_hess(np.array([0.3, -1.0, 2.0]), y)
    g_ref, _ = FocalLoss(2.0).grad_hess(np.array([0.3, -1.0, 2.0]), np.array([0.0, 1.0, 1.0]))
    assert np.array_equal(g_int, g_ref)


def test_more_classes_than_float32_labels_hold_is_refused():
    from boost_focal._validation import LABEL_LIMIT, check_labels

    with pytest.raises(ValueError, match="at most 16777216 classes"):
        check_labels(np.array([0, 1]), 2, LABEL_LIMIT + 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [2, 5])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, -1.0, 0.5, 1.5, "k"])
def test_large_float_labels_get_the_same_errors_as_small_ones(monkeypatch, dtype, k, bad):
    """From FUSED_LABELS_FROM labels on, one compiled pass checks them; a bad label anywhere
    still gets the error the NumPy checks give (they run once the pass has found a problem)."""
    from boost_focal import _validation

    calls = []
    real = _validation._labels_in_range
    monkeypatch.setattr(_validation, "_labels_in_range", lambda *a: calls.append(1) or real(*a))
    n = _validation.FUSED_LABELS_FROM + 7
    y = (np.arange(n) % k).astype(dtype)
    z = np.zeros(n) if k == 2 else np.zeros((n, k))
    FocalLoss().grad_hess(z, y)  # good labels pass the compiled check
    assert calls == [1]
    bad = float(k) if bad == "k" else bad  # the first label out of range
    small = y[:50].copy()
    y[n - 3] = bad
    small[47] = bad
    with pytest.raises(ValueError) as small_error:
        FocalLoss().grad_hess(z[:50], small)
    with pytest.raises(ValueError) as large_error:
        FocalLoss().grad_hess(z, y)
    assert str(large_error.value) == str(small_error.value)
