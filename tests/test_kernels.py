"""The SIMD kernels as machinery: dispatch, threads, variants, Numba's cache, vectorisation.

Accuracy is tests/test_fastmath.py's subject; here the results of different routes through
the machinery must agree (bitwise where the arithmetic is the same).
"""

import json
import multiprocessing
import os
import re
import subprocess
import sys
import textwrap

import llvmlite.binding as llvm
import numba
import numpy as np
import pytest

from boost_focal import FocalLoss, _cpu, focal
from boost_focal._fastmath import FLAGS, POW_GENERAL, pow_kind
from boost_focal._scalar import HESS_BOHNING

RNG = np.random.default_rng(7)


def _binary_case(n, dtype=np.float32):
    z = RNG.normal(0.0, 4.0, n).astype(dtype)
    y = (RNG.random(n) < 0.2).astype(np.float32)
    return z, y


def _softmax_case(n, k, dtype=np.float32):
    z = RNG.normal(0.0, 3.0, (n, k)).astype(dtype)
    y = RNG.integers(0, k, n).astype(np.float32)
    return z, y


def _checked(fl, z, y, w=None, dtype=None):
    k = 2 if z.ndim == 1 else z.shape[1]
    return fl._grad_hess_checked(z, y, np.empty(0) if w is None else w, fl.class_alpha(k), dtype=dtype)


# --------------------------------------------------------------------------- dispatch
def test_float32_margins_take_the_simd_kernels_and_float64_the_reference(monkeypatch):
    z, y = _binary_case(5000)
    fl = FocalLoss(2.5, alpha=0.3)
    calls = []
    monkeypatch.setattr(_cpu, "binary_f32_call", _spy(_cpu.binary_f32_call, calls, "simd"))
    monkeypatch.setattr(_cpu, "binary_grad_hess", _spy(_cpu.binary_grad_hess, calls, "reference"))
    g32, _ = fl.grad_hess(z, y)
    g64, _ = fl.grad_hess(z.astype(np.float64), y)
    g64_as_32, _ = _checked(fl, z.astype(np.float64), y, dtype=np.float32)  # LightGBM's route
    assert calls == ["simd", "reference", "simd"]
    assert g32.dtype == g64_as_32.dtype == np.float32 and g64.dtype == np.float64
    assert np.array_equal(g32, g64_as_32)  # the same float64 arithmetic from the same margins


def test_switch_routes_float32_through_the_reference(monkeypatch):
    z, y = _softmax_case(3000, 4)
    fl = FocalLoss(1.7)
    simd, _ = fl.grad_hess(z, y)
    monkeypatch.setattr(focal, "FAST_FLOAT32", False)
    ref, _ = fl.grad_hess(z, y)
    assert ref.dtype == np.float32
    spacing = np.spacing(np.abs(ref)).astype(np.float64)
    assert np.all(np.abs(simd.astype(np.float64) - ref) <= spacing)  # both correctly rounded, +-1


def _spy(fn, calls, name):
    def wrapper(*args, **kwargs):
        calls.append(name)
        return fn(*args, **kwargs)

    return wrapper


@pytest.mark.parametrize("labels", [np.float32, np.float64, np.int64, np.uint8, bool])
def test_label_dtypes_give_the_same_result(labels):
    z, y = _binary_case(2000)
    fl = FocalLoss(2.0, alpha=0.6)
    ref = _checked(fl, z, y)
    got = fl.grad_hess(z, y.astype(labels))
    assert np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1])
    zk, yk = _softmax_case(1000, 3)
    fl = FocalLoss(2.0, alpha=[0.2, 0.3, 0.5])
    ref = _checked(fl, zk, yk)
    got = fl.grad_hess(zk, yk.astype(np.int64 if labels is bool else labels))
    assert np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1])


