"""A lean ``xgb.train`` for custom objectives: same models, less Python per boosting round.

With ``obj=f``, every round of ``xgb.train`` goes ``Booster.update -> Booster.boost ->
Booster.predict(training=True) -> f -> XGBoosterTrainOneIter``. Around the two C calls that do
the work, that layer re-checks feature names (twice), JSON-encodes the prediction config, copies
the margins into a fresh array and JSON-encodes two array interfaces: about 0.15 ms a round,
11-20% of a one-thread fit on 5k-1k rows (``benchmarks/bench_small.py``, CPU time, 2026-12-02). :func:`train` runs
the same loop (the same callbacks container, evaluation, early stopping and verbose output as
``xgb.train``) and makes the same two C calls through XGBoost's own library handle
(``xgboost.core._LIB``):

- ``XGBoosterPredictFromDMatrix`` with the same config as ``Booster.boost`` (margins,
  training=True), read through a NumPy view of XGBoost's output buffer (no copy; the view is
  rebuilt only when the buffer moves). Only objectives known not to keep or modify their input
  (boost-focal's own: :class:`~boost_focal.FocalLoss` and the estimators' closures) get the
  view; any other callable gets a fresh copy, as from ``xgb.train``.
- ``XGBoosterTrainOneIter`` with the gradient arrays' interfaces written directly.

- Without evals or a custom metric, the callbacks directly, with the container's (empty)
  history: ``xgb.train``'s container would still evaluate an empty list every round.

Feature names are checked once per run, which is all ``Booster.update`` does with them (they
cannot change during training). The trees are the same: the same margins reach the objective
and the same gradient bytes reach XGBoost (tests/test_xgb_loop.py checks bit-for-bit equal
predictions against ``xgb.train``).

Anything the lean path was not verified for runs ``xgb.train`` itself, unchanged: XGBoost
outside :data:`SUPPORTED_VERSIONS` or without the two C functions, no ``obj``, and
``xgboost.objective.Objective`` instances. A booster on a GPU keeps XGBoost's own
``Booster.update`` inside this loop (FocalLoss's device path needs it).
"""

import copy
import ctypes
import re
import warnings
import weakref

import numpy as np

# [lowest, first unsupported) XGBoost versions: XGBoosterTrainOneIter and the JSON prediction config
# have these signatures since 2.1; the bit-for-bit tests ran on 3.2
SUPPORTED_VERSIONS = ((2, 1), (4, 0))

# Booster.boost's prediction config: raw margins (type 1) of the training data, all trees
_PREDICT_CONFIG = b'{"type": 1, "training": true, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false}'


def _version(xgb):
    return tuple(int(p) for p in re.findall(r"\d+", xgb.__version__)[:2])


def supported(xgb):
    """True when this XGBoost has the C functions the lean loop calls, in a checked version."""
    lo, hi = SUPPORTED_VERSIONS
    lib = getattr(getattr(xgb, "core", None), "_LIB", None)
    return (
        lo <= _version(xgb) < hi
        and lib is not None
        and hasattr(lib, "XGBoosterTrainOneIter")
        and hasattr(lib, "XGBoosterPredictFromDMatrix")
    )


def _on_cpu(bst):
    """The booster's device (its config, which includes the global one) is the CPU."""
    import json

    try:
        device = json.loads(bst.save_config())["learner"]["generic_param"]["device"]
    except (KeyError, ValueError, TypeError):
        return False
    return device == "cpu"


def _interface(array):
    """The array interface XGBoost's ``_grad_arrinf`` would send, for a contiguous f4/f8 array."""
    typestr = array.dtype.str
    shape = ", ".join(str(s) for s in array.shape)
    return (
        f'{{"data": [{array.ctypes.data}, false], "strides": null, "descr": [["", "{typestr}"]], '
        f'"typestr": "{typestr}", "shape": [{shape}], "version": 3}}'
    ).encode()


