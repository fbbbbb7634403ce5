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
  under early stopping), shrunk by a weak prior towards b = 0 and the no-eval-set temperature
  of the model's boosting budget (below), early-stopped or not (:func:`temperature_centre`,
  :func:`fit_temperature`). Two scalars from rows the user held out; no extra fit, no extra round.
* without one: T = 1 + s * min(gamma, 2) * min(1, B / 10), where B = learning rate x trees
  (the boosting budget: how far the margins could run; 300 rounds at 0.1 is B = 30) and s the
  engine's slope: 1/8 for two classes (3/32 for XGBoost), 3/16 for three or more (XGBoost above
  six classes: :func:`xgboost_temperature_slope`): 1.25 (1.1875; multiclass 1.375) at gamma 2 from
  B = 10 on, and the exact posterior at few rounds. Measured on the 66 tables of ``../shared/data``,
  unstopped, at B = 3, 5, 10 (twice: 100 x 0.1 and 500 x 0.02), 30 (twice), 100 and the
  libraries' default trees, and at gamma 1 and 4 (``docs/calibration_choice.md``, "The
  no-eval-set temperature and the boosting budget"): margins of few rounds are not yet
  over-confident (B = 3: T = 1 best in both engines), and XGBoost's binary margins over-shoot
  less than LightGBM's. Past B = 10 FocalLGBMClassifier's binary T keeps rising, by (T_10 - 1)
  per decade of budget (1.37 at 300 rounds x 0.1, 1.5 at 1000: LightGBM's L2 penalty is 0, so its
  margins keep spreading; :func:`lightgbm_temperature_growth`). It is exactly 1 at gamma = 0,
  where the model is the logloss model.