def test_unit_weights_equal_no_weights():
    for z, y in (_binary_case(3000), _softmax_case(1500, 5)):
        fl = FocalLoss(2.5, hessian="exact")
        plain = _checked(fl, z, y)
        ones = _checked(fl, z, y, w=np.ones(z.shape[0]))
        assert np.array_equal(plain[0], ones[0]) and np.array_equal(plain[1], ones[1])
        w = RNG.uniform(0.5, 2.0, z.shape[0])
        weighted = _checked(fl, z, y, w=w)
        expected = plain[0].astype(np.float64) * (w if z.ndim == 1 else w[:, None])
        assert np.allclose(weighted[0], expected, rtol=2.0**-22, atol=0)


@pytest.mark.parametrize("n", [1, 2, 255, 256, 257, 1000])
def test_small_and_block_boundary_sizes(n):
    fl = FocalLoss(2.0)
    z, y = _softmax_case(n, 3)
    g, h = _checked(fl, z, y)
    g64, h64 = _checked(fl, z.astype(np.float64), y, dtype=np.float64)
    assert np.allclose(g, g64, rtol=1e-6, atol=1e-30) and np.allclose(h, h64, rtol=1e-6, atol=1e-30)
    zb, yb = _binary_case(n)
    g, _ = _checked(fl, zb, yb)
    g64, _ = _checked(fl, zb.astype(np.float64), yb, dtype=np.float64)
    assert np.allclose(g, g64, rtol=1e-6, atol=1e-30)


