"""The GPU path (boost_focal/_cuda.py, _cuda_kernels.py) without a GPU.

CI has no GPU, so:

* every CUDA kernel runs under Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1) and is compared
  with the CPU kernels. The simulator must be switched on before ``numba.cuda`` is first
  imported, so ``test_kernels_under_cuda_simulator`` re-runs this file's ``test_sim_*`` tests in
  a subprocess with the variable set (running the suite with NUMBA_ENABLE_CUDASIM=1 runs them
  in-process instead);
* ``test_kernels_compile_to_ptx`` compiles every kernel to real sm_90 PTX with NVVM, proving
  that the shared ``@njit`` scalar math really compiles for the CUDA target;
* the XGBoost device detection runs against real ``xgb.train`` calls (device reads "cpu") and
  a Booster whose configuration says "cuda".
"""

import json
import os
import re
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest

from boost_focal import FocalLoss
from boost_focal import _cuda

IN_SIM = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
REPO = Path(__file__).resolve().parents[1]
MODES = ["exact", "bohning", "abs", "clip"]


class FakeDeviceArray:
    """Anything with __cuda_array_interface__ takes the GPU path; no GPU is needed to build one."""

    __cuda_array_interface__ = {"shape": (3,), "typestr": "<f4", "data": (0, False), "version": 3}


def _margins(rng, n, k, dtype=np.float32):
    """Margins over the whole range the kernels must handle: typical, large and extreme."""
    shape = (n,) if k is None else (n, k)
    z = rng.normal(scale=3.0, size=shape)
    flat = z.reshape(-1)
    flat[:6] = [0.0, 40.0, -40.0, 300.0, -300.0, 1e-4]
    return z.astype(dtype)


def _call_from_booster(self, fobj, predt, dtrain):
    """Stands in for xgboost's Booster.boost: its ``self`` is the Booster, ``dtrain`` the data."""
    return fobj(predt, dtrain)


def _fake_cuda_booster(device="cuda:0"):
    """A real xgboost Booster whose configuration reports ``device`` (and counts the reads)."""
    xgb = pytest.importorskip("xgboost")
    booster = xgb.Booster()
    config = {"learner": {"generic_param": {"device": device}}}
    booster.config_reads = 0

    def save_config():
        booster.config_reads += 1
        return json.dumps(config)

    booster.save_config = save_config
    return booster


