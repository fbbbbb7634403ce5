"""The learning rate of every boosting round, as the training callbacks set it.

The estimators' no-eval-set temperature (``_calibration.default_temperature``) depends on the
boosting budget B, the sum over the trees kept of the learning rate each was trained with
(learning_rate x trees at a constant rate). A learning-rate schedule changes the rate during
training: ``xgboost.callback.LearningRateScheduler`` (``Booster.set_param`` after each round),
``lightgbm.reset_parameter`` (``Booster.reset_parameter`` before each round), or any callback of
the user's that calls either method. :class:`RateLog` records the rate in effect at every round
by wrapping that method on the training booster for the duration of the fit, so the budget is
that of the rates actually used, whichever callback set them.
"""

import math
from collections.abc import Mapping


class RateLog:
    """Learning rates per boosting round.

    ``rate``: the rate the next round trains with (starts at the booster's own); ``keys``: the
    library's names for it (aliases). The engine's callbacks call :meth:`install` on the booster
    before any other callback runs, :meth:`round_done` after each round before any other
    after-round callback (a schedule may set the next round's rate there), and the estimator
    calls :meth:`uninstall` after training.
    """

    def __init__(self, rate, keys):
        self.rate = float(rate)
        self.rates = []
        self._keys = frozenset(keys)
        self._wrapped = None

    def note(self, params, value=None):
        """Take the rate from the arguments of a ``set_param`` / ``reset_parameter`` call."""
        if isinstance(params, str):
            items = [(params, value)]
        elif isinstance(params, Mapping):
            items = params.items()
        else:  # XGBoost also takes a list of (name, value) pairs
            items = list(params)
        for key, v in items:
            if key in self._keys:
                self.rate = float(v)

    def install(self, booster, method):
        """Make ``booster.<method>`` (``set_param``, ``reset_parameter``) record what it sets."""
        if self._wrapped is not None:
            return
        original = getattr(booster, method)

        def recording(params, *args, **kwargs):
            result = original(params, *args, **kwargs)  # the library checks the values first
            self.note(params, *args[:1], **kwargs)
            return result

        setattr(booster, method, recording)
        self._wrapped = (booster, method)

    def uninstall(self):
        """Remove the wrapper (an instance attribute: the booster must stay picklable)."""
        if self._wrapped is not None:
            booster, method = self._wrapped
            booster.__dict__.pop(method, None)
            self._wrapped = None

    def round_done(self):
        self.rates.append(self.rate)

    def budget(self, trees):
        """The sum of the learning rates of the first ``trees`` rounds."""
        done = self.rates[:trees]
        return math.fsum(done) + self.rate * max(0, trees - len(done))
