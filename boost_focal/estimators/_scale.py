"""The loss scale: focal gradients and Hessians in the units of the libraries' regularisers.

The focal gradient and Hessian are smaller than logloss's by about alpha_t (1 - p_t)^gamma, so
``min_child_weight`` / ``min_sum_hessian_in_leaf``, ``reg_lambda`` and ``min_split_loss`` (all in
Hessian or loss units) act far more strongly on a focal model than the same numbers do on the
library's own logloss classifier: a 4-class "balanced" model whose majority alpha is 0.00035 can
have every leaf's Hessian sum below XGBoost's ``min_child_weight=1`` and grow no tree at all.

The estimators therefore train on ``c * FL`` with one constant ``c >= 1`` (``loss_scale_``): the
factor that makes the mean Hessian the library sees at the starting score equal to the mean
Hessian of the library's own logloss objective at *its* starting score (the class prior), and 1
where the focal Hessian is already the larger one. That happens with alpha=None: the focal
starting score sits nearer p = 1/2, where Hessians are larger, and scaling the loss down there
made the regularisers bite harder than Lin et al.'s loss does and cost calibration on nearly
separable tables (measured in docs/calibration.md). A constant factor changes neither the
minimiser, the starting score, the posterior, nor the Newton step -G/H of an unregularised leaf;
it only puts the regularisers back on the scale their defaults were tuned for.
``docs/math.md`` (section "Loss scale") has the formulas.
"""

import numbers

import numpy as np

from ..focal import constant_margin_terms


# XGBoost's L2 penalty on leaf values for FocalXGBClassifier's reg_lambda=None with
# loss_scale="auto": 1 + XGBOOST_REG_LAMBDA_SLOPE min(gamma, 2), i.e. XGBoost's own default of 1
# at gamma = 0 (where the loss is logloss) and 5 from gamma = 2 on. The scale above matches the
# *mean* Hessian at the start, but focal Hessians are concentrated on the hard rows, the more so the
# larger gamma: a handful of them meet min_child_weight=1 on their own and get a Newton leaf value
# -G / (H + lambda) that lambda = 1 hardly shrinks. LightGBM forbids such leaves by row count
# (min_data_in_leaf=20) and keeps its own default. Measured at gamma = 2 on the 62 binary tables of
# ../shared/data (docs/calibration_choice.md, "XGBoost's reg_lambda under focal loss"): within 1.05x
# of XGBClassifier's log loss and Brier, early-stopped / unstopped, lambda 1: 43 / 49, 3: 49 / 54,
# 5: 50 / 56, 10: 51 / 53 (a plateau from 3 to 10; 5 is its middle).
XGBOOST_REG_LAMBDA_SLOPE = 2.0
XGBOOST_REG_LAMBDA_GAMMA_CAP = 2.0


def xgboost_reg_lambda(gamma):
    """FocalXGBClassifier's default L2 penalty at focal ``gamma``: 1 + 2 min(gamma, 2)."""
    return 1.0 + XGBOOST_REG_LAMBDA_SLOPE * min(float(gamma), XGBOOST_REG_LAMBDA_GAMMA_CAP)


def check_loss_scale(loss_scale):
    """"auto" or a positive finite number."""
    if isinstance(loss_scale, str) and loss_scale == "auto":
        return loss_scale
    if isinstance(loss_scale, bool) or not isinstance(loss_scale, numbers.Real) or not (0 < loss_scale < np.inf):
        raise ValueError(
            f"loss_scale must be 'auto' (match the logloss Hessian at the starting score) or a positive "
            f"finite number (1.0 = the focal loss of Lin et al. as is); got {loss_scale!r}"
        )
    return float(loss_scale)


def logloss_start_hessian(totals, factor):
    """Mean diagonal Hessian (summed over classes) of logloss at the class-prior start.

    Binary: p (1 - p) with p the weighted share of class 1. Multiclass: ``factor`` * sum_k
    p_k (1 - p_k), where ``factor`` is the library's own multiclass Hessian convention (XGBoost's
    ``multi:softprob`` uses 2 p (1 - p), LightGBM's ``multiclass`` K/(K-1) p (1 - p)).
    """
    prior = totals / totals.sum()
    if totals.shape[0] == 2:
        return float(prior[1] * prior[0])
    return float(factor * np.sum(prior * (1.0 - prior)))


def focal_start_hessian(loss, totals, alpha, init_score, hessian=None):
    """Mean Hessian (summed over classes) the library sees at the constant margin ``init_score``.

    At a constant margin the Hessian depends on the class only, so one row per class weighted by
    the class totals gives the weighted mean over all training rows.
    """
    _, _, hess = constant_margin_terms(loss, init_score, totals / totals.sum(), alpha, hessian)
    return float(hess.sum())


def auto_loss_scale(loss, totals, alpha, init_score, factor):
    """max(1, logloss start Hessian / focal start Hessian); see the module docstring."""
    focal = focal_start_hessian(loss, totals, alpha, init_score)
    if not focal > 0:  # the exact Hessian can be negative at the start: scale by its Boehning floor
        focal = focal_start_hessian(loss, totals, alpha, init_score, "bohning")
    return max(1.0, logloss_start_hessian(totals, factor) / focal)