# ============================================================================ host process
if not IN_SIM:

    def test_kernels_under_cuda_simulator():
        """Run every test_sim_* test below with NUMBA_ENABLE_CUDASIM=1, in a fresh interpreter."""
        env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
        cmd = [sys.executable, "-m", "pytest", __file__, "-q", "-x", "-p", "no:cacheprovider", "-k", "test_sim_"]
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"simulated CUDA tests failed:\n{out[-6000:]}"
        passed = re.search(r"(\d+) passed", out)
        assert passed and int(passed.group(1)) >= 40, f"too few simulated tests ran:\n{out[-3000:]}"

    def test_is_device_array():
        assert _cuda.is_device_array(FakeDeviceArray())
        assert not _cuda.is_device_array(np.zeros(3, dtype=np.float32))
        assert not _cuda.is_device_array([0.0, 1.0])
        assert not _cuda.is_device_array(None)

    def test_package_imports_without_numba_cuda():
        """boost_focal must import and run on the CPU when numba-cuda is absent; the GPU path then
        raises an ImportError naming the extra to install."""
        code = textwrap.dedent(
            """
            import sys
            class Block:
                def find_spec(self, name, path=None, target=None):
                    if name == "numba.cuda" or name.startswith("numba.cuda."):
                        raise ImportError("numba-cuda blocked for this test")
            sys.meta_path.insert(0, Block())
            import numpy as np
            import boost_focal
            from boost_focal import FocalLoss
            g, h = FocalLoss().grad_hess(np.array([0.5, -1.0]), np.array([1, 0]))
            assert np.isfinite(g).all() and np.isfinite(h).all()
            assert "numba.cuda" not in sys.modules
            class Dev:
                __cuda_array_interface__ = {}
            try:
                FocalLoss().grad_hess(Dev(), np.array([1, 0]))
            except ImportError as exc:
                assert "pip install numba-cuda" in str(exc) and ".[gpu]" in str(exc), exc
                print("CLEAR-IMPORT-ERROR")
            """
        )
        proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "CLEAR-IMPORT-ERROR" in proc.stdout

    def test_importing_boost_focal_does_not_import_numba_cuda():
        code = "import sys, boost_focal; print('numba.cuda' in sys.modules)"
        proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "False"

    def _no_gpu():
        return not _cuda.cuda_available()

    @pytest.mark.skipif("not _no_gpu()", reason="a CUDA GPU is visible: the no-GPU error cannot be provoked")
    def test_device_array_without_gpu_gives_clear_error():
        with pytest.raises(RuntimeError, match=r"no usable CUDA GPU.*device='cpu'.*pip install numba-cuda.*\.\[gpu\]"):
            FocalLoss().grad_hess(FakeDeviceArray(), np.array([1, 0, 1]))
        with pytest.raises(RuntimeError, match="no usable CUDA GPU"):
            FocalLoss().loss(FakeDeviceArray(), np.array([1, 0, 1]))
        with pytest.raises(RuntimeError, match="no usable CUDA GPU"):
            FocalLoss().posterior(FakeDeviceArray())

    @pytest.mark.skipif("not _no_gpu()", reason="a CUDA GPU is visible: the no-GPU error cannot be provoked")
    def test_xgboost_cuda_booster_without_gpu_gives_clear_error():
        xgb = pytest.importorskip("xgboost")
        booster = _fake_cuda_booster("cuda:0")
        dtrain = xgb.DMatrix(np.zeros((3, 2)), label=[0, 1, 1])
        obj = lambda p, d: _cuda.xgb_cuda_grad_hess(FocalLoss(), p, d)  # noqa: E731
        with pytest.raises(RuntimeError, match=r"XGBoost trains with device='cuda'.*no usable CUDA GPU"):
            _call_from_booster(booster, obj, np.zeros(3, dtype=np.float32), dtrain)

    @pytest.mark.skipif("not _no_gpu()", reason="a CUDA GPU is visible")
    def test_xgboost_falls_back_to_cpu_without_gpu():
        """XGBoost itself turns device='cuda' into 'cpu' (with a warning) when it sees no GPU, and
        the objective then follows it onto the CPU path."""
        xgb = pytest.importorskip("xgboost")
        rng = np.random.default_rng(0)
        X = rng.normal(size=(100, 3))
        dtrain = xgb.DMatrix(X, label=(X[:, 0] > 0).astype(float))
        seen = []

        def obj(predt, d):
            seen.append(_cuda.booster_device_from_stack())
            return FocalLoss().grad_hess(predt, d.get_label())

        with pytest.warns(UserWarning, match="GPU"):
            xgb.train({"device": "cuda", "tree_method": "hist"}, dtrain, 2, obj=obj)
        assert seen == ["cpu", "cpu"]

    def test_booster_config_layout():
        """The device lives at learner.generic_param.device (xgboost >= 2.0); fail loudly if moved."""
        xgb = pytest.importorskip("xgboost")
        X = np.random.default_rng(0).normal(size=(50, 2))
        bst = xgb.train({"device": "cpu"}, xgb.DMatrix(X, label=(X[:, 0] > 0)), 1)
        assert json.loads(bst.save_config())["learner"]["generic_param"]["device"] == "cpu"

    def test_booster_device_from_stack_real_training():
        """Through xgb.train (Booster.boost -> objective) and XGBClassifier (-> sklearn's inner),
        with adapter layers in between, the detection finds the Booster and reads 'cpu'."""
        xgb = pytest.importorskip("xgboost")
        rng = np.random.default_rng(1)
        X = rng.normal(size=(120, 3))
        y = (X[:, 0] + rng.normal(size=120) > 0).astype(int)
        fl = FocalLoss()
        seen = []

        def adapter(predt, y_true):  # a layer like FocalLoss.__call__ -> _frameworks
            seen.append(_cuda.booster_device_from_stack())
            return fl.grad_hess(predt, y_true)

        def train_obj(predt, dtrain):
            return adapter(predt, dtrain.get_label())

        xgb.train({"tree_method": "hist", "device": "cpu"}, xgb.DMatrix(X, label=y), 3, obj=train_obj)
        assert seen == ["cpu"] * 3

        seen.clear()
        xgb.XGBClassifier(n_estimators=2, objective=lambda yt, yp: adapter(yp, yt)).fit(X, y)
        assert seen == ["cpu"] * 2

        assert _cuda.booster_device_from_stack() is None  # no Booster calling

    @pytest.mark.parametrize(
        "device, kind, ordinal",
        [("cuda", "cuda", None), ("cuda:1", "cuda", 1), ("gpu", "cuda", None), ("GPU:0", "cuda", 0), ("cpu", "cpu", None)],
    )
    def test_booster_device_from_stack_mocked(device, kind, ordinal):
        booster = _fake_cuda_booster(device)

        def obj(predt, dtrain):
            return _cuda.booster_device_from_stack()

        for _ in range(3):
            assert _call_from_booster(booster, obj, None, None) == kind
        assert booster.config_reads == 1  # cached per Booster
        assert _cuda._booster_device(booster) == (kind, ordinal)

    def _nvvm_nvrtc_missing():
        try:
            from numba.cuda.cudadrv import nvrtc, nvvm

            if not nvvm.is_available():
                return "NVVM (libnvvm) not found: install the CUDA toolkit or the nvidia-nvvm wheel"
            nvrtc.get_supported_ccs()
        except Exception as exc:  # noqa: BLE001 - any loader failure means "cannot compile here"
            return f"NVVM/NVRTC unavailable ({type(exc).__name__}: {str(exc)[:200]}); pip install nvidia-cuda-nvrtc"
        return None

    def test_kernels_compile_to_ptx(monkeypatch):
        """Every kernel, with the CPU @njit scalar math it calls, compiles to sm_90 PTX.

        numba-cuda (0.30) asks the *current device* for its compute capability when it compiles
        a device function that a kernel calls, even under compile_ptx(cc=...); with no GPU we
        answer (9, 0) for it, which is what compile_ptx compiles the kernel itself for.
        """
        reason = _nvvm_nvrtc_missing()
        if reason:
            pytest.skip(reason)
        from numba import cuda
        import numba.cuda.dispatcher as cuda_dispatcher

        monkeypatch.setattr(cuda_dispatcher, "get_current_device", lambda: types.SimpleNamespace(compute_capability=(9, 0)))
        from boost_focal import _cuda_kernels as kc

        v32, v64, m32, flags = "float32[::1]", "float64[::1]", "float32[:, ::1]", "int32[::1]"
        signatures = {
            "binary_grad_hess": f"void({v32}, {v32}, {v64}, boolean, float64, float64, float64, int64, {v32}, {v32}, {flags})",
            "binary_loss": f"void({v32}, {v32}, {v64}, boolean, float64, float64, float64, {v32}, {flags})",
            "softmax_grad_hess": f"void({m32}, {v32}, {v64}, boolean, float64, {v64}, int64, float64, {m32}, {m32}, {flags})",
            "softmax_loss": f"void({m32}, {v32}, {v64}, boolean, float64, {v64}, {v32}, {flags})",
            "binary_posterior": f"void({v32}, float64, float64, {v32}, {flags})",
        }
        for name, sig in signatures.items():
            ptx, _ = cuda.compile_ptx(getattr(kc, name).py_func, sig, cc=(9, 0))
            assert ".target sm_90" in ptx and ".entry" in ptx, name
            assert name in ptx  # the kernel's mangled entry name
        # float64 margins and int64 labels (FocalLoss on float64 device arrays) compile too
        ptx, _ = cuda.compile_ptx(
            kc.binary_grad_hess.py_func,
            "void(float64[::1], int64[::1], float64[::1], boolean, float64, float64, float64, int64, "
            "float64[::1], float64[::1], int32[::1])",
            cc=(9, 0),
        )
        assert ".entry" in ptx


