"""Kernel throughput: boost-focal's float32 kernels against a NumPy copy and a NumPy reference.

What is timed, per call (medians of interleaved repeats, one process):

Copy and kernel are timed in turns; NumPy, the float64 kernel and the kernel again in a second
group of turns (see ``_timings``).

* copy: ``np.copyto(grad, margin); np.copyto(hess, label)`` (binary) or ``np.copyto(grad, margin);
  np.copyto(hess, margin)`` (multiclass) into preallocated arrays: moving the kernel's bytes
  with no arithmetic, the floor for any implementation;
* boost-focal: ``FocalLoss._grad_hess_checked`` on float32 margins, the per-round call of the
  XGBoost/LightGBM adapters (labels validated once per dataset), outputs allocated per call;
* NumPy: the same stable formulas in vectorised float32 NumPy (numpy_reference.py);
* float64 reference: boost-focal's float64 kernels (libm exp/log), the accuracy reference.

The accuracy rows compare the float32 kernels with the float64 reference on a grid of margins
(|z| <= 60) in float32 ulps; the exact Hessian is measured against the size of the terms that
cancel in it (a relative error is meaningless where it changes sign).
"""

import numba
import numpy as np

from boost_focal import FocalLoss

from . import numpy_reference
from .timing import Row, fmt_ms, interleaved_medians, verdict

COPY_TARGET_BINARY = 4.0
COPY_TARGET_SOFTMAX = 6.0
NUMPY_TARGET = 20.0


def _versions():
    return f"numba {numba.__version__}, numpy {np.__version__}"


def _binary_data(n, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 3.0, n).astype(np.float32)
    y = (rng.random(n) < 0.05).astype(np.float32)  # float32 labels, as XGBoost hands them out
    return z, y


def _softmax_data(n, k, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.0, (n, k)).astype(np.float32)
    y = rng.integers(0, k, n).astype(np.float32)
    return z, y


