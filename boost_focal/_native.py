"""Calls from one compiled kernel into another compiled function through its machine-code address.

When a Numba function calls another, the caller's LLVM module links in the callee's IR; LLVM then
optimises the callee again inside the caller and emits its machine code a second time. For the
softmax kernel, whose stages are most of its code, calls by address cut a cold K = 5 first fit's
compilation from 3.18 to 2.33 s (medians of six runs in turns, 2-core VM, 2026-12-03). A call
through an address links nothing: the callee is compiled once, with a fixed signature, and the caller passes its address
(an int64 argument, looked up at run time, so Numba's on-disk cache of the caller stays valid
across processes, where the address differs).

The call uses Numba's own calling convention (return slot, exception-info slot, then the
arguments as their data models lower them), so the callee is an ordinary ``@njit`` function
compiled for ``argtypes``. The argument types of the call site must equal ``argtypes`` (arrays
up to read-only and alignment flags, which do not change their data model); otherwise compiling
the caller fails with a ``TypingError``, never with a mismatched call.
"""

from numba import types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic


def caller(name, argtypes, restype):
    """An intrinsic ``call(address, *args)`` calling the compiled function at ``address``, whose
    Numba signature is ``restype(*argtypes)``."""
    argtypes = tuple(argtypes)

    @intrinsic
    def call(typingctx, address, *args):
        if tuple(_plain(a) for a in args) != argtypes:
            raise TypingError(f"{name}: called with {tuple(args)}, compiled for {argtypes}")
        if not isinstance(address, types.Integer):
            raise TypingError(f"{name}: the address must be an integer, got {address}")

        def codegen(context, builder, signature, llargs):
            fnty = context.call_conv.get_function_type(restype, argtypes)
            target = builder.inttoptr(llargs[0], fnty.as_pointer())
            values = cgutils.unpack_tuple(builder, llargs[1], len(argtypes))  # the *args tuple
            status, out = context.call_conv.call_function(builder, target, restype, argtypes, values)
            with cgutils.if_unlikely(builder, status.is_error):
                context.call_conv.return_status_propagate(builder, status)
            return context.get_dummy_value() if restype == types.none else out

        return restype(types.int64, types.StarArgTuple(tuple(args))), codegen

    return call


def _plain(ty):
    """An array type as writable and aligned: the same data model (and LLVM struct), so a
    read-only or unaligned array is passed as the callee's array type."""
    if isinstance(ty, types.Array):
        return types.Array(ty.dtype, ty.ndim, ty.layout)
    return ty


def address(dispatcher, argtypes):
    """The machine-code address of ``dispatcher`` compiled for ``argtypes`` (compiled, or loaded
    from Numba's cache, on first use). The dispatcher keeps the code alive."""
    argtypes = tuple(argtypes)
    dispatcher.compile(argtypes)
    result = dispatcher.overloads[argtypes]
    return result.library.get_pointer_to_function(result.fndesc.llvm_func_name)
