"""The scalar math of :mod:`boost_focal._scalar`, run by the Python interpreter on a few rows.

A constant margin has one distinct row per class (the starting score's optimisation, the
loss scale's Hessian at the start: ``FocalLoss.init_score``, ``estimators/_scale.py``). For
those K rows a compiled kernel costs more than it saves: on an empty Numba cache the float64
reference kernels took about 1 s of the first multiclass fit's compilation, for work that the
interpreter does in well under a millisecond per evaluation at K = 5.

The functions run are ``_scalar``'s own (their ``py_func``, with every call to another
``_scalar`` function routed to that function's interpreted twin): the same source, not a second
copy of the formulas. The arithmetic is IEEE float64 in both and the reference kernels are
compiled without fastmath, so the results agree with the compiled kernels bit for bit
(tests/test_interpreted.py checks it).
"""

import types

import numpy as np
from numba.core.registry import CPUDispatcher

from . import _scalar

#: Above this many classes the K x K rows go to the compiled reference kernels instead: the
#: interpreter's cost grows with K^2 (a warm init_score on 1,000 rows: 2.0 ms at K = 5 and 3.4 ms
#: at K = 10, against 1.2 ms and 1.1 ms with the compiled kernels once loaded).
MAX_CLASSES = 10


def _twins(module):
    """{name: interpreted function} for every njit function of ``module``, calling each other."""
    namespace = dict(vars(module))
    for name, obj in vars(module).items():
        if isinstance(obj, CPUDispatcher):
            f = obj.py_func
            namespace[name] = types.FunctionType(f.__code__, namespace, name, f.__defaults__, f.__closure__)
    return namespace


_SCALAR = _twins(_scalar)
_binary_element = _SCALAR["binary_element"]
_softmax_row = _SCALAR["softmax_row"]
_softmax_row_loss = _SCALAR["softmax_row_loss"]


def binary_rows(z, y, w, gamma, alpha_pos, alpha_neg, mode):
    """(loss, grad, hess) float64 arrays of the rows (z[i], y[i]) weighted by w[i] (a few rows)."""
    out = np.array([_binary_element(float(z[i]), float(y[i]), float(w[i]), gamma, alpha_pos, alpha_neg, mode)
                    for i in range(len(z))]).reshape(-1, 3)
    return out[:, 0], out[:, 1], out[:, 2]


def softmax_rows(z, y, w, gamma, alpha, mode, bohning):
    """(loss (n,), grad (n, K), hess (n, K)) of the rows of z (n, K) with labels y, weights w.

    The loss is softmax_row_loss's (as in the reference loss kernel), not softmax_row's own
    value (the same number, summed in another order).
    """
    z = np.asarray(z, dtype=np.float64)
    grad = np.empty_like(z)
    hess = np.empty_like(z)
    loss = np.empty(z.shape[0])
    z = z.astype(object)  # Python floats: the same IEEE float64 arithmetic, half the time of NumPy scalars
    for i in range(z.shape[0]):
        yi = int(y[i])
        _softmax_row(z, i, yi, float(w[i]), gamma, float(alpha[yi]), mode, bohning, grad, hess)
        loss[i] = float(w[i]) * _softmax_row_loss(z, i, yi, gamma, float(alpha[yi]))
    return loss, grad, hess
