"""Focal temperature: how the estimators turn a focal margin into calibrated probabilities.

The exact class posterior (``FocalLoss.posterior``, ``docs/math.md`` section 6) is the right map
for margins that estimate the focal minimiser. Boosted margins over-shoot it: without early
stopping they keep growing on the training rows, and the posterior's tails are gamma + 1 times
steeper than the sigmoid's (log-odds ~ (gamma + 1) z), so every unit of over-confidence in the
margin becomes gamma + 1 units in the probability. ``probability="calibrated"`` (the default)
therefore returns the posterior of a tempered margin (Komisarenko & Kull, ECAI 2024, "focal
temperature scaling"):

    P(y | x) = posterior(z / T + b)

* with an ``eval_set``: T in [1, gamma + 1] (never sharper than the posterior, never flatter than
  the raw sigmoid's tails) and, for two classes, a margin shift b in [-3, 3] minimise the
  (weighted) log loss of the LAST eval set at the iteration used for prediction (the best one
  under early stopping). Two scalars from rows the user held out; no extra fit, no extra round.
* without one: b = 0 and T = 1 + min(gamma, 2) / 8, a fixed temperature measured on real data
  (``docs/calibration.md``: 16 binary tables, 300 unstopped rounds and the libraries' default 100
  rounds, both engines, gamma 1, 2 and 4: 1.125-1.25 was best at gamma 1, 1.25 at 2 and at 4,
  where 1.5 was worse); it is exactly 1 at gamma = 0, where the model is the logloss model.

``probability="posterior"`` (T = 1, b = 0) and ``probability="raw"`` (sigmoid/softmax) stay
available, and :meth:`calibrate` refits T and b on any held-out data after ``fit``.
"""

import numpy as np
from scipy import optimize

#: T = 1 + min(gamma, DEFAULT_TEMPERATURE_GAMMA_CAP) * DEFAULT_TEMPERATURE_SLOPE without an eval set
DEFAULT_TEMPERATURE_SLOPE = 0.125
DEFAULT_TEMPERATURE_GAMMA_CAP = 2.0
MAX_SHIFT = 3.0


def default_temperature(gamma):
    """The temperature used without held-out rows: 1 + min(gamma, 2) / 8."""
    return 1.0 + DEFAULT_TEMPERATURE_SLOPE * min(float(gamma), DEFAULT_TEMPERATURE_GAMMA_CAP)


def temper(margin, temperature, shift):
    """The margin the posterior is taken of: margin / T + b."""
    if temperature == 1.0 and shift == 0.0:
        return margin
    return margin / temperature + shift


def _mean_log_loss(proba_of_true, w):
    nll = -np.log(np.clip(proba_of_true, 1e-15, 1.0))
    return float(np.average(nll, weights=w))


def fit_temperature(posterior, margin, y, w, gamma, start=1.0):
    """(T, b) minimising the weighted log loss of ``posterior(margin / T + b)`` on held-out rows.

    ``posterior`` maps margins to probabilities ((n,) for two classes, (n, K) otherwise); ``y``
    holds class codes. Bounds: T in [1, gamma + 1]; b in [-3, 3] for two classes, 0 otherwise.
    The result is never worse on these rows than (T, b) = (1, 0) or (``start``, 0).
    """
    margin = np.asarray(margin, dtype=np.float64)
    binary = margin.ndim == 1
    rows = np.arange(y.shape[0])
    t_max = 1.0 + float(gamma)
    if t_max <= 1.0:
        bounds_t = (0.0, 0.0)
    else:
        bounds_t = (0.0, float(np.log(t_max)))

    def objective(params):
        log_t, shift = params[0], params[1] if binary else 0.0
        p = posterior(temper(margin, float(np.exp(log_t)), float(shift)))
        p_true = np.where(y == 1, p, 1.0 - p) if binary else p[rows, y]
        return _mean_log_loss(p_true, w)

    bounds = [bounds_t, (-MAX_SHIFT, MAX_SHIFT) if binary else (0.0, 0.0)]
    candidates = [np.array([0.0, 0.0]), np.array([np.clip(np.log(start), *bounds_t), 0.0])]
    best = optimize.minimize(objective, candidates[-1], method="Powell", bounds=bounds,
                             options={"xtol": 1e-4, "ftol": 1e-10})
    params = min(candidates + [best.x], key=objective)
    return float(np.exp(params[0])), float(params[1]) if binary else 0.0
