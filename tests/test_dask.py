"""Distributed training on Dask: global statistics, the per-worker guard, and agreement with
single-machine training on a 2-process LocalCluster.

Data design. Features take 16 integer levels, each present in every partition, so both
libraries build exactly the single-machine histogram bins on the cluster (XGBoost merges the
workers' quantile sketches; LightGBM's data-parallel learner takes each feature's bins from one
worker's rows): the distributed model may then differ from the single-machine one only by the
order of floating-point sums. Rows are ordered by label (with noise), so the four partitions
have very different class mixes (two hold no positive at all): any statistic computed from one
partition instead of all of them is far off (checked in ``test_partition_statistics_are_far_off``).

Tolerance. Probabilities must agree within ``TOL = 1e-6`` (max abs difference). Measured on
xgboost 3.2 / lightgbm 4.7: XGBoost <= 1.1e-7, LightGBM <= 4.6e-8. LightGBM is compared with
``min_child_samples=0`` (leaf size held by ``min_child_weight=1``): its data-parallel learner
checks min_data_in_leaf on different row counts than a single machine does, and with the default
20 the trees part after about 10 rounds (max probability difference 0.27 on this data;
documented in docs/dask.md).
"""

import contextlib
import pickle

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")
import lightgbm.dask  # noqa: E402,F401  (explicit: the submodules are not imported by their packages)
import xgboost.dask  # noqa: E402,F401

from boost_focal import FocalLGBMClassifier, FocalLoss, FocalXGBClassifier  # noqa: E402
from boost_focal import dask as bfd  # noqa: E402
from boost_focal.estimators._base import make_objective  # noqa: E402
from boost_focal.focal import balanced_alpha  # noqa: E402

# lightgbm.dask warns that it ignores n_jobs (it sets threads per worker): expected here.
pytestmark = pytest.mark.filterwarnings("ignore:Parameter n_jobs will be ignored:UserWarning")

TOL = 1e-6
# The multiclass starting score is found by L-BFGS-B on the float64 loss, whose line search stalls
# near the optimum at about 1e-8 (loss differences drown in rounding): totals that differ in the
# last bit (summed per partition vs. per row) move it by up to ~5e-9. Binary uses a root finder.
START_ATOL = 1e-7
N, CHUNK = 2000, 500
XGB_PARAMS = dict(max_depth=3, tree_method="hist", n_jobs=1)
LGB_PARAMS = dict(num_leaves=8, min_child_samples=0, min_child_weight=1.0, n_jobs=1)


def make_data(n_classes=2, seed=0, shuffled=False):
    """Integer-level features, labels sorted into skewed partitions, weights in [0.5, 2].

    ``shuffled``: rows in random order instead (every partition holds every class), for the
    libraries' own Dask classifiers, which need that (see docs/dask.md).
    """
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 16, size=(N, 4)).astype(np.float64)
    score = X[:, 0] + 0.5 * X[:, 1] + rng.normal(0, 3, N)
    cuts = [0.8] if n_classes == 2 else np.linspace(0, 1, n_classes + 1)[1:-1]
    y = np.digitize(score, np.quantile(score, cuts))
    order = rng.permutation(N) if shuffled else np.argsort(y + rng.uniform(0, 1.5, N))
    X, y = X[order], y[order]
    # Sorting by label also sorts the informative features: give every partition 4 rows of
    # each level of each feature, so that every worker sees every level (same bins everywhere).
    levels = np.arange(64) % 16
    for start in range(0, N, CHUNK):
        X[start:start + 64] = levels[:, None]
    w = rng.uniform(0.5, 2.0, N)
    return X, y, w


def to_dask(*arrays):
    return [da.from_array(a, chunks=(CHUNK,) + a.shape[1:]) for a in arrays]


def partition(a, i=0):
    return a[i * CHUNK:(i + 1) * CHUNK]