# --------------------------------------------------------------------------- threads
def test_threads_split_rows_without_changing_a_bit():
    n = 3 * _cpu.MIN_ROWS_PER_THREAD + 17
    zb, yb = _binary_case(n)
    zk, yk = _softmax_case(n // 4, 7)
    fl = FocalLoss(1.7, hessian="exact")
    before = numba.get_num_threads()
    try:
        runs = []
        for threads in (1, numba.config.NUMBA_NUM_THREADS):
            numba.set_num_threads(threads)
            zb64, zk64 = zb.astype(np.float64), zk.astype(np.float64)
            runs.append([
                *_checked(fl, zb, yb), *_checked(fl, zk, yk),  # SIMD kernels
                *_checked(fl, zb64, yb, dtype=np.float64), *_checked(fl, zk64, yk, dtype=np.float64),  # reference
                fl.loss(zb64, yb), fl.loss(zk64, yk),
                fl.posterior(zb64), fl.posterior(zk64),
            ])
    finally:
        numba.set_num_threads(before)
    for a, b in zip(*runs):
        assert np.array_equal(a, b)


def test_softmax_kernel_reads_and_writes_either_memory_order_bit_for_bit():
    """C-ordered (n, K) and F-ordered (LightGBM's) margins and outputs, in every combination, on
    one and two threads, weighted or not: the same bits as the all-C call. An F-ordered array is
    handed to the kernel as its C-ordered transpose (class-major), with no copy."""
    n, k = 3 * _cpu.MIN_ROWS_PER_THREAD // 5 + 301, 5  # several blocks, a ragged last one
    rng = np.random.default_rng(11)
    z = (rng.normal(0, 4, (n, k)) * rng.choice([1, 30], (n, 1))).astype(np.float32)
    y = rng.integers(0, k, n).astype(np.float32)
    alpha = rng.uniform(0.2, 1.0, k)
    for w in (np.empty(0), rng.uniform(0.1, 3.0, n)):
        for dtype in (np.float32, np.float64):
            zc = z.astype(dtype)
            ref = [np.empty((n, k), np.float32) for _ in range(2)]
            with _cpu.use_threads(1):
                _cpu.softmax_grad_hess_f32(zc, y, w, 2.5, alpha, 0, 0.375, *ref)
            for z_order in "CF":
                for out_order in "CF":
                    for threads in (1, 2):
                        out = [np.full((n, k), np.nan, np.float32, order=out_order) for _ in range(2)]
                        with _cpu.use_threads(threads):
                            bad = _cpu.softmax_grad_hess_f32(np.asarray(zc, order=z_order), y, w, 2.5, alpha, 0,
                                                              0.375, *out)
                        assert bad == 0
                        assert np.array_equal(out[0], ref[0]) and np.array_equal(out[1], ref[1])
    bad_rows = np.asfortranarray(z.copy())
    bad_rows[[3, 700], 2] = np.nan
    out = [np.empty((n, k), np.float32, order="F") for _ in range(2)]
    assert _cpu.softmax_grad_hess_f32(bad_rows, y, np.empty(0), 2.0, alpha, 0, 0.375, *out) == 2
    with pytest.raises(ValueError, match="same memory order"):
        _cpu.softmax_grad_hess_f32(z, y, np.empty(0), 2.0, alpha, 0, 0.375, np.empty((n, k), np.float32),
                                   np.empty((n, k), np.float32, order="F"))


@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("margin_dtype", [np.float32, np.float64])
def test_rounding_in_the_kernel_stores_equals_the_numpy_pass(k, margin_dtype):
    """The kernels' round21 variants (what the estimators' objective asks for) give the
    bits of the NumPy rounding pass (estimators._base.round_to_21_bits) applied to the unrounded
    output: binary and softmax, both margin layouts, every Hessian mode, margins up to +-60
    (rounding carries into the exponent included: values near 2^e round up to it)."""
    from boost_focal.estimators._base import round_to_21_bits

    rng = np.random.default_rng(11)
    n = 3000
    y = (rng.integers(0, k, n)).astype(np.float32)
    z = rng.normal(0, 8, (n, k) if k > 2 else n)
    z.flat[:40] = np.linspace(-60, 60, 40)
    z = z.astype(margin_dtype)
    carried = 0
    for hessian in ("bohning", "exact", "clip", "abs"):
        fl = FocalLoss(2.5, alpha=0.3 if k == 2 else None, hessian=hessian)
        alpha = fl.class_alpha(k)
        for order in ("C", "F") if k > 2 else ("C",):
            zz = np.asarray(z, order=order)
            plain = [np.empty(z.shape, np.float32, order=order) for _ in range(2)]
            rounded = [np.empty(z.shape, np.float32, order=order) for _ in range(2)]
            assert fl._f32_call(y, np.empty(0), alpha, *plain)(zz) == 0
            assert fl._f32_call(y, np.empty(0), alpha, *rounded, round21=True, serial=True)(zz) == 0
            for a, b in zip(plain, rounded):
                expected = round_to_21_bits(a.copy())
                assert np.array_equal(expected.view(np.uint32), b.view(np.uint32))
                carried += int(np.sum(np.frexp(expected)[1] != np.frexp(a)[1]))
                assert not np.array_equal(a, b)  # the rounding did something
    assert carried > 0


def test_estimator_objective_answers_fortran_margins_in_place():
    """LightGBM's F-ordered multiclass margins: the estimators' objective reads them without a
    copy and returns F-ordered gradients (LightGBM's ravel(order="F") is then a view), equal bit
    for bit to those of the same margins in C order, weighted or not."""
    from boost_focal.estimators._base import make_objective

    n, k = 2_000, 4
    rng = np.random.default_rng(3)
    z = rng.normal(0, 3, (n, k))
    y = rng.integers(0, k, n)
    fl = FocalLoss(2.0)
    for w in (np.empty(0), rng.integers(1, 4, n).astype(np.float64)):
        objective = make_objective(fl, y, w, fl.class_alpha(k))
        gc, hc = (a.copy() for a in objective(np.ascontiguousarray(z)))
        zf = np.asfortranarray(z)
        gf, hf = objective(zf)
        assert gf.flags.f_contiguous and np.shares_memory(gf.ravel(order="F"), gf)
        assert np.array_equal(gf, gc) and np.array_equal(hf, hc)


def test_run_split_covers_every_row_once(monkeypatch):
    monkeypatch.setattr(numba, "get_num_threads", lambda: 3)
    seen = []
    _cpu.run_split(lambda lo, hi: seen.append((lo, hi)), 105, 10, lambda lo, hi: (lo, hi))
    chunks = sorted(seen)  # handed out dynamically: about min_rows rows each, in any order
    assert len(chunks) == 10 and chunks[0][0] == 0 and chunks[-1][1] == 105
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))
    assert all(10 <= hi - lo < 20 for lo, hi in chunks)
    seen.clear()
    _cpu.run_split(lambda lo, hi: seen.append((lo, hi)), 15, 10, lambda lo, hi: (lo, hi))
    assert seen == [(0, 15)]  # too few rows for a second thread