# ============================================================================ simulator
if IN_SIM:
    from numba import cuda

    def _dev(a):
        return cuda.to_device(np.ascontiguousarray(a))

    def _f64(z):
        """The reference: the CPU kernels on float64 margins (same scalar source, no float32
        shortcuts a CPU float32 path may take)."""
        return z.astype(np.float64)

    def _close(dev, ref, what, dtype=np.float32):
        """Device output has the margin's dtype and matches the reference to that precision."""
        got = dev.copy_to_host()
        assert got.dtype == dtype and got.shape == ref.shape, (what, got.dtype, got.shape)
        scale = max(float(np.abs(ref).max()), 1e-30)
        np.testing.assert_allclose(got.astype(np.float64), ref, rtol=2e-6, atol=2e-6 * scale, err_msg=what)

    @pytest.mark.parametrize("k", [None, 4])
    @pytest.mark.parametrize("mode", MODES)
    @pytest.mark.parametrize("weighted", [False, True])
    def test_sim_grad_hess_matches_cpu(k, mode, weighted):
        rng = np.random.default_rng([k or 2, MODES.index(mode), int(weighted)])
        n = 130
        z = _margins(rng, n, k)
        y = rng.integers(0, 2 if k is None else k, n).astype(np.float32)
        w = rng.uniform(0.0, 3.0, n) if weighted else None
        alpha = 0.3 if k is None else list(rng.uniform(0.1, 1.0, k))
        fl = FocalLoss(gamma=2.0, alpha=alpha, hessian=mode)
        g, h = fl.grad_hess(_dev(z), y, w)
        assert _cuda.is_device_array(g) and _cuda.is_device_array(h)
        gc, hc = fl.grad_hess(_f64(z), y, w)
        _close(g, gc, "grad")
        _close(h, hc, "hess")

    @pytest.mark.parametrize("k", [None, 4])
    @pytest.mark.parametrize("gamma", [0.0, 0.5, 5.0])
    def test_sim_float64_device_labels_and_weights(k, gamma):
        """float64 margins, integer labels and float32 weights, all already on the device."""
        rng = np.random.default_rng(7)
        n = 90
        z = _margins(rng, n, k, dtype=np.float64)
        y = rng.integers(0, 2 if k is None else k, n)
        w = rng.uniform(0.0, 2.0, n).astype(np.float32)
        fl = FocalLoss(gamma=gamma, hessian="exact")
        g, h = fl.grad_hess(_dev(z), _dev(y), _dev(w))
        gc, hc = fl.grad_hess(z, y, w)
        _close(g, gc, "grad", np.float64)
        _close(h, hc, "hess", np.float64)

    @pytest.mark.parametrize("k", [None, 3])
    @pytest.mark.parametrize("weighted", [False, True])
    def test_sim_loss_matches_cpu(k, weighted):
        rng = np.random.default_rng(3)
        n = 100
        z = _margins(rng, n, k)
        y = rng.integers(0, 2 if k is None else k, n)
        w = rng.uniform(0.0, 3.0, n) if weighted else None
        fl = FocalLoss(gamma=1.5, alpha=0.25 if k is None else [0.2, 0.3, 0.5])
        _close(fl.loss(_dev(z), y, w), fl.loss(_f64(z), y, w), "loss")

    @pytest.mark.parametrize("k", [None, 3])
    @pytest.mark.parametrize("gamma", [0.0, 2.0])
    def test_sim_posterior_matches_cpu(k, gamma):
        rng = np.random.default_rng(4)
        z = _margins(rng, 80, k)
        fl = FocalLoss(gamma=gamma, alpha=0.7 if k is None else [0.2, 0.3, 0.5])
        p = fl.posterior(_dev(z))
        assert _cuda.is_device_array(p)
        _close(p, fl.posterior(_f64(z)), "posterior")

    def test_sim_balanced_alpha_with_device_labels():
        rng = np.random.default_rng(5)
        n = 60
        z = _margins(rng, n, 3)
        y = np.r_[np.zeros(40), np.ones(15), np.full(5, 2)].astype(np.int64)
        fl = FocalLoss(alpha="balanced")
        g, h = fl.grad_hess(_dev(z), _dev(y))
        gc, hc = fl.grad_hess(_f64(z), y)
        _close(g, gc, "grad")
        _close(h, hc, "hess")

    def test_sim_column_margin_is_binary():
        rng = np.random.default_rng(6)
        z = _margins(rng, 40, None)
        y = rng.integers(0, 2, 40)
        g, _ = FocalLoss().grad_hess(_dev(z[:, None]), y)
        _close(g, FocalLoss().grad_hess(_f64(z), y)[0], "grad")

    @pytest.mark.parametrize(
        "k, bad_y",
        [(None, 2.0), (None, -1.0), (None, 0.5), (None, np.nan), (3, 3.0), (3, -1.0), (3, 1.5), (3, np.nan)],
    )
    def test_sim_bad_device_labels_raise(k, bad_y):
        rng = np.random.default_rng(8)
        z = _margins(rng, 50, k)
        y = rng.integers(0, 2 if k is None else k, 50).astype(np.float64)
        y[17] = bad_y
        with pytest.raises(ValueError, match=r"y must hold integer class labels in 0\.\.K-1"):
            FocalLoss().grad_hess(_dev(z), _dev(y))
        with pytest.raises(ValueError, match=r"y must hold integer class labels"):
            FocalLoss().loss(_dev(z), _dev(y))

    @pytest.mark.parametrize("k", [None, 3])
    @pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
    def test_sim_non_finite_margin_raises(k, bad):
        rng = np.random.default_rng(9)
        z = _margins(rng, 50, k)
        z.reshape(-1)[33] = bad
        y = rng.integers(0, 2 if k is None else k, 50)
        with pytest.raises(ValueError, match="margin contains NaN or infinite values"):
            FocalLoss().grad_hess(_dev(z), y)
        if k is None:
            with pytest.raises(ValueError, match="margin contains NaN or infinite values"):
                FocalLoss().posterior(_dev(z))

    @pytest.mark.parametrize("bad_w", [-0.5, np.nan, np.inf])
    def test_sim_bad_device_weights_raise(bad_w):
        rng = np.random.default_rng(10)
        z = _margins(rng, 50, None)
        y = rng.integers(0, 2, 50)
        w = np.ones(50)
        w[5] = bad_w
        with pytest.raises(ValueError, match="sample_weight must be finite and >= 0"):
            FocalLoss().grad_hess(_dev(z), y, _dev(w))

    def test_sim_bad_device_shapes_and_dtypes_raise():
        z = _dev(np.zeros(10, dtype=np.float32))
        with pytest.raises(TypeError, match="float32 or float64"):
            FocalLoss().grad_hess(_dev(np.zeros(10, dtype=np.int32)), np.zeros(10))
        with pytest.raises(ValueError, match="has 9 labels but the margin has 10 rows"):
            FocalLoss().grad_hess(z, _dev(np.zeros(9)))
        with pytest.raises(ValueError, match="has 9 labels but the margin has 10 rows"):
            FocalLoss().grad_hess(z, np.zeros(9))  # host labels get the host checks
        with pytest.raises(ValueError, match=r"sample_weight must have shape \(10,\)"):
            FocalLoss().grad_hess(z, np.zeros(10), _dev(np.ones(4)))
        with pytest.raises(ValueError, match=r"shape \(n,\) for binary or \(n, K\)"):
            FocalLoss().grad_hess(_dev(np.zeros((10, 1, 1), dtype=np.float32)), np.zeros(10))
        with pytest.raises(ValueError, match="empty"):
            FocalLoss().grad_hess(_dev(np.zeros(0, dtype=np.float32)), np.zeros(0))

    # -------------------------------------------------------------- XGBoost path
    @pytest.mark.parametrize("k", [None, 4])
    @pytest.mark.parametrize("weighted", [False, True])
    def test_sim_xgb_cuda_grad_hess_matches_cpu_and_uploads_once(k, weighted):
        xgb = pytest.importorskip("xgboost")
        rng = np.random.default_rng(11)
        n = 70
        y = rng.integers(0, 2 if k is None else k, n).astype(np.float32)
        w = rng.uniform(0.1, 2.0, n) if weighted else None
        dtrain = xgb.DMatrix(rng.normal(size=(n, 2)), label=y, weight=w)
        reads = []
        real_get_label = dtrain.get_label
        dtrain.get_label = lambda: reads.append(1) or real_get_label()
        fl = FocalLoss(gamma=2.0, alpha=0.25 if k is None else "balanced")
        obj = lambda p, d: _cuda.xgb_cuda_grad_hess(fl, p, d)  # noqa: E731
        booster = _fake_cuda_booster("cuda:0")
        for _ in range(3):  # three "rounds" of one training run
            z = _margins(rng, n, k)
            g, h = _call_from_booster(booster, obj, z, dtrain)
            gc, hc = fl.resolve_alpha(y, 2 if k is None else k).grad_hess(_f64(z), y, w)
            _close(g, gc, "grad")
            _close(h, hc, "hess")
        assert len(reads) == 1  # labels read and uploaded once per training run
        _call_from_booster(_fake_cuda_booster("cuda"), obj, z, dtrain)  # a new Booster: a new run
        assert len(reads) == 2

    def test_sim_xgb_cuda_grad_hess_finds_dtrain_and_rejects_bad_rounds():
        xgb = pytest.importorskip("xgboost")
        rng = np.random.default_rng(12)
        y = rng.integers(0, 2, 30).astype(np.float32)
        dtrain = xgb.DMatrix(rng.normal(size=(30, 2)), label=y)
        booster = _fake_cuda_booster()
        obj = lambda p, d: _cuda.xgb_cuda_grad_hess(FocalLoss(), p)  # noqa: E731 - dtrain from the frame
        z = _margins(rng, 30, None)
        g, _ = _call_from_booster(booster, obj, z, dtrain)
        _close(g, FocalLoss().grad_hess(_f64(z), y)[0], "grad")
        z[3] = np.nan
        with pytest.raises(ValueError, match="XGBoost margin.*NaN or infinite"):
            _call_from_booster(booster, obj, z, dtrain)
        with pytest.raises(ValueError, match="29 margins for a DMatrix of 30 rows"):
            _call_from_booster(booster, obj, z[:29], dtrain)
        bad = xgb.DMatrix(rng.normal(size=(30, 2)), label=np.full(30, 2.0))
        with pytest.raises(ValueError, match="the DMatrix labels must hold class labels in 0..1"):
            _call_from_booster(booster, obj, _margins(rng, 30, None), bad)

    @pytest.mark.parametrize("k", [None, 3])
    def test_sim_xgb_training_with_device_gradients(k, monkeypatch):
        """A real xgb.train whose Booster is made to report 'cuda': the gradients come from the
        (simulated) CUDA kernels, and the model equals one trained on CPU gradients."""
        xgb = pytest.importorskip("xgboost")
        rng = np.random.default_rng(13)
        n = 150
        X = rng.normal(size=(n, 3))
        y = (X[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int) if k is None else rng.integers(0, k, n)
        w = rng.uniform(0.5, 2.0, n)
        fl = FocalLoss(gamma=2.0)
        params = {"tree_method": "hist", "max_depth": 3, "eta": 0.3, "base_score": 0.5, "nthread": 1}
        if k is not None:
            params["num_class"] = k
        used_device = []

        def device_obj(predt, dtrain):
            used_device.append(_cuda.booster_device_from_stack())
            g, h = _cuda.xgb_cuda_grad_hess(fl, predt, dtrain)
            return g.copy_to_host(), h.copy_to_host()  # XGBoost cannot read simulated device arrays

        def cpu_obj(predt, dtrain):  # the float64 CPU reference
            return fl.grad_hess(predt.astype(np.float64), dtrain.get_label(), dtrain.get_weight())

        monkeypatch.setattr(_cuda, "_booster_device", lambda booster: ("cuda", None))
        b_dev = xgb.train(params, xgb.DMatrix(X, label=y, weight=w), 4, obj=device_obj)
        b_cpu = xgb.train(params, xgb.DMatrix(X, label=y, weight=w), 4, obj=cpu_obj)
        assert used_device == ["cuda"] * 4
        d = xgb.DMatrix(X)
        np.testing.assert_allclose(b_dev.predict(d, output_margin=True), b_cpu.predict(d, output_margin=True), rtol=1e-5, atol=1e-6)

    @pytest.mark.parametrize("k", [None, 3])
    @pytest.mark.parametrize("api", ["train", "sklearn"])
    def test_sim_focal_loss_objective_routes_to_gpu(k, api, monkeypatch):
        """FocalLoss used as the XGBoost objective (FocalLoss.__call__ -> _frameworks) reaches
        xgb_cuda_grad_hess on a CUDA Booster, every round, and trains the same model as on CPU."""
        xgb = pytest.importorskip("xgboost")
        rng = np.random.default_rng(14)
        n = 120
        X = rng.normal(size=(n, 3))
        y = (X[:, 0] > 0).astype(int) if k is None else rng.integers(0, k, n)
        w = rng.uniform(0.5, 2.0, n)
        calls = []
        real = _cuda.xgb_cuda_grad_hess

        def to_host(fl, predt, dtrain=None):  # XGBoost cannot read simulated device arrays
            calls.append(1)
            g, h = real(fl, predt, dtrain)
            return g.copy_to_host(), h.copy_to_host()

        fl = FocalLoss(gamma=2.0, alpha=0.3 if k is None else None)

        def reference(y_or_predt, predt_or_dtrain, sample_weight=None):  # float64 CPU gradients
            if api == "train":
                predt, d = y_or_predt, predt_or_dtrain
                return fl.grad_hess(predt.astype(np.float64), d.get_label(), d.get_weight())
            return fl.grad_hess(predt_or_dtrain.astype(np.float64), y_or_predt, sample_weight)

        def fit(objective):
            if api == "train":
                params = {"tree_method": "hist", "max_depth": 3, "nthread": 1}
                params.update({"objective": "binary:logistic"} if k is None else {"objective": "multi:softprob", "num_class": k})
                bst = xgb.train(params, xgb.DMatrix(X, label=y, weight=w), 3, obj=objective)
            else:
                model = xgb.XGBClassifier(n_estimators=3, max_depth=3, n_jobs=1, objective=objective)
                bst = model.fit(X, y, sample_weight=w).get_booster()
            return bst.predict(xgb.DMatrix(X), output_margin=True)

        with monkeypatch.context() as m:
            m.setattr(_cuda, "_booster_device", lambda booster: ("cuda", None))
            m.setattr(_cuda, "xgb_cuda_grad_hess", to_host)
            on_gpu = fit(fl)
        assert len(calls) == 3
        np.testing.assert_allclose(on_gpu, fit(reference), rtol=1e-5, atol=1e-6)