* then, for two classes and gamma > 0, the shift b is set from the TRAINING rows, with or without
  an eval set: the b at which the mean of P(class 1) over the training rows (training weights)
  equals the class's weighted frequency there (:func:`training_shift`). A logloss fit has this
  property by construction (its starting score and every Newton leaf step set the gradient sums,
  p - y, near zero); the focal posterior of boosted margins does not, and misses it most with a
  large alpha on the rare class (mean P(rare) 15% below the base rate). Measured on the 62
  binary tables of ``../shared/data`` (``docs/calibration.md``): with alpha = 0.9 or "balanced"
  and no eval set, log loss and Brier within 1.05x of the logloss classifier on 39-48 tables
  instead of 23-39; at the default alpha, early-stopped, 42/62 instead of 38-40 (43 and 49 since
  the eval-set fit is centred on the budget's T: :func:`temperature_centre`). The training
  margins come from the objective's own calls (:class:`MarginProbe`), so no prediction pass.
* more than two classes with unequal class alphas ("balanced" or a per-class list; gamma > 0):
  a shift vector b (K,), mean zero, set the same way per class (:func:`training_shifts`): mean
  P(class k) over the training rows = class k's weighted frequency. Measured on the 4 multiclass
  tables: with alpha="balanced" better or equal in all 16 engine/regime/score cells (e.g. glass,
  XGBoost, unstopped: log loss 1.047x -> 0.985x logloss); at equal alphas slightly worse on 3 of
  4 tables, so there b = 0 (``docs/calibration_choice.md``).

``probability="posterior"`` (T = 1, b = 0) and ``probability="raw"`` (sigmoid/softmax) stay
available, and :meth:`calibrate` refits T and b on any held-out data after ``fit``.
"""

import math

import numpy as np
from scipy import optimize

#: T = 1 + slope * min(gamma, DEFAULT_TEMPERATURE_GAMMA_CAP) * min(1, budget / TEMPERATURE_BUDGET)
#:     * (1 + growth * log10(max(1, budget / TEMPERATURE_BUDGET))), at most 1 + gamma,
#: without an eval set; the slope and growth are the estimator's (xgboost_/lightgbm_temperature_slope,
#: lightgbm_temperature_growth; XGBoost's growth is 0)
DEFAULT_TEMPERATURE_SLOPE = 0.125
#: LightGBM, two classes: the temperature keeps growing past the full budget, by this much per
#: decade of budget (1.37 at 300 rounds x 0.1, 1.5 at 1000 x 0.1, gamma 2)
LIGHTGBM_BINARY_TEMPERATURE_GROWTH = 1.0
#: the same for three or more classes
LIGHTGBM_MULTICLASS_TEMPERATURE_GROWTH = 0.0
XGBOOST_BINARY_TEMPERATURE_SLOPE = 0.09375
#: three or more classes: 1.375 at gamma 2 (softmax margins over-shoot more than binary ones)
MULTICLASS_TEMPERATURE_SLOPE = 0.1875
#: XGBoost with more than this many classes: the slope falls as (this / K)^2
XGBOOST_TEMPERATURE_FULL_CLASSES = 6
DEFAULT_TEMPERATURE_GAMMA_CAP = 2.0
#: the boosting budget (learning rate x trees) from which the no-eval-set temperature is full
TEMPERATURE_BUDGET = 10.0
MAX_SHIFT = 3.0
#: lower bound of the eval-set temperature: never sharper than the exact posterior
MIN_TEMPERATURE = 1.0


def xgboost_temperature_slope(n_classes):
    """The no-eval-set temperature slope of FocalXGBClassifier: 3/32 for two classes, 3/16 for 3 to
    6 classes, then 3/16 (6 / K)^2 (T = 1.375 at gamma 2; 1.21 at 8 classes, 1.14 at 10, 1.03 at 20).

    Multiclass margins over-shoot more than binary ones: with the softmax floor on the curvature
    along u (docs/math.md, section 4) the best T of the unstopped XGBoost models was 1.25-1.75 on
    three of the four real multiclass tables (1.1 on diamonds_cut) and 1.25-1.5 on synthetic tables
    with 3-6 classes. Above 6 classes it was 1.2-1.375 on synthetic tables but 1.0 on scikit-learn's
    digits (K = 10), so the slope falls with K there, as it did under the earlier floor, when the
    synthetic tables' best T fell too (docs/calibration_choice.md, "The temperature and the number
    of classes" and "The softmax floor on the curvature along u").
    """
    if n_classes == 2:
        return XGBOOST_BINARY_TEMPERATURE_SLOPE
    return MULTICLASS_TEMPERATURE_SLOPE * min(1.0, XGBOOST_TEMPERATURE_FULL_CLASSES / n_classes) ** 2


def lightgbm_temperature_slope(n_classes):
    """The no-eval-set temperature slope of FocalLGBMClassifier: 1/8 for two classes, 3/16 for
    three or more (T = 1.375 at gamma 2). With the softmax floor on the curvature along u
    (docs/math.md, section 4) LightGBM's unstopped multiclass margins over-shoot more than its
    binary ones: the best T was 1.5 or more on 13 of 14 synthetic and digits tables with 3-30
    classes and 1.75-2 on three of the four real multiclass tables (1.2 on diamonds_cut)
    (docs/calibration_choice.md, "The softmax floor on the curvature along u")."""
    return DEFAULT_TEMPERATURE_SLOPE if n_classes == 2 else MULTICLASS_TEMPERATURE_SLOPE


def lightgbm_temperature_growth(n_classes):
    """How much further FocalLGBMClassifier's no-eval-set temperature grows per decade of boosting
    budget past B = 10: LIGHTGBM_BINARY_TEMPERATURE_GROWTH (1) for two classes, 0 otherwise.

    LightGBM's L2 penalty is 0 by default, so the Newton step of a leaf whose rows are already
    fitted stays about as large as ever and the margins keep spreading as trees are added (their
    median absolute deviation on the training rows grew 1.68x from 100 to 300 rounds at 0.1,
    against 1.38x for FocalXGBClassifier's lambda = 5); the best T of the 62 binary tables kept
    rising with the budget (about 1.25 at B = 10, 1.375-1.5 at B = 30, 1.5-1.75 at B = 100), while
    XGBoost's stayed at 1.1875 from B = 10 to 100 (docs/calibration_choice.md, "LightGBM's
    temperature past the full budget"). With three or more classes growth 1 (T 1.55 at B = 30) was
    measured on the four multiclass tables, unstopped: better on glass, hpc_jobs and
    satellite_statlog, but diamonds_cut's log loss went 1.031x -> 1.060x logloss's, past the
    1.05x target, so multiclass keeps growth 0 (LIGHTGBM_MULTICLASS_TEMPERATURE_GROWTH).
    """
    return LIGHTGBM_BINARY_TEMPERATURE_GROWTH if n_classes == 2 else LIGHTGBM_MULTICLASS_TEMPERATURE_GROWTH


def default_temperature(gamma, budget=None, slope=None, growth=0.0):
    """The temperature used without held-out rows:
    1 + slope * min(gamma, 2) * min(1, budget / 10) * (1 + growth * log10(max(1, budget / 10))).

    ``budget`` is the sum of the trees' learning rates, the learning rate times the number of
    trees at a constant rate (None: a full budget, B = 10); ``slope`` defaults to
    DEFAULT_TEMPERATURE_SLOPE (1/8: 1.25 at gamma 2 from a budget of 10 on, at growth 0);
    ``growth`` lets T keep rising past B = 10, per decade of budget (LightGBM binary: 1, so 1.37
    at B = 30 and 1.5 at B = 100).
    """
    slope = DEFAULT_TEMPERATURE_SLOPE if slope is None else float(slope)
    relative = 1.0 if budget is None else max(0.0, float(budget)) / TEMPERATURE_BUDGET
    ramp = min(1.0, relative) * (1.0 + float(growth) * math.log10(max(1.0, relative)))
    # never flatter than the raw sigmoid's tails (T = gamma + 1, the eval-set fit's bound), which
    # growth 1 would pass only past a budget of 1e8
    return min(1.0 + slope * min(float(gamma), DEFAULT_TEMPERATURE_GAMMA_CAP) * ramp, 1.0 + float(gamma))


def temper(margin, temperature, shift):
    """The margin the posterior is taken of: margin / T + b."""
    if temperature == 1.0 and not np.any(shift):
        return margin
    return margin / temperature + shift


#: prior of the eval-set fit: log T ~ N(log T_centre, PRIOR_SD_LOG_T^2), b ~ N(0, PRIOR_SD_SHIFT^2)
PRIOR_SD_LOG_T = 0.2
PRIOR_SD_SHIFT = 0.5


#: the training-rows shift is solved until |mean P(class 1) - frequency| <= this times the
#: frequency of the rarer class (1e-8 at a 10% class)
SHIFT_RTOL = 1e-7
#: on 4x this many training rows or more, a strided subsample gives the solver its start and slope
SHIFT_SUBSAMPLE_ROWS = 4096


def solve_shift(mean_at, target, start=0.0, slope=None, tolerance=None):
    """(b, slope): the b in [-MAX_SHIFT, MAX_SHIFT] where ``mean_at(b) = target``, for ``mean_at``
    increasing in b, and the last secant slope.

    ``mean_at`` takes an array of shifts and returns the mean probability at each. Secant steps
    from ``start`` (the first slope from ``slope``, else a forward difference at ``start``) inside
    a bracket that shrinks around the root; a step that would leave it bisects instead, so the
    search ends even where the root lies beyond a bound (it then returns that bound).
    ``tolerance`` on |mean_at(b) - target|: default ``SHIFT_RTOL * min(target, 1 - target)``.
    """
    if tolerance is None:
        tolerance = SHIFT_RTOL * min(target, 1.0 - target)
    low, high = -MAX_SHIFT, MAX_SHIFT
    b = float(start)
    if slope is None:
        step = 1e-6
        at, ahead = np.asarray(mean_at(np.array([b, b + step])), dtype=np.float64) - target
        slope = (ahead - at) / step
    else:
        at = float(np.asarray(mean_at(np.array([b])), dtype=np.float64)[0] - target)
    for _ in range(64):
        if abs(at) <= tolerance:
            break
        if at < 0:
            low = b
        else:
            high = b
        if high - low <= 1e-12:
            break
        new = b - at / slope if slope > 0 else np.nan
        new = float(new) if low < new < high else 0.5 * (low + high)
        value = float(np.asarray(mean_at(np.array([new])), dtype=np.float64)[0] - target)
        secant = (value - at) / (new - b)
        if secant > 0:
            slope = secant
        b, at = new, value
    return float(b), float(slope)


#: margin entries per posterior call of :func:`posterior_sums` (the stacked copies are chunked)
STACK_ENTRIES = 1 << 20


def posterior_sums(posterior, z, w, shifts):
    """sum_i w_i posterior(z_i + b) for each b in ``shifts`` (w None: unweighted); zeros for no rows.

    Two classes: ``z`` (n,), ``shifts`` (S,), result (S,). More: ``z`` (n, K), ``shifts``
    (S, K) (one shift vector per row), result (S, K). The shifted copies of the margins are
    stacked into posterior calls of at most about ``STACK_ENTRIES`` entries.
    """
    z = np.asarray(z, dtype=np.float64)
    shifts = np.asarray(shifts, dtype=np.float64)
    if z.shape[0] == 0:
        return np.zeros(shifts.shape)
    w = None if w is None else np.asarray(w, dtype=np.float64)
    per = max(1, STACK_ENTRIES // z.size)
    out = []
    for lo in range(0, shifts.shape[0], per):
        block = shifts[lo: lo + per]
        stacked = z[None] + block[:, None]  # (s, n) or (s, n, K)
        p = posterior(stacked.reshape((-1,) + z.shape[1:])).reshape(stacked.shape)
        out.append(p.sum(axis=1) if w is None else np.tensordot(w, p, axes=(0, 1)))  # over the rows
    return np.concatenate(out, axis=0)


def _mean_over(posterior, z, weights):
    """shifts -> the (weighted) mean posterior of ``z`` at each shift (:func:`posterior_sums`)."""
    total = z.shape[0] if weights is None else weights.sum()
    return lambda shifts: posterior_sums(posterior, z, weights, shifts) / total


def training_shift(posterior, margin, y, w, temperature):
    """b such that the (weighted) mean of ``posterior(margin / T + b)`` over the training rows is
    the (weighted) frequency of class 1 there: calibration in the large, as logloss has it.

    ``margin`` (n,) are the fitted model's training margins, ``y`` class codes, ``w`` the training
    weights or None. See the module docstring for why. Cost: each solver step is one posterior
    pass over the rows (at 50k rows on a 2-core VM without AVX-512, 2026-12-07: about 4 ms, 10 ms
    before the posterior shared its intermediates); from 4 x ``SHIFT_SUBSAMPLE_ROWS`` rows on, a
    strided subsample first gives a start and slope close enough that the full rows take 2-4 steps.
    """
    z = np.asarray(margin, dtype=np.float64) / temperature
    weights = None if w is None or not np.size(w) else np.asarray(w, dtype=np.float64)
    target = float(np.average(y == 1, weights=weights))
    start, slope = 0.0, None
    stride = -(-z.shape[0] // SHIFT_SUBSAMPLE_ROWS)
    if stride >= 4:  # a smaller subsample would cost about what it saves
        sub_w = None if weights is None else weights[::stride]
        if sub_w is None or sub_w.sum() > 0:
            loose = 1e-3 * min(target, 1.0 - target)
            start, slope = solve_shift(_mean_over(posterior, z[::stride], sub_w), target, tolerance=loose)
    return solve_shift(_mean_over(posterior, z, weights), target, start, slope)[0]


def solve_shifts(mean_at, target, jacobian_at=None, tolerance=None, start=None, iterations=50):
    """The shift vector b (K,), mean zero, each entry in [-MAX_SHIFT, MAX_SHIFT], where
    ``mean_at(b) = target`` (K class frequencies summing to 1): the multiclass form of
    :func:`solve_shift`.

    ``mean_at`` takes shift vectors (S, K) and returns the mean class probabilities at each
    (S, K); ``jacobian_at`` (default ``mean_at``) the same on the rows the Jacobian is estimated
    from (a subsample on many rows). ``tolerance`` on max_k |mean_k - target_k|: default
    ``SHIFT_RTOL * min(target)``; ``start``: the first b (default zeros). The steps: see
    :func:`_solve_shifts`.
    """
    return _solve_shifts(mean_at, target, jacobian_at, tolerance, start, iterations)[0]


def _solve_shifts(mean_at, target, jacobian_at=None, tolerance=None, start=None, iterations=50, jacobian=None):
    """(b, the last Jacobian) of :func:`solve_shifts`; ``jacobian``: a first Jacobian (K, K) to
    start from (default: estimated at ``start``).

    Damped quasi-Newton steps: the Jacobian d mean_k / d b_j by forward differences (one stacked
    call of ``jacobian_at`` at K shifted vectors), the step its minimum-norm least-squares
    solution (the Jacobian is singular along b = constant, which moves no probability, and along
    nothing else for a posterior increasing in its own margin), halved until the largest residual
    falls. After each step the Jacobian takes Broyden's rank-one update from the step and the
    change of ``mean_at`` it made, instead of being estimated again: a subsample's Jacobian,
    estimated anew, is as wrong at every step (its sampling error), and the residual fell only
    about tenfold a step. A step that fails with an updated Jacobian is retried with a fresh
    estimate; one that fails with a fresh estimate ends the search (the root lies beyond a
    bound, or is reached to rounding).
    """
    target = np.asarray(target, dtype=np.float64)
    k = target.shape[0]
    jacobian_at = mean_at if jacobian_at is None else jacobian_at
    if tolerance is None:
        tolerance = SHIFT_RTOL * float(target.min())
    b = np.zeros(k) if start is None else np.asarray(start, dtype=np.float64).copy()
    residual = np.asarray(mean_at(b[None]), dtype=np.float64)[0] - target
    step = 1e-5
    fresh = False
    for _ in range(iterations):
        worst = float(np.abs(residual).max())
        if worst <= tolerance:
            break
        if jacobian is None:
            trial = np.vstack([b, b + step * np.eye(k)])
            means = np.asarray(jacobian_at(trial), dtype=np.float64)
            jacobian = (means[1:] - means[0]).T / step  # [i, j] = d mean_i / d b_j
            fresh = True
        direction = np.linalg.lstsq(jacobian, -residual, rcond=None)[0]
        direction -= direction.mean()
        for _ in range(8):
            new = np.clip(b + direction, -MAX_SHIFT, MAX_SHIFT)
            new -= new.mean()
            value = np.asarray(mean_at(new[None]), dtype=np.float64)[0] - target
            if float(np.abs(value).max()) < worst:
                break
            direction *= 0.5
        else:
            if fresh:
                break  # no step lowers the residual: the root lies beyond a bound, or is reached
            jacobian = None  # the updated Jacobian misled the step: estimate it afresh
            continue
        moved = new - b
        # Broyden's update: the Jacobian that maps this step onto the change of the means it made
        jacobian = jacobian + np.outer(value - residual - jacobian @ moved, moved) / float(moved @ moved)
        fresh = False
        b, residual = new, value
    return b, jacobian


def training_shifts(posterior, margin, y, w, temperature):
    """Per-class shifts b (K,) such that the (weighted) mean of ``posterior(margin / T + b)`` over
    the training rows is each class's (weighted) frequency there: :func:`training_shift` for
    more than two classes. ``margin`` (n, K). Above ``SHIFT_SUBSAMPLE_ROWS`` rows a strided
    subsample of about that many gives the start and the Jacobian (it only steers the steps);
    the means that must match are always over all rows."""
    z = np.asarray(margin, dtype=np.float64) / temperature
    k = z.shape[1]
    weights = None if w is None or not np.size(w) else np.asarray(w, dtype=np.float64)
    target = np.bincount(y, weights=weights, minlength=k) / (y.shape[0] if weights is None else weights.sum())
    stride = max(1, z.shape[0] // SHIFT_SUBSAMPLE_ROWS)
    sub_w = None if weights is None else weights[::stride]
    if stride == 1 or (sub_w is not None and not sub_w.sum() > 0):
        return solve_shifts(_mean_over(posterior, z, weights), target)
    # The subsample's own root first (cheap), then quasi-Newton steps on all rows from there,
    # from the subsample's last Jacobian.
    sub = _mean_over(posterior, z[::stride], sub_w)
    start, jacobian = _solve_shifts(sub, target, tolerance=1e-3 * float(target.min()))
    return _solve_shifts(_mean_over(posterior, z, weights), target, sub, start=start, jacobian=jacobian)[0]


def temperature_centre(gamma, budget=None, slope=None, growth=0.0):
    """Where the eval-set fit starts and is shrunk to: the no-eval-set temperature of the fitted
    model's boosting budget and slope, early-stopped or not.

    An early-stopped model's margins sit at the held-out optimum of the focal loss, not of the
    posterior's log loss, and they are margins of a small budget like any other (the early-stopped
    binary models of ``../shared/data`` keep a median 44 (XGBoost) and 34 (LightGBM) trees at
    learning rate 0.1: centres near 1.08). Until 2026-12-07 the fit was centred on T = 1 under
    early stopping; centred on the budget's T instead, binary tables within 1.05x of the logloss
    classifier, early-stopped, went 42 -> 49 of 62 (LightGBM) and 42 -> 43 (XGBoost)
    (``docs/calibration_choice.md``, "The eval-set fit's centre under early stopping").
    """
    return default_temperature(gamma, budget, slope, growth)


def penalised_log_loss(posterior, margin, y, w, temperature, shift, centre):
    """Total log loss of ``posterior(margin / T + b)`` (weights rescaled to sum to the row count)
    plus the Gaussian prior on (log T, b): the objective :func:`fit_temperature` minimises."""
    p = posterior(temper(margin, temperature, shift))
    p_true = np.where(y == 1, p, 1.0 - p) if margin.ndim == 1 else p[np.arange(y.shape[0]), y]
    n = y.shape[0]
    nll = -np.log(np.clip(p_true, 1e-15, 1.0))
    total = float(nll.sum() if w is None else np.sum(nll * w) * n / np.sum(w))
    prior = 0.5 * (np.log(temperature / centre) / PRIOR_SD_LOG_T) ** 2 + 0.5 * np.sum((shift / PRIOR_SD_SHIFT) ** 2)
    return total + float(prior)


def fit_temperature(posterior, margin, y, w, gamma, centre=1.0, shift=None):
    """(T, b) minimising :func:`penalised_log_loss` on held-out rows (MAP under a Gaussian prior).

    ``posterior`` maps margins to probabilities ((n,) for two classes, (n, K) otherwise); ``y``
    holds class codes. Bounds: T in [1, gamma + 1]; b in [-3, 3] for two classes. For more
    classes only T is fitted, with b held at ``shift`` (a vector (K,); default zeros).
    The prior (centred at ``centre``, b = 0; sd 0.2 in log T, 0.5 in b) is worth a few rows: on an
    eval set with a handful of rows of a class the fit stays near the centre, on thousands of rows
    the data decide. Measured: without it, (T, b) fitted on the 20-60-row eval sets of small tables
    made early-stopped models worse than the plain posterior (``docs/calibration.md``).
    """
    margin = np.asarray(margin, dtype=np.float64)
    binary = margin.ndim == 1
    t_max = 1.0 + float(gamma)
    centre = float(np.clip(centre, MIN_TEMPERATURE, t_max))
    log_t_bounds = (float(np.log(MIN_TEMPERATURE)), float(np.log(t_max)))

    fixed = 0.0 if binary or shift is None else np.asarray(shift, dtype=np.float64)

    def objective(params):
        b = float(params[1]) if binary else fixed
        return penalised_log_loss(posterior, margin, y, w, float(np.exp(params[0])), b, centre)

    start = np.array([np.log(centre), 0.0])
    bounds = [log_t_bounds, (-MAX_SHIFT, MAX_SHIFT) if binary else (0.0, 0.0)]
    best = optimize.minimize(objective, start, method="Powell", bounds=bounds, options={"xtol": 1e-4, "ftol": 1e-10})
    # Powell stops within about xtol of an active bound (T = 1 above all): the bound itself is a
    # candidate too, so that the fit does not depend on the optimiser's last steps.
    snapped = np.array([lo if abs(v - lo) < 1e-3 else hi if abs(v - hi) < 1e-3 else v
                        for v, (lo, hi) in zip(best.x, bounds)])
    params = min([start, best.x, snapped], key=objective)
    temperature = float(np.clip(np.exp(params[0]), MIN_TEMPERATURE, t_max))  # exp(log t_max) may round above
    return temperature, float(params[1]) if binary else 0.0