def _child_grad(queue):
    z, y = _binary_case(2 * _cpu.MIN_ROWS_PER_THREAD + 1)
    g, _ = FocalLoss(2.0).grad_hess(z, y)
    queue.put(float(np.abs(g).sum()))


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_a_forked_child_gets_its_own_thread_pool():
    """A forked child must not wait on its parent's pool threads (they do not exist there)."""
    z, y = _binary_case(2 * _cpu.MIN_ROWS_PER_THREAD + 1)
    FocalLoss(2.0).grad_hess(z, y)  # the parent's pool exists now (if Numba has > 1 thread)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_grad, args=(queue,))
    child.start()
    child.join(timeout=120)
    assert child.exitcode == 0
    assert queue.get(timeout=5) > 0


# --------------------------------------------------------------------------- variants and cache
def test_pow_kind_variants_agree_with_the_general_form():
    """gamma = 2.5 by r^2 sqrt(r) and gamma = 2.5 + 1e-12 by e^(gamma log r) agree to float32."""
    assert pow_kind(2.5) != POW_GENERAL and pow_kind(2.5 + 1e-12) == POW_GENERAL
    z, y = _binary_case(20_000)
    special = _checked(FocalLoss(2.5), z, y)
    general = _checked(FocalLoss(2.5 + 1e-12), z, y)
    for a, b in zip(special, general):
        spacing = np.spacing(np.abs(a)).astype(np.float64)
        assert np.all(np.abs(a.astype(np.float64) - b) <= spacing)


def test_kernels_carry_the_source_key_in_their_closure():
    """Numba's cache keys closures by their cell values: the hash of the inlined sources must be
    among them, or an edit of _fastmath.py/_scalar.py would load a stale kernel."""
    reference = (_cpu._binary_grad_hess_rows, _cpu._binary_loss_rows, _cpu._softmax_grad_hess_rows,
                 _cpu._softmax_loss_rows)  # they inline _scalar's formulas too
    for kernel in (_cpu.binary_fast_kernel(1, False), _cpu.softmax_fast_kernel(), *reference):
        cells = [c.cell_contents for c in kernel.py_func.__closure__]
        assert _cpu.SOURCE_KEY in cells
        assert all(isinstance(c, (int, str, bool)) for c in cells)  # picklable, stable keys
    assert _cpu.binary_fast_kernel(1, False) is not _cpu.binary_fast_kernel(0, False)


def test_a_later_process_loads_the_kernels_from_the_cache(tmp_path):
    code = textwrap.dedent(
        """
        import json, numpy as np
        from boost_focal import FocalLoss, _cpu
        z = np.linspace(-5, 5, 1000, dtype=np.float32); y = (z > 0).astype(np.float32)
        FocalLoss(3.5, hessian="abs").grad_hess(z, y)
        zk = np.zeros((50, 3), np.float32); yk = np.zeros(50, np.float32)
        FocalLoss(3.5, hessian="abs").grad_hess(zk, yk)
        kernels = [_cpu.binary_fast_kernel(2, False), _cpu.softmax_fast_kernel()]
        print(json.dumps([[sum(k.stats.cache_hits.values()), sum(k.stats.cache_misses.values())] for k in kernels]))
        """
    )
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))

    def run():
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    first = run()
    assert all(misses == 1 and hits == 0 for hits, misses in first)  # compiled, then saved
    second = run()
    assert all(hits == 1 and misses == 0 for hits, misses in second)  # loaded, not compiled


