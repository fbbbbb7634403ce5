"""``FocalMetric``: the focal loss as an evaluation metric for every XGBoost/LightGBM API.

The value is the (weighted) mean focal loss of raw margins,

    M = sum_i w_i FL(z_i, y_i) / sum_i w_i        (w_i = 1 when unweighted),

lower is better. One instance serves four callers, told apart by how they call it:

=====================================  ==========================================  ====================
caller                                 call                                        returns
=====================================  ==========================================  ====================
``xgb.train(custom_metric=m)``         ``m(predt, dmatrix)``                       ``(name, M)``
``lgb.train(feval=m)``                 ``m(preds, dataset)``                       ``(name, M, False)``
``XGBClassifier(eval_metric=m)``       ``m(y_true, y_score[, sample_weight=w])``   ``M`` (a float)
``LGBMClassifier.fit(eval_metric=m)``  ``m(y_true, y_pred, weight_or_None)``       ``(name, M, False)``
=====================================  ==========================================  ====================

The two scikit-learn callers differ only in how the weight arrives: LightGBM counts the
callable's parameters and, seeing three, always passes a third *positional* argument (None when
unweighted); XGBoost passes ``sample_weight`` by *keyword* or not at all. The instance therefore
advertises the signature ``(y_true, y_pred, sample_weight=None)`` (through ``__signature__``)
while accepting ``*args, **kwargs``. XGBClassifier names the metric after ``__name__``.

The margins must be raw: that is what XGBoost and LightGBM pass when the objective is a custom
callable (a ``FocalLoss``). With a built-in objective they pass probabilities instead.
"""

import inspect

import numpy as np

from . import _frameworks as fw
from ._validation import check_margin


class _InstanceSignature:
    """``__signature__`` for instances only: the class keeps its constructor's signature."""

    def __init__(self, sig):
        self.sig = sig

    def __get__(self, obj, owner=None):
        return None if obj is None else self.sig


_P = inspect.Parameter
_CALL_SIGNATURE = inspect.Signature(
    [
        _P("y_true", _P.POSITIONAL_OR_KEYWORD),
        _P("y_pred", _P.POSITIONAL_OR_KEYWORD),
        _P("sample_weight", _P.POSITIONAL_OR_KEYWORD, default=None),
    ]
)


class FocalMetric:
    """Weighted mean focal loss of raw margins, usable by both libraries (see module doc).

    Parameters
    ----------
    loss : FocalLoss
        Supplies gamma and alpha (the Hessian mode plays no role). alpha="balanced" is refused:
        it would be recomputed from each evaluated set's labels, so values on different sets
        would not be comparable; pass ``loss.resolve_alpha(y_train)`` instead.
    name : str
        Name reported to the libraries (and ``__name__``, which XGBClassifier uses).
    weighted : bool
        Use the evaluated set's sample weights when it has them.

    Use ``maximize=False`` wherever a library asks (it is always the third element here).
    """

    __signature__ = _InstanceSignature(_CALL_SIGNATURE)
    higher_is_better = False

    def __init__(self, loss, name="focal", weighted=True):
        if not getattr(type(loss), "_is_focal_loss", False):  # FocalLoss, without importing it
            raise TypeError(f"loss must be a boost_focal.FocalLoss, got {type(loss).__name__}")
        if isinstance(loss.alpha, str):
            raise ValueError(
                "FocalMetric needs fixed class weights, but alpha='balanced' would be recomputed from each "
                "evaluated set; build it from loss.resolve_alpha(y_train)"
            )
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty string, got {name!r}")
        self.loss = loss
        self.name = name
        self.weighted = bool(weighted)

    def __repr__(self):
        return f"FocalMetric({self.loss!r}, name={self.name!r}, weighted={self.weighted!r})"

    @property
    def __name__(self):
        return self.name

    # ------------------------------------------------------------------ value
    def value(self, margin, y, sample_weight=None):
        """M for raw ``margin`` (n,) or (n, K), labels ``y`` and optional weights."""
        z = check_margin(margin)
        k = 2 if z.ndim == 1 else z.shape[1]
        entry = fw.prepare_arrays(y, sample_weight if self.weighted else None, z.shape[0], k)
        return self._mean(z, entry)

    def _mean(self, z, entry):
        w = entry.w if self.weighted else np.empty(0)
        per_row = self.loss._loss_checked(z, entry.y, w, entry.alpha_for(self.loss))
        # Accumulate in float64 whatever the margin dtype: a float32 sum of 1e6 rows loses
        # about 3 digits, enough to stall early stopping on a flat stretch.
        total = float(np.sum(per_row, dtype=np.float64))
        return total / float(w.sum()) if w.size else total / z.shape[0]

    # ------------------------------------------------------------------ library entry point
    def __call__(self, *args, **kwargs):
        if len(args) == 2 and not kwargs and fw.is_xgb_dmatrix(args[1]):
            return self.name, self._from_dmatrix(args[0], args[1])
        if len(args) == 2 and not kwargs and fw.is_lgb_dataset(args[1]):
            z = check_margin(args[0], name="preds")
            entry = fw.prepare_lgb(args[1], z.shape[0], 2 if z.ndim == 1 else z.shape[1])
            return self.name, self._mean(z, entry), False
        if len(args) == 3 and not kwargs:  # LGBMClassifier: weight is always the 3rd positional
            return self.name, self._from_arrays(*args), False
        if len(args) == 2 and set(kwargs) <= {"sample_weight"}:  # XGBClassifier (or a user)
            return self._from_arrays(args[0], args[1], kwargs.get("sample_weight"))
        raise TypeError(
            "FocalMetric is called as m(predt, DMatrix), m(preds, lightgbm.Dataset), "
            "m(y_true, y_pred, sample_weight=None) or m(y_true, y_pred, weight); "
            f"got {len(args)} positional and keyword arguments {sorted(kwargs)}"
        )

    def _from_dmatrix(self, predt, dmatrix):
        z = check_margin(predt, name="predt")
        entry = fw.prepare_xgb(dmatrix, z.shape[0], 2 if z.ndim == 1 else z.shape[1], fw.booster_in_stack())
        return self._mean(z, entry)

    def _from_arrays(self, y_true, y_pred, sample_weight):
        z = check_margin(y_pred, name="y_pred (the second argument)")
        k = 2 if z.ndim == 1 else z.shape[1]
        dataset = fw.dataset_in_stack(y_true)
        booster = fw.booster_in_stack() if dataset is not None and fw.is_xgb_dmatrix(dataset) else None
        entry = fw.prepare_arrays(y_true, sample_weight, z.shape[0], k, dataset, booster)
        return self._mean(z, entry)


__all__ = ["FocalMetric"]
