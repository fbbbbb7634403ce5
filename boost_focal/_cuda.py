"""Focal loss on the GPU: device arrays in, device arrays out, and XGBoost ``device="cuda"``.

Two entry points use it:

* :class:`~boost_focal.focal.FocalLoss` methods given a device array (anything with
  ``__cuda_array_interface__``: CuPy, Numba, PyTorch CUDA tensors) call :func:`grad_hess`,
  :func:`loss` or :func:`posterior`, which return device arrays (CuPy if the margin was CuPy,
  else Numba device arrays).
* The XGBoost objective adapter asks :func:`booster_device_from_stack` which device the
  Booster calling it trains on and, for ``"cuda"``, calls :func:`xgb_cuda_grad_hess`. XGBoost
  hands the objective host margins even on the GPU but consumes device gradients there, so the
  gradients never come back to the host; labels and weights are uploaded once per training run.

The kernels live in :mod:`boost_focal._cuda_kernels` and call the same scalar math as the CPU
kernels. ``numba.cuda`` is imported only on first use, so the package imports without
numba-cuda; the first GPU call compiles the kernels (seconds; cached on disk afterwards).
"""

import json
import sys
import weakref
from contextlib import nullcontext

import numpy as np

from ._validation import check_labels, check_margin_shape, check_sample_weight

INSTALL_HINT = "pip install numba-cuda cupy-cuda12x (or cupy-cuda13x; from a checkout: pip install '.[gpu]')"


# ---------------------------------------------------------------------------- availability
def is_device_array(x):
    """True for a GPU array: ``__cuda_array_interface__`` (CuPy, Numba, torch) or a simulated one.

    Cheap and import-free, so host-only code can call it on every input.
    """
    if isinstance(x, np.ndarray):
        return False
    # Numba's simulator (NUMBA_ENABLE_CUDASIM=1) arrays only carry the __cuda_ndarray__ marker.
    return hasattr(x, "__cuda_array_interface__") or getattr(x, "__cuda_ndarray__", False) is True


def _import_cuda():
    """``numba.cuda``, or ImportError naming the extra to install."""
    try:
        from numba import cuda
    except ImportError as exc:
        raise ImportError(f"GPU focal loss needs numba-cuda, which is not importable ({exc}); {INSTALL_HINT}") from exc
    return cuda


def cuda_available():
    """True if numba-cuda is installed and sees a GPU (or runs its simulator)."""
    try:
        cuda = _import_cuda()
    except ImportError:
        return False
    return bool(cuda.is_available())


def require_cuda(reason):
    """The kernel module, or RuntimeError/ImportError saying why the GPU path cannot run.

    ``reason`` says who asked for the GPU (e.g. "XGBoost trains with device='cuda:0'").
    """
    cuda = _import_cuda()
    if not cuda.is_available():
        raise RuntimeError(
            f"{reason}, so FocalLoss would compute gradients on the GPU, but numba-cuda finds no usable "
            f"CUDA GPU/driver. Use device='cpu' (gradients then come from the CPU kernels), or install a "
            f"driver and {INSTALL_HINT}."
        )
    from . import _cuda_kernels

    return _cuda_kernels


# ---------------------------------------------------------------------------- device arrays
def _as_numba(x):
    """A zero-copy Numba view of a device array (simulated arrays pass through)."""
    from numba import cuda

    if getattr(x, "__cuda_ndarray__", False) is True:  # already a Numba (or simulated) array
        return x
    return cuda.as_cuda_array(x)


def _like_input(template, arr):
    """Return ``arr`` as the array library of ``template``: CuPy in, CuPy out; else Numba."""
    if type(template).__module__.split(".")[0] == "cupy":
        import cupy

        return cupy.asarray(arr)  # zero-copy; CuPy keeps ``arr`` alive
    return arr


def _device_margin(margin, name="margin"):
    z = _as_numba(margin)
    if z.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"{name} is a device array of dtype {z.dtype}; device margins must be float32 or float64 "
            "(cast it on the device first)"
        )
    return check_margin_shape(z, name)


def _device_labels(y, n, k_count):
    """Labels on the device. Host labels are fully checked first; device labels by the kernel."""
    from numba import cuda

    if not is_device_array(y):
        return cuda.to_device(check_labels(y, n, k_count))
    d = _as_numba(y)
    if d.ndim == 2 and d.shape[1] == 1:
        d = d[:, 0]
    if d.ndim != 1:
        raise ValueError(f"y must be 1-D with one label per row, got shape {d.shape}")
    if d.shape[0] != n:
        raise ValueError(f"y has {d.shape[0]} labels but the margin has {n} rows")
    if d.dtype.kind not in "iuf":
        raise TypeError(
            f"y is a device array of dtype {d.dtype}; device labels must be integers or floats holding "
            f"class indices 0..{k_count - 1}"
        )
    return d