# --------------------------------------------------------------------------- vectorisation
@pytest.mark.skipif(not llvm.get_host_cpu_features().get("avx2", False), reason="needs AVX2")
def test_binary_kernel_loop_is_vectorised():
    """The element math must stay SIMD: a runtime branch or a libm call in it would silently
    make the kernel several times slower. Look for packed float64 arithmetic on ymm registers
    (zmm where LLVM picks AVX-512 vectors: it does for this loop on AVX-512 hosts since the
    validation count moved to a loop of its own) and for the absence of exp/log calls."""
    cached = _cpu.binary_fast_kernel(1, False)
    kernel = numba.njit(nogil=True, error_model="numpy", fastmath=FLAGS)(cached.py_func)  # not from cache
    z, y = _binary_case(64)
    kernel(z, y, np.empty(0), 1.7, pow_kind(1.7), 0.25, 0.75, np.empty_like(z), np.empty_like(z))
    asm = "\n".join(kernel.inspect_asm().values())
    packed = re.findall(r"\bv(?:fn?m(?:add|sub)\d{3}|mul|add|sub|div)pd\s+[^\n]*[yz]mm", asm)
    assert len(packed) > 40
    assert not re.search(r"\$(exp|log|log1p|pow)f?\b", asm)  # libm calls load these addresses
    # Both loops (gamma kind is a runtime value): only the r^n sqrt(r) loop takes square roots,
    # and it must take them packed too.
    assert re.search(r"\bvsqrtpd\b", asm)


def test_binary_kernel_serves_every_gamma_without_compiling(new_signatures):
    """One binary kernel per (Hessian mode, weighted): a new gamma compiles nothing."""
    z, y = _binary_case(64)
    FocalLoss(2.0).grad_hess(z, y)  # compiled (or loaded) once
    new_signatures.clear()
    for gamma in (0.0, 0.5, 1.0, 2.5, 3.0, 1.7, 8.0, 20.0):
        FocalLoss(gamma).grad_hess(z, y)
    assert new_signatures == []


def test_softmax_kernel_serves_every_gamma_without_compiling(new_signatures):
    """One softmax kernel per Hessian mode: a new gamma (any r^gamma method) compiles nothing."""
    z = np.random.default_rng(0).normal(0, 3, (40, 4)).astype(np.float32)
    y = (np.arange(40) % 4).astype(np.float32)
    FocalLoss(2.0).grad_hess(z, y)  # compiled (or loaded) once
    new_signatures.clear()
    for gamma in (0.0, 0.5, 1.0, 2.5, 3.0, 1.7, 8.0, 20.0):
        FocalLoss(gamma).grad_hess(z, y)
    assert new_signatures == []


@pytest.mark.skipif(not llvm.get_host_cpu_features().get("avx2", False), reason="needs AVX2")
@pytest.mark.parametrize("gamma", [2.0, 2.5, 1.7])
def test_softmax_focal_stage_is_vectorised_for_a_runtime_gamma(gamma):
    """Stage 3 of the softmax kernel takes gamma's r^gamma method at run time; each of its passes
    over the block must still be SIMD code (packed float64 on ymm registers, no libm calls)."""
    stage = numba.njit(nogil=True, error_model="numpy", fastmath=FLAGS)(_cpu._softmax_focal_stage().py_func)
    nb = 64
    u = np.linspace(-8, 8, nb)
    d1, d2, floor = np.empty(nb), np.full(nb, 0.5), np.empty(nb)
    stage(nb, u, gamma, pow_kind(gamma), 0.4, d1, d2, floor)
    asm = "\n".join(stage.inspect_asm().values())
    packed = re.findall(r"\bv(?:fn?m(?:add|sub)\d{3}|mul|add|sub|div)pd\s+[^\n]*[yz]mm", asm)  # AVX2 or AVX-512
    assert len(packed) > 40
    assert not re.search(r"\$(exp|log|log1p|pow)f?\b", asm)