def _gradient_array(array, n_rows):
    """grad or hess as XGBoost reads it: a C-contiguous float32/float64 NumPy array."""
    if not isinstance(array, np.ndarray):
        raise TypeError(
            f"the objective must return NumPy arrays (grad, hess) on the CPU; got {type(array).__name__}"
        )
    if array.ndim >= 1 and array.shape[0] != n_rows and (array.ndim == 1 or array.shape[1] == 1):
        warnings.warn(
            "Since 2.1.0, the shape of the gradient and hessian is required to"
            " be (n_samples, n_targets) or (n_samples, n_classes).",
            FutureWarning,
            stacklevel=4,
        )
        array = array.reshape(n_rows, array.size // n_rows)
    if array.dtype not in (np.float32, np.float64):
        # XGBoost reads every other dtype as float32 in the end; converting here keeps the
        # converted array alive for the C call (xgboost 3.2 frees its temporary too early)
        array = array.astype(np.float32)
    return np.ascontiguousarray(array)


class RoundTrip:
    """The two C calls of one boosting round, for one booster and its training DMatrix."""

    def __init__(self, xgb, bst, dtrain):
        self._lib = xgb.core._LIB
        self._check = xgb.core._check_call
        self._bst = bst.handle
        self._dtrain = dtrain.handle
        self.n_rows = dtrain.num_row()
        self._shape = ctypes.POINTER(ctypes.c_uint64)()
        self._dims = ctypes.c_uint64()
        self._preds = ctypes.POINTER(ctypes.c_float)()
        self._args = (ctypes.byref(self._shape), ctypes.byref(self._dims), ctypes.byref(self._preds))
        self._key = None
        self._view = None
        self._interfaces = {}  # (address, shape, dtype) -> encoded array interface; id -> (array, shape, dtype, text)

    def margins(self):
        """The training margins of the current model: a view of XGBoost's buffer, valid until
        the next call. Not marked read-only (Numba would compile every kernel again for
        read-only arrays); the objectives that get it never write to it."""
        self._check(self._lib.XGBoosterPredictFromDMatrix(self._bst, self._dtrain, _PREDICT_CONFIG, *self._args))
        shape = tuple(self._shape[i] for i in range(self._dims.value))
        address = ctypes.cast(self._preds, ctypes.c_void_p).value
        key = (address, shape)
        if key != self._key:
            size = int(np.prod(shape))
            if size == 0:
                view = np.empty(shape, dtype=np.float32)
            else:
                view = np.frombuffer((ctypes.c_float * size).from_address(address), dtype=np.float32).reshape(shape)
            self._key, self._view = key, view
        return self._view

    def boost(self, iteration, grad, hess):
        """One tree (or K) from the gradients, as ``Booster.boost(grad=, hess=)`` grows it."""
        grad = _gradient_array(grad, self.n_rows)
        hess = _gradient_array(hess, self.n_rows)
        self._check(
            self._lib.XGBoosterTrainOneIter(
                self._bst, self._dtrain, ctypes.c_int(iteration), self._interface(grad), self._interface(hess)
            )
        )

    def _interface(self, array):
        """_interface(array), remembered for the buffers an objective hands back round after
        round (boost-focal's estimators reuse one): the text depends on address, shape, dtype.

        The same array object again (kept here, so that its id cannot be reused by another)
        with the same shape and dtype has the same address: an ndarray's buffer never moves.
        Checked first, because reading the address (``array.ctypes``) is the slow part.
        """
        last = self._interfaces.get(id(array))
        if last is not None and last[0] is array and last[1] == array.shape and last[2] == array.dtype:
            return last[3]
        key = (array.ctypes.data, array.shape, array.dtype.str)
        text = self._interfaces.get(key)
        if text is None:
            if len(self._interfaces) > 8:
                self._interfaces.clear()
            text = self._interfaces[key] = _interface(array)
        self._interfaces[id(array)] = (array, array.shape, array.dtype, text)
        return text


def _plain_container(container):
    """The container is xgboost's own CallbackContainer, not in cv mode, with the attributes its
    after_iteration reads (checked on 2.1-3.2): only then may the loop call the callbacks itself."""
    import xgboost as xgb

    return (
        type(container) is xgb.callback.CallbackContainer
        and not getattr(container, "is_cv", True)
        and isinstance(getattr(container, "callbacks", None), (list, tuple))
        and isinstance(getattr(container, "history", None), dict)
    )


def _objective_for(obj, dtrain, bst, own):
    """margins view -> (grad, hess). ``own``: ``obj`` is boost-focal's and may see the view."""
    from ._frameworks import _finite_check, _grad_hess, _n_classes, prepare_xgb
    from ._validation import check_margin
    from .focal import FocalLoss

    if isinstance(obj, FocalLoss):
        if isinstance(obj.alpha, str):
            from ._frameworks import _dask_guard

            _dask_guard(obj)

        def focal(margin):
            z = check_margin(margin, name="predt", finite=False)  # values: checked in the kernel pass
            entry = prepare_xgb(dtrain, z.shape[0], _n_classes(z), bst)  # validated once per run
            return _grad_hess(obj, z, entry, margin.shape, None, _finite_check(margin, "predt"))

        return focal
    if own:
        return lambda margin: obj(margin, dtrain)
    return lambda margin: obj(np.array(margin), dtrain)  # a fresh array, as from xgb.train


def _uses_objective_class(xgb, obj):
    cls = getattr(getattr(xgb, "objective", None), "Objective", None)
    return cls is not None and isinstance(obj, cls)


def train(
    params,
    dtrain,
    num_boost_round=10,
    *,
    evals=None,
    obj=None,
    maximize=None,
    early_stopping_rounds=None,
    evals_result=None,
    verbose_eval=True,
    xgb_model=None,
    callbacks=None,
    custom_metric=None,
):
    """``xgboost.train`` with the same signature and the same result, faster per round with
    ``obj=`` (see the module docstring). Runs ``xgboost.train`` itself where the lean path does
    not apply."""
    return train_with(
        params, dtrain, num_boost_round, evals=evals, obj=obj, maximize=maximize,
        early_stopping_rounds=early_stopping_rounds, evals_result=evals_result, verbose_eval=verbose_eval,
        xgb_model=xgb_model, callbacks=callbacks, custom_metric=custom_metric,
    )


def train_with(params, dtrain, num_boost_round, *, own_objective=False, **train_kwargs):
    """:func:`train`; ``own_objective=True`` says ``obj`` is boost-focal's own closure (the
    estimators'), which reads the margins without keeping or modifying them."""
    import xgboost as xgb

    return _train(xgb, params, dtrain, num_boost_round, own_objective, **train_kwargs)


def _train(
    xgb, params, dtrain, num_boost_round, own_objective, *, evals=None, obj=None, maximize=None,
    early_stopping_rounds=None, evals_result=None, verbose_eval=True, xgb_model=None, callbacks=None,
    custom_metric=None,
):
    kwargs = dict(
        evals=evals, obj=obj, maximize=maximize, early_stopping_rounds=early_stopping_rounds,
        evals_result=evals_result, verbose_eval=verbose_eval, xgb_model=xgb_model, callbacks=callbacks,
        custom_metric=custom_metric,
    )
    if obj is None or not supported(xgb) or _uses_objective_class(xgb, obj):
        return xgb.train(params, dtrain, num_boost_round, **kwargs)

    # From here on: xgboost.train's own body (3.2), with Booster.update replaced.
    callbacks = [] if callbacks is None else copy.copy(list(callbacks))
    evals = list(evals) if evals else []
    ref_mixin = getattr(xgb.core, "_RefMixIn", None)
    for va, _ in evals:
        if not isinstance(va, xgb.DMatrix):
            raise TypeError("Invalid type for the `evals`.")
        if ref_mixin is not None and isinstance(va, ref_mixin) and va.ref is not weakref.ref(dtrain) and va is not dtrain:
            raise ValueError(getattr(xgb.training, "_RefError", "Training dataset should be used as a reference"))
    if not isinstance(dtrain, xgb.DMatrix):
        raise TypeError(f"Invalid training matrix: {type(dtrain).__name__}")

    bst = xgb.Booster(params, [dtrain] + [d[0] for d in evals], model_file=xgb_model)
    if verbose_eval:
        verbose_eval = 1 if verbose_eval is True else verbose_eval
        callbacks.append(xgb.callback.EvaluationMonitor(period=verbose_eval))
    if early_stopping_rounds:
        callbacks.append(xgb.callback.EarlyStopping(rounds=early_stopping_rounds, maximize=maximize))
    cb_container = xgb.callback.CallbackContainer(callbacks, metric=custom_metric, output_margin=callable(obj))
    bst = cb_container.before_training(bst)

    lean = _on_cpu(bst)
    if lean:
        round_trip = RoundTrip(xgb, bst, dtrain)
        objective = _objective_for(obj, dtrain, bst, own_objective)
    # Nothing to evaluate (no evals, no custom metric): the container's after_iteration would
    # still ask XGBoost to evaluate an empty list each round (a C call and the parse of its
    # "[i]" reply, about 10 us), so the callbacks are called directly with the same (empty)
    # history. Same models, same callback calls (tests/test_xgb_loop.py).
    quiet = lean and not evals and custom_metric is None and _plain_container(cb_container)
    hooks = cb_container.callbacks if quiet else None
    for i in range(num_boost_round):
        if cb_container.before_iteration(bst, i, dtrain, evals):
            break
        if lean:
            if i == 0:
                bst._assign_dmatrix_features(dtrain)  # what Booster.update checks each round
            grad, hess = objective(round_trip.margins())
            round_trip.boost(i, grad, hess)
        else:
            bst.update(dtrain, iteration=i, fobj=obj)
        if quiet:
            if hooks and any(c.after_iteration(bst, i, cb_container.history) for c in hooks):
                break
        elif cb_container.after_iteration(bst, i, dtrain, evals):
            break
    bst = cb_container.after_training(bst)
    if evals_result is not None:
        evals_result.update(cb_container.history)
    return bst.reset()