def _device_weights(sample_weight, n):
    """(weights on the device, has_w). Unweighted passes a 1-element dummy the kernels never read."""
    from numba import cuda

    if sample_weight is None:
        return cuda.to_device(np.ones(1)), False
    if not is_device_array(sample_weight):
        w = check_sample_weight(sample_weight, n)
        return cuda.to_device(w), True
    d = _as_numba(sample_weight)
    if d.ndim != 1 or d.shape[0] != n:
        raise ValueError(f"sample_weight must have shape ({n},), one weight per row, got {d.shape}")
    if d.dtype.kind not in "fiu":
        raise TypeError(f"sample_weight must hold real numbers, got dtype {d.dtype}")
    # Any real dtype works: the kernels widen each weight to float64, as the CPU path does.
    return d, True


def _host_labels_for_balanced(fl, y, n, k_count):
    """Host labels when alpha='balanced' needs class counts (one copy), else None."""
    if not isinstance(fl.alpha, str):
        return None
    host = _as_numba(y).copy_to_host() if is_device_array(y) else np.asarray(y)
    return check_labels(host, n, k_count)


def _raise_flags(flags, what="margin"):
    """Read the kernel's flags (this waits for the kernel) and raise on any bad input."""
    from ._cuda_kernels import FLAG_LABEL, FLAG_MARGIN, FLAG_WEIGHT

    f = flags.copy_to_host()
    if f[FLAG_MARGIN]:
        raise ValueError(f"{what} contains NaN or infinite values; boosting margins must be finite")
    if f[FLAG_LABEL]:
        raise ValueError(
            "y must hold integer class labels in 0..K-1 (binary margins take 0/1 labels, (n, K) margins "
            "take 0..K-1); found a label out of range, non-integral or NaN (checked on the GPU)"
        )
    if f[FLAG_WEIGHT]:
        raise ValueError("sample_weight must be finite and >= 0; found a negative, NaN or infinite weight (checked on the GPU)")


def _mode_code(fl):
    from ._scalar import MODE_CODES

    return MODE_CODES[fl.hessian]


def _prepare(fl, margin, y, sample_weight, kc):
    cuda = kc.cuda
    z = _device_margin(margin)
    n = z.shape[0]
    k_count = 2 if z.ndim == 1 else z.shape[1]
    yd = _device_labels(y, n, k_count)
    wd, has_w = _device_weights(sample_weight, n)
    alpha = fl.class_alpha(k_count, _host_labels_for_balanced(fl, y, n, k_count))
    flags = cuda.to_device(np.zeros(kc.N_FLAGS, dtype=np.int32))
    return z, yd, wd, has_w, alpha, flags


def grad_hess(fl, margin, y, sample_weight=None):
    """``FocalLoss.grad_hess`` on a device margin: (grad, hess) as device arrays shaped like it.

    ``y`` and ``sample_weight`` may be host or device arrays; device ones are validated by the
    kernel (an out-of-range label or negative weight raises ValueError, as on the CPU).
    """
    kc = require_cuda("A device array was passed to FocalLoss.grad_hess")
    cuda = kc.cuda
    z, yd, wd, has_w, alpha, flags = _prepare(fl, margin, y, sample_weight, kc)
    grad = cuda.device_array(z.shape, dtype=z.dtype)
    hess = cuda.device_array(z.shape, dtype=z.dtype)
    _launch_grad_hess(kc, fl, z, yd, wd, has_w, alpha, flags, grad, hess)
    _raise_flags(flags)
    return _like_input(margin, grad), _like_input(margin, hess)


def _launch_grad_hess(kc, fl, z, yd, wd, has_w, alpha, flags, grad, hess, alpha_dev=None):
    from numba import cuda

    mode = _mode_code(fl)
    n = z.shape[0]
    if z.ndim == 1:
        kc.launch(
            kc.binary_grad_hess, n, z, yd, wd, has_w, fl.gamma, float(alpha[1]), float(alpha[0]), mode, grad, hess, flags
        )
    else:
        k_count = z.shape[1]
        if alpha_dev is None:
            alpha_dev = cuda.to_device(np.ascontiguousarray(alpha, dtype=np.float64))
        kc.launch(
            kc.softmax_grad_hess,
            n,
            z,
            yd,
            wd,
            has_w,
            fl.gamma,
            alpha_dev,
            mode,
            (1.0 - 1.0 / k_count) / 2.0,
            grad,
            hess,
            flags,
        )


