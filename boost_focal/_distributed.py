"""The guard that keeps an unresolved alpha="balanced" out of Dask training.

Below :mod:`boost_focal._frameworks` (which calls it) and :mod:`boost_focal.dask` (which
re-exports it), so neither imports the other."""

import sys

RESOLVE_HINT = (
    "Resolve it once over all partitions first: `loss, start = boost_focal.dask.resolve(loss, y, "
    "sample_weight)` (y a Dask array or Series), or `loss.resolve_alpha(y)` when the labels fit in "
    "memory, or use FocalDaskXGBClassifier / FocalDaskLGBMClassifier, which do it for you"
)


def check_not_distributed(loss):
    """Raise when an unresolved alpha="balanced" is about to be computed inside Dask training.

    Called by :func:`boost_focal._frameworks.objective_call` for alpha="balanced" whenever
    ``xgboost.dask`` or ``lightgbm.dask`` has been imported. Inside their training tasks the
    objective sees one worker's partition, so class frequencies computed there are per-worker
    (each worker would train on different alphas). Detection: a caller frame belongs to the
    ``xgboost.dask`` or ``lightgbm.dask`` module (checked on xgboost 3.2, lightgbm 4.7).
    """
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith(("xgboost.dask", "lightgbm.dask")):
            raise ValueError(
                f"{loss!r} is being used inside {module.split('.')[0]} Dask training, where each worker "
                f"sees only its own partition: alpha='balanced' would be computed per worker. {RESOLVE_HINT}"
            )
        frame = frame.f_back
