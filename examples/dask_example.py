"""Focal-loss boosting on a Dask cluster, checked against single-machine training.

Runs on a local 2-worker cluster; for a real cluster replace LocalCluster by the scheduler's
address (``Client("tcp://scheduler:8786")``) and install boost-focal on every worker
(docs/dask.md). Usage: ``python examples/dask_example.py``.
"""

import numpy as np
from sklearn.datasets import make_classification
from sklearn.metrics import average_precision_score, log_loss


def main():
    import dask.array as da
    import xgboost.dask  # the Dask submodules are not imported by `import xgboost`
    from distributed import Client, LocalCluster

    from boost_focal import FocalLoss, FocalXGBClassifier
    from boost_focal import dask as bfd

    # Imbalanced data (5% positives), split into 4 row partitions.
    X, y = make_classification(8000, 10, n_informative=6, weights=[0.95], flip_y=0.01, random_state=0)
    w = np.where(y == 1, 2.0, 1.0)  # e.g. a business cost per row
    dX = da.from_array(X, chunks=(2000, -1))
    dy = da.from_array(y, chunks=2000)
    dw = da.from_array(w, chunks=2000)

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
        # 1. The estimator: alpha="balanced" and the starting score come from ALL partitions.
        params = dict(gamma=2.0, alpha="balanced", n_estimators=200, learning_rate=0.1, max_depth=4,
                      tree_method="hist", random_state=0)
        model = bfd.FocalDaskXGBClassifier(**params).fit(dX, dy, sample_weight=dw, client=client)
        proba = model.predict_proba(dX)[:, 1].compute()  # the recovered posterior, not a raw score
        print(f"FocalDaskXGBClassifier  alpha={model.alpha_.round(4).tolist()}  start={model.init_score_:.4f}")
        print(f"  PR-AUC {average_precision_score(y, proba):.4f}  log loss {log_loss(y, proba):.4f}")

        # Single-machine training on the same rows. The models are not bit-identical here: with
        # continuous features XGBoost's distributed quantile sketch gives slightly different bins
        # (docs/dask.md, "Agreement with single-machine training"); the quality is the same.
        local = FocalXGBClassifier(**params).fit(X, y, sample_weight=w).predict_proba(X)[:, 1]
        print("FocalXGBClassifier (one machine)")
        print(f"  PR-AUC {average_precision_score(y, local):.4f}  log loss {log_loss(y, local):.4f}")

        # 2. xgboost.dask's own API: resolve the loss once, then train with it as the objective.
        loss, start = bfd.resolve(FocalLoss(gamma=2.0, alpha="balanced"), dy, dw)
        booster = xgboost.dask.train(
            client,
            {"objective": "binary:logistic", "base_score": bfd.xgb_base_score(start), "max_depth": 4,
             "eta": 0.1, "tree_method": "hist", "disable_default_eval_metric": 1},
            xgboost.dask.DaskDMatrix(client, dX, dy, weight=dw),
            num_boost_round=200,
            obj=loss,
            verbose_eval=False,
        )
        margin = xgboost.dask.predict(client, booster, dX, output_margin=True)
        p2 = bfd.posterior(loss, margin).compute()
        print(f"xgboost.dask.train(obj={loss!r})")
        print(f"  PR-AUC {average_precision_score(y, p2):.4f}  log loss {log_loss(y, p2):.4f}")

        # Same statistics, same data, same settings: the two distributed routes agree, and the
        # distributed model is as good as the single-machine one.
        assert loss.class_alpha(2).tolist() == model.alpha_.tolist() and abs(start - model.init_score_) < 1e-12
        assert abs(average_precision_score(y, p2) - average_precision_score(y, proba)) < 0.005
        assert abs(average_precision_score(y, proba) - average_precision_score(y, local)) < 0.02
        # An unresolved FocalLoss(alpha="balanced") would be refused on the workers with a ValueError:
        # there each worker sees only its partition, so the class frequencies would differ per worker.


if __name__ == "__main__":  # required: the cluster's worker processes re-import this file
    main()