def loss(fl, margin, y, sample_weight=None):
    """``FocalLoss.loss`` on a device margin: per-sample loss, a device array of shape (n,)."""
    kc = require_cuda("A device array was passed to FocalLoss.loss")
    cuda = kc.cuda
    z, yd, wd, has_w, alpha, flags = _prepare(fl, margin, y, sample_weight, kc)
    out = cuda.device_array(z.shape[0], dtype=z.dtype)
    if z.ndim == 1:
        kc.launch(kc.binary_loss, z.shape[0], z, yd, wd, has_w, fl.gamma, float(alpha[1]), float(alpha[0]), out, flags)
    else:
        alpha_dev = cuda.to_device(np.ascontiguousarray(alpha, dtype=np.float64))
        kc.launch(kc.softmax_loss, z.shape[0], z, yd, wd, has_w, fl.gamma, alpha_dev, out, flags)
    _raise_flags(flags)
    return _like_input(margin, out)


def posterior(fl, margin):
    """``FocalLoss.posterior`` on a device margin, as a device array.

    Binary margins run a kernel. Multiclass margins take one round trip through the host CPU
    posterior: the row normalisation of the softmax posterior lives in ``_posterior.softmax_posterior``
    rather than in a shared row function, and posteriors are computed once per prediction, not
    once per boosting round.
    """
    kc = require_cuda("A device array was passed to FocalLoss.posterior")
    cuda = kc.cuda
    z = _device_margin(margin)
    if z.ndim == 2:
        out = cuda.to_device(fl.posterior(z.copy_to_host()))
        return _like_input(margin, out)
    alpha = fl.class_alpha(2)
    if (alpha <= 0).any():
        raise ValueError("posterior is undefined when a class has alpha = 0 (its loss carries no information)")
    log_alpha = np.log(alpha)
    flags = cuda.to_device(np.zeros(kc.N_FLAGS, dtype=np.int32))
    out = cuda.device_array(z.shape[0], dtype=z.dtype)
    kc.launch(kc.binary_posterior, z.shape[0], z, fl.gamma, float(log_alpha[0] - log_alpha[1]), out, flags)
    _raise_flags(flags)
    return _like_input(margin, out)


# ---------------------------------------------------------------------------- XGBoost device
# Booster -> (kind, ordinal). save_config() costs ~1 ms, too much to repeat every round.
_BOOSTER_DEVICE = weakref.WeakKeyDictionary()
_STACK_DEPTH = 12  # Booster.boost -> [sklearn's inner] -> FocalLoss.__call__ -> adapter -> us


def _booster_from_stack(frame, depth=_STACK_DEPTH):
    """(Booster, its dtrain) from the nearest frame whose ``self`` is an xgboost Booster.

    XGBoost calls a custom objective as ``fobj(y_pred, dtrain)`` inside ``Booster.boost``
    (xgboost >= 3.2; ``Booster.update`` before), so that frame's ``self`` is the Booster and
    its ``dtrain`` the training DMatrix. Returns (None, None) if there is none.
    """
    xgb = sys.modules.get("xgboost")
    if xgb is None:
        return None, None
    booster_cls = xgb.Booster
    while frame is not None and depth > 0:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, booster_cls):
            return candidate, frame.f_locals.get("dtrain")
        frame = frame.f_back
        depth -= 1
    return None, None


def _parse_device(device):
    """XGBoost device string -> ("cuda", ordinal or None) or ("cpu", None)."""
    d = str(device).strip().lower()
    if d.startswith(("cuda", "gpu")):
        _, _, ordinal = d.partition(":")
        return "cuda", int(ordinal) if ordinal else None
    return "cpu", None


def _booster_device(booster):
    """(kind, ordinal) of a Booster, read from its configuration once and cached."""
    try:
        return _BOOSTER_DEVICE[booster]
    except KeyError:
        pass
    config = json.loads(booster.save_config())
    # xgboost >= 2.0 keeps the resolved device here ("cpu", "cuda:0"); it has already fallen
    # back to "cpu" (with its own warning) if device="cuda" was asked for without a GPU.
    device = config.get("learner", {}).get("generic_param", {}).get("device", "cpu")
    result = _parse_device(device)
    _BOOSTER_DEVICE[booster] = result
    return result


def booster_device_from_stack():
    """"cuda" or "cpu": the device of the XGBoost Booster that is calling the objective.

    None when no Booster is found on the call stack (the objective was called directly).
    Any CUDA ordinal ("cuda:1", "gpu") reads "cuda"; :func:`xgb_cuda_grad_hess` picks up the
    ordinal itself. Cached per Booster, so a call costs a few frame lookups.
    """
    booster, _ = _booster_from_stack(sys._getframe(1))
    if booster is None:
        return None
    return _booster_device(booster)[0]


