"""Arrays a worker reads without reference counts.

Numba counts the references to an array's memory (its meminfo) with an atomic instruction
wherever a kernel takes a view, a member of a tuple or an argument into a variable of its
own: tens of times per group of rows in the fused workers, where arrays travel in tuples to
inlined steps. Arrays shared by the workers (X, the targets, the packed weights) also share
one counter, which both threads then pull between their cores. Workers read their arrays
through :func:`borrowed`, the same arrays with no meminfo, whose counts Numba skips: 20-25 %
of a cost_grad on the digits. What is borrowed must outlive its use: a worker's arguments
(its driver holds them for the whole call) and its own scratch, kept to the end by
:func:`held`. A borrowed array is never returned.
"""

from numba import config, types
from numba.core import cgutils
from numba.extending import intrinsic


def _without_meminfo(context, builder, ty, value):
    """value of Numba type ty with every array in it (nested in tuples too) borrowed."""
    if isinstance(ty, types.Array):
        array = context.make_array(ty)(context, builder, value)
        array.meminfo = cgutils.get_null_value(array.meminfo.type)
        array.parent = cgutils.get_null_value(array.parent.type)
        return array._getvalue()
    if isinstance(ty, types.BaseTuple):
        for i, member in enumerate(ty):
            part = _without_meminfo(context, builder, member, builder.extract_value(value, i))
            value = builder.insert_value(value, part, i)
    return value


def _borrowed(typingctx, value):
    def codegen(context, builder, sig, args):
        return _without_meminfo(context, builder, sig.args[0], args[0])
    return value(value), codegen


def _held(typingctx, value):
    return types.none(value), lambda context, builder, sig, args: context.get_dummy_value()


if config.DISABLE_JIT:
    def borrowed(value):
        """value itself (plain Python counts its references alone)."""
        return value

    def held(value):
        """Nothing to do."""
else:
    borrowed = intrinsic(_borrowed)
    borrowed.__doc__ = """value (an array, or a tuple holding arrays) with no reference
    counts, for arrays that outlive its use."""
    held = intrinsic(_held)
    held.__doc__ = """Nothing, where it is called: value (what views were borrowed from)
    lives until then."""