def _warm_kernel_cache():
    """Compile (or load) every kernel variant the workers will call, in this process first.

    Numba's on-disk cache (cache=True) is shared by processes: compiled here once, each worker
    loads it in about a second instead of compiling the same kernels itself (minutes on a
    cold cache with both workers compiling at once on 2 cores).
    """
    rng = np.random.default_rng(0)
    for k in (2, 3):
        loss = FocalLoss(2.0, [0.5] * k)
        y = np.arange(20) % k
        for dtype in (np.float32, np.float64):  # XGBoost margins are float32, LightGBM's float64
            z = rng.normal(size=(20,) if k == 2 else (20, k)).astype(dtype)
            make_objective(loss, y, np.empty(0), loss.class_alpha(k))(z)
            make_objective(loss, y, np.ones(20), loss.class_alpha(k))(z)
            loss.posterior(z.astype(np.float64))
        loss.init_score(y, np.ones(20))


@pytest.fixture(scope="module")
def client():
    """ONE 2-process cluster for the whole module (starting one takes 15-40 s)."""
    _warm_kernel_cache()
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as c:
        yield c


# ---------------------------------------------------------------------------- statistics (no cluster)
def test_data_design_is_skewed():
    X, y, _ = make_data()
    shares = [partition(y, i).mean() for i in range(N // CHUNK)]
    assert shares[0] == 0 and shares[1] == 0 and shares[-1] > 0.5
    for k in (2, 3):
        X = make_data(k)[0]
        for i in range(N // CHUNK):
            assert all(np.bincount(partition(X, i)[:, j].astype(int), minlength=16).min() >= 4 for j in range(4))


def test_class_summary_matches_numpy_over_all_partitions():
    _, y, w = make_data(3)
    labels = np.array(["lo", "mid", "hi"])[y]
    w[::7] = 0.0
    s = bfd.class_summary(*to_dask(labels, w))
    classes, codes = np.unique(labels, return_inverse=True)
    assert s.classes.tolist() == classes.tolist()
    np.testing.assert_array_equal(s.counts, np.bincount(codes))
    np.testing.assert_array_equal(s.positive, np.bincount(codes, weights=w > 0))
    np.testing.assert_allclose(s.totals, np.bincount(codes, weights=w), rtol=1e-13)
    # unweighted, uneven chunks, and a Dask Series give the same counts
    s2 = bfd.class_summary(da.from_array(labels, chunks=(300, 1200, 500)))
    np.testing.assert_array_equal(s2.totals, np.bincount(codes))
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    s3 = bfd.class_summary(dd.from_pandas(pd.Series(labels), npartitions=4))
    np.testing.assert_array_equal(s3.counts, np.bincount(codes))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_resolve_equals_whole_data_statistics(n_classes):
    _, y, w = make_data(n_classes)
    loss = FocalLoss(gamma=2.0, alpha="balanced")
    resolved, start = bfd.resolve(loss, *to_dask(y, w))
    expected = loss.resolve_alpha(y)
    np.testing.assert_allclose(resolved.class_alpha(n_classes), expected.class_alpha(n_classes), rtol=1e-14)
    np.testing.assert_allclose(start, expected.init_score(y, w), rtol=1e-9, atol=START_ATOL if n_classes > 2 else 0)
    # a fixed alpha is kept; the start still uses all (weighted) labels
    fixed, start2 = bfd.resolve(FocalLoss(1.0, [0.3] * n_classes if n_classes > 2 else 0.3), *to_dask(y, w))
    assert fixed == FocalLoss(1.0, [0.3] * n_classes if n_classes > 2 else 0.3)
    np.testing.assert_allclose(start2, fixed.init_score(y, w), rtol=1e-9, atol=START_ATOL if n_classes > 2 else 0)


def test_partition_statistics_are_far_off():
    """What a per-worker computation would give differs grossly from the global statistics,
    so the equality checks above and the model comparisons below can fail."""
    _, y, w = make_data()
    loss = FocalLoss(alpha="balanced")
    global_alpha = loss.resolve_alpha(y).class_alpha(2)
    last = N // CHUNK - 1
    local_alpha = loss.resolve_alpha(partition(y, last), n_classes=2).class_alpha(2)
    assert abs(local_alpha[1] - global_alpha[1]) > 0.2
    fixed = loss.resolve_alpha(y)
    assert abs(fixed.init_score(partition(y, last), partition(w, last)) - fixed.init_score(y, w)) > 0.5
    # and the single-machine model trained with worker-local statistics is far from the right one
    X = make_data()[0]
    right = FocalXGBClassifier(alpha="balanced", n_estimators=20, **XGB_PARAMS).fit(X, y, w)
    wrong = FocalXGBClassifier(alpha=local_alpha.tolist(), n_estimators=20, **XGB_PARAMS).fit(X, y, w)
    assert np.abs(right.predict_proba(X) - wrong.predict_proba(X)).max() > 1000 * TOL


def test_balanced_alpha_from_counts_matches_labels():
    y = np.array([0, 0, 0, 1, 3, 3])  # class 2 absent: gets the rarest present class's weight
    np.testing.assert_allclose(bfd.balanced_alpha_from_counts(np.bincount(y, minlength=4)), balanced_alpha(y, 4))
    with pytest.raises(ValueError, match="two classes"):
        bfd.balanced_alpha_from_counts([5, 0])


def test_resolve_rejects_bad_labels():
    with pytest.raises(ValueError, match="integer class labels"):
        bfd.resolve(FocalLoss(), da.from_array(np.array(["a", "b"] * 10), chunks=5))
    with pytest.raises(ValueError, match="n_classes=2"):
        bfd.resolve(FocalLoss(), da.from_array(np.arange(3).repeat(4), chunks=5), n_classes=2)
    with pytest.raises(ValueError, match="infinite"):
        bfd.resolve(FocalLoss(), da.from_array(np.ones(10, dtype=int), chunks=5), n_classes=2)


def test_guard_refuses_balanced_alpha_inside_dask_training():
    """A caller frame from xgboost.dask (simulated) makes alpha='balanced' an error."""
    X, y, _ = make_data()
    dtrain = xgb.DMatrix(X, label=y)
    z = np.zeros(N, dtype=np.float32)
    namespace = {"__name__": "xgboost.dask"}
    exec("def run(obj, z, d):\n    return obj(z, d)\n", namespace)
    with pytest.raises(ValueError, match="resolve"):
        namespace["run"](FocalLoss(alpha="balanced"), z, dtrain)
    grad, _ = namespace["run"](FocalLoss(alpha="balanced").resolve_alpha(y), z, dtrain)  # resolved: fine
    grad_direct, _ = FocalLoss(alpha="balanced")(z, dtrain)  # outside Dask: whole data, fine
    np.testing.assert_array_equal(grad, grad_direct)


def test_worker_objects_pickle_by_reference():
    """Plain pickle works, so a worker needs only the installed package (no code by value)."""
    loss = FocalLoss(2.0, [0.2, 0.8])
    objective = bfd._PartitionObjective(loss, loss.class_alpha(2))
    for obj in (loss, objective):
        assert b"boost_focal" in pickle.dumps(obj)
    X, y, w = make_data()
    d = xgb.DMatrix(X, label=y, weight=w)
    z = np.linspace(-3, 3, N, dtype=np.float32)
    for a, b in zip(pickle.loads(pickle.dumps(objective))(z, d), objective(z, d)):
        np.testing.assert_array_equal(a, b)


def test_estimator_fit_input_errors():
    X, y, w = make_data()
    with pytest.raises(TypeError, match="Dask array"):
        bfd.FocalDaskXGBClassifier().fit(X, da.from_array(y), client=object())
    with pytest.raises(ValueError, match="early_stopping_rounds"):
        bfd.FocalDaskLGBMClassifier(early_stopping_rounds=5).fit(*to_dask(X, y), client=object())
    with pytest.raises(ValueError, match="rows"):
        bfd.FocalDaskXGBClassifier().fit(*to_dask(X, y[:-10]), client=object())


# ---------------------------------------------------------------------------- on the cluster
CASES = {
    "xgb-binary": (bfd.FocalDaskXGBClassifier, FocalXGBClassifier, XGB_PARAMS, 2),
    "xgb-multiclass": (bfd.FocalDaskXGBClassifier, FocalXGBClassifier, XGB_PARAMS, 3),
    "lgb-binary": (bfd.FocalDaskLGBMClassifier, FocalLGBMClassifier, LGB_PARAMS, 2),
    "lgb-multiclass": (bfd.FocalDaskLGBMClassifier, FocalLGBMClassifier, LGB_PARAMS, 3),
}


@pytest.mark.parametrize("case", list(CASES))
def test_estimator_matches_single_machine(client, case, tmp_path):
    """Distributed fit == single-machine fit (alpha='balanced', weights, skewed partitions).

    Binary cases also carry zero weights (dropped in both); multiclass cases use string labels
    and Dask DataFrame input; LightGBM cases add class_weight="balanced" (global counts too).
    """
    dask_cls, local_cls, params, k = CASES[case]
    X, y, w = make_data(k)
    if k == 2:
        w[::11] = 0.0
        labels = y
    else:
        labels = np.array(["ant", "bee", "cat"])[y]
    params = dict(params, gamma=2.0, alpha="balanced", n_estimators=25, learning_rate=0.3, random_state=0)
    if dask_cls is bfd.FocalDaskLGBMClassifier:
        params["class_weight"] = "balanced"
    dX, dy, dw = to_dask(X, labels, w)
    if k > 2:
        dd = pytest.importorskip("dask.dataframe")
        pd = pytest.importorskip("pandas")
        frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
        dX = dd.from_pandas(frame, npartitions=N // CHUNK, sort=False)
        dy = dd.from_pandas(pd.Series(labels), npartitions=N // CHUNK, sort=False)
        dw = dd.from_pandas(pd.Series(w), npartitions=N // CHUNK, sort=False)
        X = frame
    twice = "class_weight" in params  # alpha="balanced" with class_weight: both estimators warn
    with pytest.warns(UserWarning, match="re-weighted twice") if twice else contextlib.nullcontext():
        local = local_cls(**params).fit(X, labels, w)  # first: compiles/loads kernels before the workers
    with pytest.warns(UserWarning, match="re-weighted twice") if twice else contextlib.nullcontext():
        model = dask_cls(**params).fit(dX, dy, dw, client=client)

    assert model.classes_.tolist() == local.classes_.tolist()
    np.testing.assert_allclose(model.alpha_, local.alpha_, rtol=1e-14)
    np.testing.assert_allclose(model.init_score_, local.init_score_, rtol=1e-9, atol=START_ATOL if k > 2 else 0)
    proba = model.predict_proba(dX)
    assert isinstance(proba, da.Array)
    proba = proba.compute()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert np.abs(proba - local.predict_proba(X)).max() <= TOL
    np.testing.assert_array_equal(model.predict(dX).compute(), model.to_local().predict(X))
    # posterior, not sigmoid/softmax of the margin (gamma = 2 makes them differ)
    raw = model.decision_function(dX).compute()
    link = np.column_stack([1 - 1 / (1 + np.exp(raw)), 1 / (1 + np.exp(raw))]) if k == 2 else None
    if link is not None:
        assert np.abs(proba - link).max() > 0.01
    # save_model / load_model: into the single-machine estimator and the Dask one (issue 15)
    path = tmp_path / ("model.txt" if local_cls is FocalLGBMClassifier else "model.ubj")
    model.save_model(path)
    np.testing.assert_array_equal(local_cls().load_model(path).predict_proba(X), model.to_local().predict_proba(X))
    np.testing.assert_array_equal(dask_cls().load_model(path).predict_proba(dX).compute(), proba)


def test_xgboost_dask_train_with_resolved_loss(client):
    """xgboost.dask.train(obj=FocalLoss) == xgb.train(obj=FocalLoss) on the same data (binary)."""
    X, y, w = make_data()
    dX, dy, dw = to_dask(X, y, w)
    loss, start = bfd.resolve(FocalLoss(2.0, alpha="balanced"), dy, dw)
    params = {"objective": "binary:logistic", "base_score": bfd.xgb_base_score(start), "max_depth": 3,
              "eta": 0.3, "tree_method": "hist", "disable_default_eval_metric": 1}
    single = xgb.train({**params, "nthread": 1}, xgb.DMatrix(X, y, weight=w), 25, obj=loss)
    out = xgboost.dask.train(client, params, xgboost.dask.DaskDMatrix(client, dX, dy, weight=dw), 25, obj=loss,
                             verbose_eval=False)
    margin = xgboost.dask.predict(client, out, dX, output_margin=True)
    p_dask = bfd.posterior(loss, margin).compute()
    p_single = loss.posterior(single.predict(xgb.DMatrix(X), output_margin=True).astype(np.float64))
    assert np.abs(p_dask - p_single).max() <= TOL


def test_dask_xgb_classifier_with_focal_objective(client):
    """DaskXGBClassifier(objective=FocalLoss) (multiclass, weights) == XGBClassifier."""
    X, y, w = make_data(3, shuffled=True)
    dX, dy, dw = to_dask(X, y, w)
    loss, _ = bfd.resolve(FocalLoss(2.0, alpha="balanced"), dy, dw)
    kw = dict(objective=loss, n_estimators=25, learning_rate=0.3, max_depth=3, tree_method="hist")
    single = xgb.XGBClassifier(**kw, n_jobs=1).fit(X, y, sample_weight=w)
    model = xgboost.dask.DaskXGBClassifier(**kw)
    model.client = client
    model.fit(dX, dy, sample_weight=dw)
    m_dask = model.predict(dX, output_margin=True).compute()
    m_single = single.predict(X, output_margin=True)
    np.testing.assert_allclose(m_dask, m_single, atol=1e-5)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_dask_lgbm_classifier_with_focal_objective(client, n_classes):
    """DaskLGBMClassifier(objective=FocalLoss) with the global start as init_score == LGBMClassifier."""
    X, y, w = make_data(n_classes, shuffled=True)
    dX, dy, dw = to_dask(X, y, w)
    loss, start = bfd.resolve(FocalLoss(2.0, alpha="balanced"), dy, dw)
    kw = dict(objective=loss, n_estimators=25, learning_rate=0.3, verbose=-1, **LGB_PARAMS)
    single = lgb.LGBMClassifier(**kw).fit(X, y, sample_weight=w, init_score=np.tile(start, (N, 1)).squeeze())
    model = lightgbm.dask.DaskLGBMClassifier(client=client, **kw)
    model.fit(dX, dy, sample_weight=dw, init_score=bfd.lgb_init_score(start, dy))
    p_dask = bfd.posterior(loss, model.predict_proba(dX, raw_score=True), start).compute()
    p_single = loss.posterior(single.predict_proba(X, raw_score=True) + start)
    assert np.abs(p_dask - p_single).max() <= TOL


def test_guard_on_the_cluster(client):
    """An unresolved alpha='balanced' fails loudly on the workers, with the fix in the message."""
    X, y, w = make_data(shuffled=True)
    dX, dy, dw = to_dask(X, y, w)
    with pytest.raises(ValueError, match="resolve"):
        xgboost.dask.train(client, {"objective": "binary:logistic"}, xgboost.dask.DaskDMatrix(client, dX, dy), 2,
                           obj=FocalLoss(alpha="balanced"), verbose_eval=False)
    with pytest.raises(ValueError, match="resolve"):
        lightgbm.dask.DaskLGBMClassifier(client=client, objective=FocalLoss(alpha="balanced"), n_estimators=2,
                                         verbose=-1).fit(dX, dy)