def _timings(copy, kernel, numpy, f64, repeats):
    """Medians in seconds: the kernel against the copy, then against NumPy and the float64 kernel.

    Two interleaved groups, each ratio taken within its group: a 100 ms NumPy call between a
    1 ms copy and a 3 ms kernel would leave each of them starting from caches and clocks that
    the NumPy call, not the pair, set up. The kernel is timed in both groups; the ratio to the
    copy uses the first group's figure, the NumPy speed-up the second's.
    """
    pair = interleaved_medians({"copy": copy, "kernel": kernel}, repeats)
    slow = interleaved_medians({"kernel": kernel, "numpy": numpy, "f64": f64}, max(3, repeats // 3))
    return {"copy": pair["copy"], "kernel": pair["kernel"], "kernel_vs_numpy": slow["kernel"],
            "numpy": slow["numpy"], "f64": slow["f64"]}


def binary_rows(n, gamma, repeats):
    z, y = _binary_data(n)
    fl = FocalLoss(gamma, alpha=0.25)
    alpha = fl.class_alpha(2)
    w = np.empty(0)
    g = np.empty_like(z)
    h = np.empty_like(z)
    t = _timings(
        copy=lambda: (np.copyto(g, z), np.copyto(h, y)),
        kernel=lambda: fl._grad_hess_checked(z, y, w, alpha),
        numpy=lambda: numpy_reference.binary_grad_hess(z, y, gamma, 0.25),
        f64=lambda: fl._grad_hess_checked(z, y, w, alpha, dtype=np.float64),
        repeats=repeats,
    )
    return _rows(f"binary, gamma={gamma:g}, alpha=0.25", f"n={n:,}", t, COPY_TARGET_BINARY, NUMPY_TARGET)


def softmax_rows(n, k, gamma, repeats):
    z, y = _softmax_data(n, k)
    fl = FocalLoss(gamma)
    alpha = fl.class_alpha(k)
    w = np.empty(0)
    g = np.empty_like(z)
    h = np.empty_like(z)
    t = _timings(
        copy=lambda: (np.copyto(g, z), np.copyto(h, z)),
        kernel=lambda: fl._grad_hess_checked(z, y, w, alpha),
        numpy=lambda: numpy_reference.softmax_grad_hess(z, y, gamma, alpha),
        f64=lambda: fl._grad_hess_checked(z, y, w, alpha, dtype=np.float64),
        repeats=repeats,
    )
    return _rows(f"softmax K={k}, gamma={gamma:g}", f"n={n:,} x K={k}", t, COPY_TARGET_SOFTMAX)


PUBLIC_TARGET_BINARY = 2.5
PUBLIC_TARGET_SOFTMAX = 6.0


def public_rows(repeats, n_binary=4_000_000, n_softmax=400_000, k=10):
    """The public ``FocalLoss.grad_hess(margin, y)`` (validation included) against a copy.

    float32 margins and labels. Information rows: the bare kernel (``_grad_hess_checked``, no
    validation), the validation as separate passes before the kernel (``_prepare``, what
    ``grad_hess`` did before the kernels flagged invalid input themselves), and integer labels
    (converted to float32 and range-checked before the kernel).
    """
    rows = []
    cases = (
        ("binary, gamma=2, alpha=0.25", f"n={n_binary:,}", _binary_data(n_binary), FocalLoss(2.0, alpha=0.25),
         PUBLIC_TARGET_BINARY),
        (f"softmax K={k}, gamma=2", f"n={n_softmax:,} x K={k}", _softmax_data(n_softmax, k), FocalLoss(2.0),
         PUBLIC_TARGET_SOFTMAX),
    )
    for case, sizes, (z, y), fl, target in cases:
        w = np.empty(0)
        alpha = fl.class_alpha(2 if z.ndim == 1 else z.shape[1])
        g, h = np.empty_like(z), np.empty_like(z)
        y64 = y.astype(np.int64)
        copy = (lambda: (np.copyto(g, z), np.copyto(h, y))) if z.ndim == 1 else (lambda: (np.copyto(g, z), np.copyto(h, z)))
        t = interleaved_medians({
            "copy": copy,
            "public": lambda: fl.grad_hess(z, y),
            "kernel": lambda: fl._grad_hess_checked(z, y, w, alpha),
            "separate": lambda: fl._grad_hess_checked(*fl._prepare(z, y, None)),
            "int64": lambda: fl.grad_hess(z, y64),
        }, repeats)
        threads = f"{numba.get_num_threads()} (numba)"
        raw = {key: v * 1e3 for key, v in t.items()}

        def row(what, key, tgt=None):
            r = t[key] / t["copy"]
            return Row("kernel", f"{case}: {what}", sizes, threads, _versions(),
                       f"{fmt_ms(t[key])} (copy {fmt_ms(t['copy'])})", f"{r:.2f}x copy",
                       f"<= {tgt:g}x" if tgt else "", verdict(r, tgt) if tgt else "", raw)

        rows += [
            row("public FocalLoss.grad_hess (float32 margin and labels, validation in the kernel pass) vs NumPy copy",
                "public", target),
            row("the bare kernel, no validation (for comparison)", "kernel"),
            row("validation as separate passes before the kernel (the previous grad_hess)", "separate"),
            row("public grad_hess with int64 labels (converted and checked before the kernel)", "int64"),
        ]
    return rows


def _rows(case, sizes, t, copy_target, numpy_target=None):
    """numpy_target: the issue sets one for the binary kernel only (>= 20x NumPy)."""
    threads = f"{numba.get_num_threads()} (numba)"
    vs_copy = t["kernel"] / t["copy"]
    vs_numpy = t["numpy"] / t["kernel_vs_numpy"]
    raw = {k: v * 1e3 for k, v in t.items()}
    return [
        Row(
            "kernel", f"{case}: float32 kernel vs NumPy copy of its bytes", sizes, threads, _versions(),
            f"{fmt_ms(t['kernel'])} (copy {fmt_ms(t['copy'])})", f"{vs_copy:.2f}x copy",
            f"<= {copy_target:g}x", verdict(vs_copy, copy_target), raw,
        ),
        Row(
            "kernel", f"{case}: speed-up over vectorised NumPy", sizes, f"{threads} / 1 (NumPy)", _versions(),
            f"NumPy {fmt_ms(t['numpy'])}", f"{vs_numpy:.1f}x faster",
            f">= {numpy_target:g}x" if numpy_target else "",
            verdict(vs_numpy, numpy_target, larger_is_better=True) if numpy_target else "", raw,
        ),
        Row(
            "kernel", f"{case}: float64 reference kernel (libm), for comparison", sizes, threads, _versions(),
            fmt_ms(t["f64"]), f"{t['f64'] / t['kernel_vs_numpy']:.1f}x the float32 kernel", "", "", raw,
        ),
    ]


# ---------------------------------------------------------------------------- accuracy
def _ulps(x32, ref, scale=None):
    mag = np.abs(ref) if scale is None else np.maximum(np.abs(ref), scale)
    keep = mag > 1e-30  # below, float32 intermediates are subnormal (absolute errors ~1e-38)
    spacing = np.spacing(mag[keep].astype(np.float32)).astype(np.float64)
    return float(np.max(np.abs(x32[keep].astype(np.float64) - ref[keep]) / spacing, initial=0.0))


def _binary_terms_scale(z, y, gamma, alpha):
    """Sum of |terms| of the exact Hessian a r^g ((2g+1) q r + g q log q (r - g q)), float64."""
    u = np.where(y > 0.5, z, -z)
    a = np.where(y > 0.5, alpha, 1.0 - alpha)
    log_q = -np.logaddexp(0.0, -u)
    log_r = -np.logaddexp(0.0, u)
    q, r = np.exp(log_q), np.exp(log_r)
    arg = a * np.exp(gamma * log_r)
    return arg * ((2 * gamma + 1) * q * r + gamma * q * np.abs(log_q) * (r + gamma * q))


def accuracy_rows():
    rows = []
    z = np.linspace(-60.0, 60.0, 240_001).astype(np.float32)
    worst_g, worst_h, worst_hx = 0.0, 0.0, 0.0
    gammas = (0.5, 1.0, 2.0, 2.5, 1.7, 3.0)
    for gamma in gammas:
        for label in (0.0, 1.0):
            y = np.full(z.shape, label, np.float32)
            for hessian in ("bohning", "exact"):
                fl = FocalLoss(gamma, alpha=0.25, hessian=hessian)
                a = fl.class_alpha(2)
                g32, h32 = fl._grad_hess_checked(z, y, np.empty(0), a)
                g64, h64 = fl._grad_hess_checked(z.astype(np.float64), y, np.empty(0), a)
                worst_g = max(worst_g, _ulps(g32, g64))
                if hessian == "bohning":
                    worst_h = max(worst_h, _ulps(h32, h64))
                else:
                    scale = _binary_terms_scale(z.astype(np.float64), y, gamma, 0.25)
                    worst_hx = max(worst_hx, _ulps(h32, h64, scale))
    sizes = f"{z.size:,} margins in [-60, 60], gamma in {{{', '.join(f'{g:g}' for g in gammas)}}}, y in {{0, 1}}"
    rows.append(Row(
        "accuracy", "binary float32 kernel vs float64 reference: max error (grad / Boehning hess / exact hess*)",
        sizes, f"{numba.get_num_threads()} (numba)", _versions(),
        f"{worst_g:.1f} / {worst_h:.1f} / {worst_hx:.1f} ulps", "", "a few ulps", verdict(max(worst_g, worst_h, worst_hx), 8.0),
        {"grad": worst_g, "hess": worst_h, "hess_exact_scaled": worst_hx},
    ))
    k = 10
    worst_g, worst_h = 0.0, 0.0
    for scale in (1.0, 5.0, 20.0):
        zz, yy = _softmax_data(50_000, k, seed=int(scale))
        zz = (zz * np.float32(scale / 2.0)).astype(np.float32)
        for gamma in (2.0, 2.5):
            fl = FocalLoss(gamma)
            a = fl.class_alpha(k)
            g32, h32 = fl._grad_hess_checked(zz, yy, np.empty(0), a)
            g64, h64 = fl._grad_hess_checked(zz.astype(np.float64), yy, np.empty(0), a)
            worst_g = max(worst_g, _ulps(g32, g64))
            worst_h = max(worst_h, _ulps(h32, h64))
    rows.append(Row(
        "accuracy", f"softmax K={k} float32 kernel vs float64 reference: max error (grad / Boehning hess)",
        "3 x 50,000 rows, logit sd 1, 5, 20; gamma 2, 2.5", f"{numba.get_num_threads()} (numba)", _versions(),
        f"{worst_g:.1f} / {worst_h:.1f} ulps", "", "a few ulps", verdict(max(worst_g, worst_h), 8.0),
        {"grad": worst_g, "hess": worst_h},
    ))
    return rows


def posterior_rows(repeats, n_binary=1_000_000, n_softmax=100_000, k=10):
    """``FocalLoss.posterior`` (NumPy, boost_focal/_posterior.py) against the raw map of the same
    float32 margins (scipy.special.expit / softmax): what recovering the posterior costs on top
    of the sigmoid/softmax a logloss model's ``predict_proba`` applies. Information rows."""
    from scipy.special import expit, softmax

    rows = []
    cases = (
        ("binary, gamma=2, alpha=0.25", f"n={n_binary:,}", _binary_data(n_binary)[0], FocalLoss(2.0, alpha=0.25),
         expit),
        (f"softmax K={k}, gamma=2", f"n={n_softmax:,} x K={k}", _softmax_data(n_softmax, k)[0], FocalLoss(2.0),
         lambda z: softmax(z, axis=1)),
    )
    for case, sizes, z, fl, raw_map in cases:
        t = interleaved_medians({"raw": lambda: raw_map(z), "posterior": lambda: fl.posterior(z)}, repeats)
        r = t["posterior"] / t["raw"]
        rows.append(Row("kernel", f"{case}: FocalLoss.posterior (NumPy, compiles nothing) vs the raw "
                        f"{'sigmoid (scipy expit)' if z.ndim == 1 else 'softmax (scipy)'}", sizes,
                        f"{numba.get_num_threads()} (numba)", _versions(),
                        f"{fmt_ms(t['posterior'])} (raw {fmt_ms(t['raw'])})", f"{r:.2f}x raw", "", "",
                        {key: v * 1e3 for key, v in t.items()}))
    return rows


def run(quick):
    repeats = 9 if quick else 31
    rows = []
    for gamma in (2.0, 2.5):
        rows += binary_rows(1_000_000, gamma, repeats)
    rows += softmax_rows(200_000, 10, 2.0, repeats)
    rows += public_rows(max(5, repeats // 2))
    rows += posterior_rows(max(5, repeats // 3))
    rows += accuracy_rows()
    return rows