class _XgbDeviceData:
    """Device copies for one training run (one DMatrix with one Booster and one FocalLoss)."""

    def __init__(self, kc, fl, dtrain, booster, predt_shape, predt_dtype):
        cuda = kc.cuda
        n = dtrain.num_row()
        if predt_shape[0] != n:
            raise ValueError(f"the objective got {predt_shape[0]} margins for a DMatrix of {n} rows")
        k_count = 2 if len(predt_shape) == 1 else predt_shape[1]
        y = check_labels(dtrain.get_label(), n, k_count, name="the DMatrix labels")
        w = dtrain.get_weight()
        w = check_sample_weight(w if w.size else None, n, name="the DMatrix weights")
        self.booster_ref = weakref.ref(booster) if booster is not None else None
        self.fl_key = repr(fl)
        self.shape = tuple(predt_shape)
        self.dtype = np.dtype(predt_dtype)
        self.alpha = fl.class_alpha(k_count, y)
        self.y = cuda.to_device(y)
        self.has_w = w.size > 0
        self.w = cuda.to_device(w if self.has_w else np.ones(1))
        self.alpha_dev = cuda.to_device(np.ascontiguousarray(self.alpha, dtype=np.float64))
        # Reused every round: XGBoost copies gradients into its own storage before returning.
        self.z = cuda.device_array(self.shape, dtype=self.dtype)
        self.grad = cuda.device_array(self.shape, dtype=self.dtype)
        self.hess = cuda.device_array(self.shape, dtype=self.dtype)
        self.zero_flags = np.zeros(kc.N_FLAGS, dtype=np.int32)
        self.flags = cuda.to_device(self.zero_flags)

    def matches(self, fl, booster, shape, dtype):
        same_run = self.booster_ref is not None and booster is not None and self.booster_ref() is booster
        return same_run and self.fl_key == repr(fl) and self.shape == tuple(shape) and self.dtype == dtype


# DMatrix -> _XgbDeviceData; dropped with the DMatrix.
_XGB_DATA = weakref.WeakKeyDictionary()


def xgb_cuda_grad_hess(fl, predt, dtrain=None):
    """Focal (grad, hess) for XGBoost on the GPU, as Numba device arrays XGBoost reads in place.

    ``predt`` is the margin XGBoost passes (host NumPy, or a device array). Labels and weights
    are read from ``dtrain`` (or, if None, from the calling ``Booster.boost`` frame), validated
    and uploaded once per training run: they are cached per DMatrix and refreshed when a new
    Booster (a new ``xgb.train``) or a different FocalLoss uses it. The returned arrays are
    reused by the next round's call: XGBoost copies them before the call returns.
    """
    booster, frame_dtrain = _booster_from_stack(sys._getframe(1))
    if dtrain is None:
        dtrain = frame_dtrain
    if dtrain is None:
        raise ValueError("xgb_cuda_grad_hess needs the training DMatrix: pass dtrain")
    ordinal = _booster_device(booster)[1] if booster is not None else None
    where = "XGBoost trains with device='cuda'" + (f" (ordinal {ordinal})" if ordinal is not None else "")
    kc = require_cuda(where)
    cuda = kc.cuda
    device_ctx = cuda.gpus[ordinal] if ordinal is not None else nullcontext()
    with device_ctx:
        on_device = is_device_array(predt)
        if on_device:
            z = _device_margin(predt, name="the XGBoost margin")
        else:
            z_host = np.asarray(predt)
            if z_host.dtype not in (np.float32, np.float64):
                z_host = z_host.astype(np.float32)
            if z_host.ndim == 2 and z_host.shape[1] == 1:
                z_host = z_host[:, 0]
            if z_host.ndim not in (1, 2) or (z_host.ndim == 2 and z_host.shape[1] < 2):
                raise ValueError(f"the XGBoost margin must have shape (n,) or (n, K), K >= 2; got {z_host.shape}")
            z_host = np.ascontiguousarray(z_host)
        shape, dtype = (z.shape, z.dtype) if on_device else (z_host.shape, z_host.dtype)
        data = _XGB_DATA.get(dtrain)
        if data is None or not data.matches(fl, booster, shape, dtype):
            data = _XgbDeviceData(kc, fl, dtrain, booster, shape, dtype)
            if booster is not None:
                _XGB_DATA[dtrain] = data
        if not on_device:
            data.z.copy_to_device(z_host)
            z = data.z
        data.flags.copy_to_device(data.zero_flags)
        _launch_grad_hess(
            kc, fl, z, data.y, data.w, data.has_w, data.alpha, data.flags, data.grad, data.hess, data.alpha_dev
        )
        # Reading the flags back waits for the kernel, so XGBoost (on any stream) sees finished output.
        _raise_flags(data.flags, what="the XGBoost margin (a diverging model? lower learning_rate)")
    return data.grad, data.hess
