"""GPU check for boost-focal: one command, a few minutes, on a machine with a CUDA GPU.

    PYTHONPATH=. python benchmarks/gpu_check.py            # from the repository root

Prints, in order:
  1. the environment (GPU, compute capability, numba / numba-cuda / cupy / xgboost versions);
  2. agreement of the CUDA kernels with the CPU kernels on --rows rows (1M): binary and
     multiclass (K=--classes), weighted, every Hessian mode, plus loss and posterior;
  3. kernel throughput (device-resident inputs), the per-round cost of the XGBoost path
     (upload of the host margin + kernel + error-flag read-back) and the CPU kernels' time;
  4. end-to-end XGBoost device="cuda" training, FocalLoss vs the built-in objective, binary
     (--rows x --features) and multiclass (K=--classes); target: at most 1.2x built-in.
     Skipped with a message if xgboost is not installed.

Exit status 1 if the kernels disagree with the CPU kernels. The first GPU call compiles the
kernels (seconds); that time is printed separately and excluded from the throughput figures.
Timings are medians of --repeats runs in the same process.
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

TOL = 1e-5  # agreement: |gpu - cpu| <= TOL * max|cpu| (float32 outputs carry ~6e-8 relative)
TARGET_RATIO = 1.2
MODES = ("exact", "bohning", "abs", "clip")


def _median_time(fn, repeats, sync):
    times = []
    for _ in range(repeats):
        sync()
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def _pkg_version(name):
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # noqa: BLE001
        return "not installed"


# ----------------------------------------------------------------------------------- 1
def report_environment(cuda):
    print("== 1. environment")
    print(f"python {platform.python_version()}, numpy {np.__version__}, numba {_pkg_version('numba')}, "
          f"numba-cuda {_pkg_version('numba-cuda')}")
    print(f"cupy: {_pkg_version('cupy-cuda13x')} (cuda13x) / {_pkg_version('cupy-cuda12x')} (cuda12x); "
          f"xgboost: {_pkg_version('xgboost')}")
    if not cuda.is_available():
        print("numba-cuda sees no GPU: nothing to check here")
        sys.exit(2)
    dev = cuda.get_current_device()
    name = getattr(dev, "name", "the numba-cuda simulator")
    name = name.decode() if isinstance(name, bytes) else name
    print(f"GPU: {name}, compute capability {dev.compute_capability}")
    print("(the kernels compute in float64 internally: Hopper's FP64 rate is half its FP32 rate)")


# ----------------------------------------------------------------------------------- 2
def _data(rng, n, k):
    shape = (n,) if k is None else (n, k)
    z = rng.normal(scale=3.0, size=shape).astype(np.float32)
    z.reshape(-1)[:6] = [0.0, 40.0, -40.0, 300.0, -300.0, 1e-4]
    y = rng.integers(0, 2 if k is None else k, n).astype(np.float32)
    w = rng.uniform(0.0, 3.0, n)
    return z, y, w


def _err(dev_arr, host):
    """max |device - host| / max |host|; inf if the device output lost the float32 dtype or shape."""
    got = dev_arr.copy_to_host() if hasattr(dev_arr, "copy_to_host") else dev_arr.get()
    if got.shape != host.shape or got.dtype != np.float32:
        return float("inf")
    scale = max(float(np.abs(host).max()), 1e-30)
    return float(np.abs(got.astype(np.float64) - host).max() / scale)


def check_agreement(cuda, args):
    from boost_focal import FocalLoss

    print(f"\n== 2. agreement with the CPU kernels ({args.rows:,} rows, float32 margins, weighted;"
          " error = max |gpu - cpu| / max |cpu|, against the float64 CPU kernels)")
    rng = np.random.default_rng(0)
    worst = 0.0
    for k in (None, args.classes):
        z, y, w = _data(rng, args.rows, k)
        dz, dy, dw = cuda.to_device(z), cuda.to_device(y), cuda.to_device(w)
        label = "binary" if k is None else f"softmax K={k}"
        alpha = 0.25 if k is None else list(np.linspace(0.2, 1.0, k))
        for mode in MODES:
            fl = FocalLoss(gamma=2.0, alpha=alpha, hessian=mode)
            t = time.perf_counter()
            g, h = fl.grad_hess(dz, dy, dw)
            first = time.perf_counter() - t
            gc, hc = fl.grad_hess(z.astype(np.float64), y, w)  # the float64 CPU reference
            eg, eh = _err(g, gc), _err(h, hc)
            worst = max(worst, eg, eh)
            g32, h32 = fl.grad_hess(z, y, w)  # what the CPU path gives for float32 margins
            e32 = max(_err(g, g32), _err(h, h32))
            print(f"  {label:14s} {mode:8s} grad err {eg:.2e}  hess err {eh:.2e}  | vs CPU float32 path {e32:.2e}"
                  f"   (first call {first:.2f} s)")
        fl = FocalLoss(gamma=2.0, alpha=alpha)
        z64 = z.astype(np.float64)
        el = _err(fl.loss(dz, dy, dw), fl.loss(z64, y, w))
        ep = _err(fl.posterior(dz), fl.posterior(z64))
        worst = max(worst, el, ep)
        print(f"  {label:14s} loss err {el:.2e}  posterior err {ep:.2e}")
    try:
        import cupy

        z, y, w = _data(rng, 1000, None)
        g, _ = FocalLoss().grad_hess(cupy.asarray(z), cupy.asarray(y), cupy.asarray(w))
        ok_type = isinstance(g, cupy.ndarray)
        e = _err(g, FocalLoss().grad_hess(z.astype(np.float64), y, w)[0])
        worst = max(worst, e if ok_type else float("inf"))
        print(f"  cupy in -> {type(g).__module__}.{type(g).__name__} out, grad err {e:.2e}")
    except ImportError:
        print("  cupy not installed: cupy round trip not checked")
    verdict = "PASS" if worst <= TOL else "FAIL"
    print(f"  worst error / scale: {worst:.2e} (tolerance {TOL:g}) -> {verdict}")
    return worst <= TOL


# ----------------------------------------------------------------------------------- 3
def measure_throughput(cuda, args):
    from boost_focal import FocalLoss
    from boost_focal import _cuda_kernels as kc
    from boost_focal._cuda import _launch_grad_hess

    print(f"\n== 3. throughput ({args.rows:,} rows, median of {args.repeats})")
    rng = np.random.default_rng(1)
    sync = cuda.synchronize
    for k in (None, args.classes):
        z, y, w = _data(rng, args.rows, k)
        fl = FocalLoss(gamma=2.0)
        alpha = fl.class_alpha(2 if k is None else k)
        dz, dy, dw = cuda.to_device(z), cuda.to_device(y), cuda.to_device(w)
        grad, hess = cuda.device_array_like(dz), cuda.device_array_like(dz)
        flags = cuda.to_device(np.zeros(kc.N_FLAGS, dtype=np.int32))
        alpha_dev = cuda.to_device(alpha)

        def kernel():
            _launch_grad_hess(kc, fl, dz, dy, dw, True, alpha, flags, grad, hess, alpha_dev)

        def xgb_round():  # what xgb_cuda_grad_hess does per round, with the margin on the host
            dz.copy_to_device(z)
            flags.copy_to_device(np.zeros(kc.N_FLAGS, dtype=np.int32))
            kernel()
            flags.copy_to_host()

        kernel()
        sync()
        t_kernel = _median_time(kernel, args.repeats, sync)
        t_round = _median_time(xgb_round, args.repeats, sync)
        t_public = _median_time(lambda: fl.grad_hess(dz, dy, dw), args.repeats, sync)
        t_cpu = _median_time(lambda: fl.grad_hess(z, y, w), max(3, args.repeats // 4), lambda: None)
        moved = z.nbytes * 3 + y.nbytes + w.nbytes  # read margin, labels, weights; write grad, hess
        label = "binary" if k is None else f"softmax K={k}"
        print(f"  {label:14s} kernel {t_kernel * 1e3:7.3f} ms ({args.rows / t_kernel / 1e9:6.2f} G rows/s, "
              f"{moved / t_kernel / 1e9:6.1f} GB/s)  | XGBoost-path round (H2D margin + kernel + flags) "
              f"{t_round * 1e3:7.3f} ms | FocalLoss.grad_hess(device) {t_public * 1e3:7.3f} ms | "
              f"CPU kernels ({os.cpu_count()} cores) {t_cpu * 1e3:8.2f} ms")


# ----------------------------------------------------------------------------------- 4
def _booster_device(bst):
    return json.loads(bst.save_config())["learner"]["generic_param"]["device"]


def xgboost_end_to_end(cuda, args):
    print(f"\n== 4. XGBoost device='cuda' end to end ({args.rows:,} x {args.features})")
    try:
        import xgboost as xgb
    except ImportError:
        print("  SKIPPED: xgboost is not installed on this machine (pip install xgboost to run this part);"
              " the kernel checks above do not need it")
        return
    from boost_focal import FocalLoss
    from boost_focal import _cuda

    rng = np.random.default_rng(2)
    X = rng.normal(size=(args.rows, args.features)).astype(np.float32)
    beta = rng.normal(size=args.features)
    score = X @ beta + rng.normal(scale=2.0, size=args.rows)
    problems = [("binary", None, (score > np.quantile(score, 0.9)).astype(np.float32), args.rounds)]
    cuts = np.quantile(score, np.linspace(0, 1, args.classes + 1)[1:-1])
    problems.append((f"softmax K={args.classes}", args.classes, np.searchsorted(cuts, score).astype(np.float32),
                     max(5, args.rounds // 2)))

    for label, k, y, rounds in problems:
        dtrain = xgb.QuantileDMatrix(X, label=y) if hasattr(xgb, "QuantileDMatrix") else xgb.DMatrix(X, label=y)
        params = {"device": "cuda", "tree_method": "hist", "max_depth": 6, "eta": 0.1, "max_bin": 256}
        if k is None:
            params["objective"] = "binary:logistic"
        else:
            params.update(objective="multi:softprob", num_class=k)
        fl = FocalLoss(gamma=2.0)
        obj_time = [0.0]

        def focal_obj(predt, d):  # FocalLoss.__call__ dispatches to the GPU path; timed
            t = time.perf_counter()
            out = fl(predt, d)
            obj_time[0] += time.perf_counter() - t
            return out

        def cpu_obj(predt, d):  # the same focal gradients from the CPU kernels, returned as NumPy
            return fl.grad_hess(predt, y)

        def train(obj):
            return xgb.train(params, dtrain, rounds, obj=obj)

        xgb.train(params, dtrain, 2)  # warm-up: XGBoost's CUDA context and kernels
        train(focal_obj)  # warm-up: our kernels' compilation
        used = _booster_device(train(None))
        t_builtin = _median_time(lambda: train(None), args.xgb_repeats, cuda.synchronize)
        obj_time[0] = 0.0
        t_focal = _median_time(lambda: train(focal_obj), args.xgb_repeats, cuda.synchronize)
        per_round_obj = obj_time[0] / (args.xgb_repeats * rounds)
        gpu_path = dtrain in _cuda._XGB_DATA  # xgb_cuda_grad_hess cached this DMatrix's labels
        t_cpu = _median_time(lambda: train(cpu_obj), max(1, args.xgb_repeats - 1), cuda.synchronize)
        ratio = t_focal / t_builtin
        verdict = "PASS" if ratio <= TARGET_RATIO else "OVER TARGET"
        print(f"  {label:14s} {rounds} rounds on device={used}: built-in {t_builtin:.2f} s | FocalLoss (GPU grads) "
              f"{t_focal:.2f} s = {ratio:.2f}x built-in [{verdict}, target <= {TARGET_RATIO}x] | FocalLoss with "
              f"CPU-kernel grads {t_cpu:.2f} s = {t_cpu / t_builtin:.2f}x")
        print(f"  {'':14s} objective {per_round_obj * 1e3:.2f} ms of {t_focal / rounds * 1e3:.2f} ms per round; "
              f"gradients computed on the GPU: {gpu_path}")
        if not used.startswith("cuda"):
            print(f"  {'':14s} NOTE: XGBoost trained on {used!r}, not a GPU: these are not GPU timings")
        bst_t = train(None)
        t_pred = _median_time(lambda: bst_t.predict(dtrain, output_margin=True, training=True), 5, cuda.synchronize)
        print(f"  {'':14s} XGBoost margin to host (predict output_margin, training=True): {t_pred * 1e3:.2f} ms "
              "per round: what a device-resident loop would save")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=50, help="boosting rounds, binary (multiclass: half)")
    ap.add_argument("--repeats", type=int, default=20, help="repeats per kernel timing")
    ap.add_argument("--xgb-repeats", type=int, default=3, help="repeats per XGBoost training timing")
    ap.add_argument("--skip-xgboost", action="store_true")
    args = ap.parse_args(argv)

    from boost_focal._cuda import _import_cuda

    cuda = _import_cuda()
    t0 = time.perf_counter()
    report_environment(cuda)
    ok = check_agreement(cuda, args)
    measure_throughput(cuda, args)
    if args.skip_xgboost:
        print("\n== 4. XGBoost: skipped (--skip-xgboost)")
    else:
        xgboost_end_to_end(cuda, args)
    print(f"\ntotal {time.perf_counter() - t0:.1f} s; agreement {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