def test_a_native_call_by_address_runs_the_compiled_function():
    """_native.caller/address: the callee runs on the caller's arrays (writes seen, result returned),
    for an int64 and a none return."""
    from boost_focal import _native

    arr = numba.types.Array(numba.types.float64, 1, "C")

    @numba.njit
    def scale(a, factor):
        for i in range(a.shape[0]):
            a[i] *= factor
        return a.shape[0]

    @numba.njit
    def fill(a, value):
        a[:] = value

    call_scale = _native.caller("scale", (arr, numba.types.float64), numba.types.int64)
    call_fill = _native.caller("fill", (arr, numba.types.float64), numba.types.none)

    @numba.njit
    def outer(a, b, scale_at, fill_at):
        call_fill(fill_at, b, 3.0)
        return call_scale(scale_at, a, 2.0)

    a, b = np.arange(5.0), np.zeros(4)
    n = outer(a, b, _native.address(scale, (arr, numba.types.float64)), _native.address(fill, (arr, numba.types.float64)))
    assert n == 5 and np.array_equal(a, 2 * np.arange(5.0)) and np.array_equal(b, np.full(4, 3.0))


def test_a_native_call_takes_a_read_only_array_for_an_array_argument():
    """Same data model as the writable array type the callee was compiled for."""
    from boost_focal import _native

    arr = numba.types.Array(numba.types.float64, 1, "C")

    @numba.njit
    def total(a):
        s = 0.0
        for v in a:
            s += v
        return s

    call = _native.caller("total", (arr,), numba.types.float64)

    @numba.njit
    def outer(a, at):
        return call(at, a)

    readonly = np.arange(4.0)
    readonly.flags.writeable = False
    assert outer(readonly, _native.address(total, (arr,))) == 6.0


def test_a_native_call_with_other_argument_types_fails_to_compile():
    from boost_focal import _native

    arr = numba.types.Array(numba.types.float64, 1, "C")
    call = _native.caller("f", (arr,), numba.types.none)

    @numba.njit
    def outer(a, at):
        call(at, a)

    with pytest.raises(numba.core.errors.TypingError, match="compiled for"):
        outer(np.zeros(3, dtype=np.float32), 0)


def test_the_softmax_kernel_links_none_of_its_stages():
    """The kernel calls its stages by address: its compiled module defines no stage function, so
    LLVM does not optimise and emit the stages again for every kernel variant (compile time)."""
    # compiled here, not loaded from Numba's cache (whose entries keep no IR to inspect)
    fresh = numba.njit(**dict(_cpu._SOFTMAX_KERNEL, cache=False))(_cpu.softmax_fast_kernel().py_func)
    n, k = 50, 3
    z, y = _softmax_case(n, k)
    grad, hess = np.empty((n, k), np.float32), np.empty((n, k), np.float32)
    bad = fresh(z, y, np.empty(0), 0, n, False, 2.0, pow_kind(2.0), np.ones(k), 1.0, grad, hess, False,
                *_cpu.softmax_scratch(n, k), *_cpu._stage_addresses(HESS_BOHNING))
    expected = np.empty((n, k), np.float32), np.empty((n, k), np.float32)
    _cpu.softmax_grad_hess_f32(z, y, np.empty(0), 2.0, np.ones(k), HESS_BOHNING, 1.0, *expected)
    assert bad == 0 and np.array_equal(grad, expected[0]) and np.array_equal(hess, expected[1])
    ir = "\n".join(fresh.inspect_llvm().values())
    defined = re.findall(r"^define [^@]*@\"?([^\"(]+)", ir, flags=re.M)
    assert defined and not [name for name in defined if "stage" in name]


def test_softmax_kernels_accept_read_only_inputs():
    z, y = _softmax_case(300, 4)
    w = RNG.uniform(0.5, 2.0, 300)
    expected = FocalLoss(2.0).grad_hess(z, y, sample_weight=w)
    for a in (z, y, w):
        a.flags.writeable = False
    got = FocalLoss(2.0).grad_hess(z, y, sample_weight=w)
    assert all(np.array_equal(e, g) for e, g in zip(expected, got))
