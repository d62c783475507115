"""Explicit SIMD vectors for Numba kernels, as wide as the host's registers allow.

A vector holds ``VECTOR_BYTES`` bytes (:mod:`fastnn._isa`): with AVX2, 4 float64 or
8 float32 lanes; with AVX-512, 8 or 16; with SSE2 only, 2 or 4.

LLVM's vectorisers cannot keep the accumulators of a sparse loop (``z += x[k] * W[k]`` over
the non-zero k) in registers: the loop vectoriser turns the loop over k into gathers, and the
SLP vectoriser leaves loop-carried accumulators scalar. These intrinsics give kernels a vector
value that lives in a register: ``vload`` / ``vstore`` move ``lanes(a)`` elements of a 1-D
contiguous array from element ``i`` on (unaligned, no bounds check), ``vsplat`` broadcasts a
scalar, ``vfma(a, b, c) = a * b + c``, ``vadd``, ``vsub``, ``vmul``, ``vdiv``, ``vmax`` and
``vabs`` work lane by lane, ``vsum`` adds a vector's lanes, ``vcompress(v, k, cols, n)``
stores k + i for the lanes i where v > 0 into cols from n on, in order, and returns how many
(AVX-512: packed in a register, then stored whole: cols must have ``lanes(v)`` entries from n
on, those past the count left undefined: the compress instruction's own store form is
microcoded and slow on AMD Zen 4); ``vsigmoid`` and ``vtanh`` are those functions of every lane,
``vstep`` is 1 where a lane is > 0 and 0 elsewhere, ``vexp`` is exp of lanes <= 0, ``vlog``
log of lanes >= 1, and ``vlog_loss`` the cross-entropy of output lanes with its residual
(all stable for any input, see ``_exp_nonpositive``).

With ``NUMBA_DISABLE_JIT=1`` the same names are numpy versions (for coverage and debugging).
"""

import numpy as np
from llvmlite import ir
from numba import config, types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

from .._isa import VECTOR_BYTES


class Vector(types.Type):
    """A register of ``VECTOR_BYTES`` of ``dtype`` lanes."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.lanes = VECTOR_BYTES * 8 // dtype.bitwidth
        super().__init__(name=f"Vector({dtype} x {self.lanes})")


@register_model(Vector)
class _VectorModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        lane = dmm.lookup(fe_type.dtype).get_value_type()
        super().__init__(dmm, fe_type, ir.VectorType(lane, fe_type.lanes))


def _vector_pointer(context, builder, array_type, array, i, vector_type):
    data = context.make_array(array_type)(context, builder, array).data
    return builder.bitcast(builder.gep(data, [i]), vector_type.as_pointer())


def _lanes(typingctx, a):
    lanes = Vector(a.dtype).lanes
    return types.intp(a), lambda context, builder, sig, args: context.get_constant(types.intp,
                                                                                   lanes)


def _vload(typingctx, a, i):
    vector = Vector(a.dtype)

    def codegen(context, builder, sig, args):
        ptr = _vector_pointer(context, builder, sig.args[0], args[0], args[1],
                              context.get_value_type(vector))
        return builder.load(ptr, align=1)
    return vector(a, i), codegen


def _vstore(typingctx, a, i, v):
    def codegen(context, builder, sig, args):
        ptr = _vector_pointer(context, builder, sig.args[0], args[0], args[1], args[2].type)
        builder.store(args[2], ptr, align=1)
        return context.get_dummy_value()
    return types.none(a, i, v), codegen


def _vsplat(typingctx, x, a):
    vector = Vector(a.dtype)

    def codegen(context, builder, sig, args):
        ty = context.get_value_type(vector)
        lane = context.cast(builder, args[0], sig.args[0], vector.dtype)
        one = builder.insert_element(ir.Constant(ty, ir.Undefined), lane, cgutils.int32_t(0))
        mask = ir.Constant(ir.VectorType(ir.IntType(32), vector.lanes), [0] * vector.lanes)
        return builder.shuffle_vector(one, ir.Constant(ty, ir.Undefined), mask)
    return vector(x, a), codegen


def _vfma(typingctx, a, b, c):
    return a(a, b, c), lambda context, builder, sig, args: _call(builder, "fma", *args)


def _vadd(typingctx, a, b):
    return a(a, b), lambda context, builder, sig, args: builder.fadd(*args)


def _vmul(typingctx, a, b):
    return a(a, b), lambda context, builder, sig, args: builder.fmul(*args)


def _vsub(typingctx, a, b):
    return a(a, b), lambda context, builder, sig, args: builder.fsub(*args)


def _vdiv(typingctx, a, b):
    return a(a, b), lambda context, builder, sig, args: builder.fdiv(*args)


def _vmax(typingctx, a, b):
    return a(a, b), lambda context, builder, sig, args: _call(builder, "maxnum", *args)


def _vabs(typingctx, v):
    return v(v), lambda context, builder, sig, args: _call(builder, "fabs", *args)


def _vsum(typingctx, v):
    def codegen(context, builder, sig, args):
        ty = args[0].type
        f = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ty.element, [ty.element, ty]),
            f"llvm.vector.reduce.fadd.v{ty.count}f{_bits(ty)}")
        return builder.call(f, [ir.Constant(ty.element, -0.0), args[0]])
    return v.dtype(v), codegen


def _vcompress(typingctx, v, k, cols, n):
    def codegen(context, builder, sig, args):
        v, k, cols, n = args
        lanes = v.type.count
        positive = builder.fcmp_ordered(">", v, _splat(v.type, 0.0))
        i32 = ir.IntType(32)
        first = builder.insert_element(ir.Constant(ir.VectorType(i32, lanes), ir.Undefined),
                                       builder.trunc(k, i32), cgutils.int32_t(0))
        start = builder.shuffle_vector(first, ir.Constant(first.type, ir.Undefined),
                                       ir.Constant(first.type, [0] * lanes))
        columns = builder.add(start, ir.Constant(first.type, list(range(lanes))))
        compress = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(columns.type, [columns.type, positive.type,
                                                           columns.type]),
            f"llvm.experimental.vector.compress.v{lanes}i32")
        packed = builder.call(compress, [columns, positive, ir.Constant(columns.type,
                                                                        ir.Undefined)])
        data = context.make_array(sig.args[2])(context, builder, cols).data
        ptr = builder.bitcast(builder.gep(data, [n]), columns.type.as_pointer())
        builder.store(packed, ptr, align=1)
        bits = builder.bitcast(positive, ir.IntType(lanes))
        count = _call_int(builder, "ctpop", bits)
        return builder.zext(count, ir.IntType(64))
    return types.int64(v, k, cols, n), codegen


def _call_int(builder, name, x):
    f = cgutils.get_or_insert_function(builder.module, ir.FunctionType(x.type, [x.type]),
                                       f"llvm.{name}.i{x.type.width}")
    return builder.call(f, [x])


def _vstep(typingctx, v):
    def codegen(context, builder, sig, args):
        zero = _splat(args[0].type, 0.0)
        return builder.select(builder.fcmp_ordered(">", args[0], zero), _splat(args[0].type, 1.0),
                              zero)
    return v(v), codegen


def _bits(ty):
    return 64 if isinstance(ty.element, ir.DoubleType) else 32


def _call(builder, name, *args):
    """Call the LLVM intrinsic llvm.<name> on vectors of args[0]'s type."""
    ty = args[0].type
    f = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ty, [ty] * len(args)),
                                       f"llvm.{name}.v{ty.count}f{_bits(ty)}")
    return builder.call(f, args)


def _splat(ty, value):
    """The constant vector of type ty with every lane = value."""
    return ir.Constant(ty, [value] * ty.count)


def _polynomial(builder, x, coefficients):
    """IR for sum_k coefficients[k] x^k by Estrin's scheme: pairs c_k + c_(k+1) x, then pairs
    of those with x^2, x^4, ...; a dependency chain of log2(degree) FMAs, not degree."""
    ty = x.type
    terms = [_splat(ty, float(c)) for c in coefficients]
    power = x
    while len(terms) > 1:
        paired = [_call(builder, "fma", terms[i + 1], power, terms[i])
                  for i in range(0, len(terms) - 1, 2)]
        terms = paired + terms[len(paired) * 2:]
        if len(terms) > 1:
            power = builder.fmul(power, power)
    return terms[0]


def _exp_nonpositive(builder, x):
    """IR for exp(x), x <= 0 lane by lane, to within a few ulp: x = n ln2 + r, |r| <= ln2/2,
    e^r by its Taylor polynomial (degree 13 for float64, 7 for float32), 2^n built in the
    exponent bits; exactly 0 where exp(x) underflows."""
    ty = x.type
    double = _bits(ty) == 64
    bits, mantissa, bias = (64, 52, 1023) if double else (32, 23, 127)
    ity = ir.VectorType(ir.IntType(bits), ty.count)

    def const(value, t=ty):
        return _splat(t, value)

    def fma(a, b, c):
        return _call(builder, "fma", a, b, c)

    shifter = 1.5 * 2.0 ** mantissa  # adding it rounds to an integer kept in the low bits
    t = fma(x, const(1.4426950408889634), const(shifter))
    n = builder.fsub(t, const(shifter))
    r = fma(n, const(-0.6931471803691238), x)  # ln 2 in two parts: r = x - n ln2 exactly
    r = fma(n, const(-1.9082149292705877e-10), r)
    p = _polynomial(builder, r, [1.0 / np.prod(np.arange(1.0, k + 1))
                                 for k in range(14 if double else 8)])
    shifter_bits = int(np.array(shifter, np.float64 if double else np.float32).view(
        np.int64 if double else np.int32))
    exponent = builder.add(builder.bitcast(t, ity), const(bias - shifter_bits, ity))
    scale = builder.bitcast(builder.shl(exponent, const(mantissa, ity)), ty)
    underflow = builder.fcmp_ordered("<", x, const(-708.0 if double else -87.0))
    return builder.select(underflow, const(0.0), builder.fmul(p, scale))


def _sigmoid_parts(builder, z):
    """(e, s, positive): e = exp(-|z|), s = sigma(|z|) = 1 / (1 + e), so that sigma(z) is s
    where positive (z >= 0) and e s elsewhere, with no cancellation."""
    ty = z.type
    zero, one = _splat(ty, 0.0), _splat(ty, 1.0)
    e = _exp_nonpositive(builder, builder.fsub(zero, _call(builder, "fabs", z)))
    return e, builder.fdiv(one, builder.fadd(one, e)), builder.fcmp_ordered(">=", z, zero)


def _vsigmoid(typingctx, v):
    def codegen(context, builder, sig, args):
        e, s, positive = _sigmoid_parts(builder, args[0])
        return builder.select(positive, s, builder.fmul(e, s))
    return v(v), codegen


def _vtanh(typingctx, v):
    """tanh of every lane: sign(z) (1 - e) / (1 + e), e = exp(-2|z|)."""
    def codegen(context, builder, sig, args):
        z = args[0]
        one = _splat(z.type, 1.0)
        e = _exp_nonpositive(builder, builder.fmul(_splat(z.type, -2.0), _call(builder, "fabs", z)))
        t = builder.fdiv(builder.fsub(one, e), builder.fadd(one, e))
        return _call(builder, "copysign", t, z)
    return v(v), codegen


def _vexp(typingctx, v):
    return v(v), lambda context, builder, sig, args: _exp_nonpositive(builder, args[0])


def _vlog(typingctx, v):
    """log of lanes >= 1 (finite): s = 2^n f with 1 <= f < 2, log s = n log 2 + log(1 + (f - 1))."""
    def codegen(context, builder, sig, args):
        s = args[0]
        double = _bits(s.type) == 64
        bits, mantissa, bias = (64, 52, 1023) if double else (32, 23, 127)
        ity = ir.VectorType(ir.IntType(bits), s.type.count)
        raw = builder.bitcast(s, ity)
        n = builder.sub(builder.lshr(raw, _splat(ity, mantissa)), _splat(ity, bias))
        fraction = builder.or_(builder.and_(raw, _splat(ity, (1 << mantissa) - 1)),
                               _splat(ity, bias << mantissa))
        f = builder.fsub(builder.bitcast(fraction, s.type), _splat(s.type, 1.0))
        return _call(builder, "fma", builder.sitofp(n, s.type), _splat(s.type, np.log(2.0)),
                     _log1p_unit(builder, f))
    return v(v), codegen


def _log1p_unit(builder, e):
    """IR for log(1 + e), 0 <= e <= 1, to 1e-17: 2 atanh(u) with u = e / (2 + e) <= 1/3, its
    odd series summed to 18 terms."""
    two = _splat(e.type, 2.0)
    u = builder.fdiv(e, builder.fadd(two, e))
    p = _polynomial(builder, builder.fmul(u, u), [1.0 / (2 * n + 1) for n in range(18)])
    return builder.fmul(builder.fmul(two, u), p)


def _vlog_loss(typingctx, z, t):
    """(loss, residual) of outputs z against 0/1 targets t, float64 lanes:
    loss = -(t log sigma(z) + (1 - t) log(1 - sigma(z))) = log(1 + e^-|z|) + max(z, 0) - t z,
    residual = sigma(z) - t, written as -sigma(-z) where t = 1 (no cancellation)."""
    def codegen(context, builder, sig, args):
        z, t = args
        zero = _splat(z.type, 0.0)
        e, s, positive = _sigmoid_parts(builder, z)
        small = builder.fmul(e, s)
        # max(z, 0) - t z first: exact for t in {0, 1}, no cancellation against log1p
        linear = _call(builder, "fma", builder.fsub(zero, t), z, _call(builder, "maxnum", z, zero))
        loss = builder.fadd(_log1p_unit(builder, e), linear)
        target = builder.fcmp_ordered(">", t, zero)
        residual = builder.select(target, builder.fsub(zero, builder.select(positive, small, s)),
                                  builder.select(positive, s, small))
        return context.make_tuple(builder, sig.return_type, (loss, residual))
    return types.UniTuple(z, 2)(z, t), codegen


if config.DISABLE_JIT:
    def lanes(a):
        return VECTOR_BYTES // a.itemsize

    def _span(a, i, count):  # the compiled intrinsics check nothing: here a stray index fails
        if not 0 <= i <= a.size - count:
            raise IndexError(f"{count} entries from {i} on in an array of {a.size}")
        return slice(i, i + count)

    def vload(a, i):
        return a[_span(a, i, lanes(a))].copy()

    def vstore(a, i, v):
        a[_span(a, i, lanes(a))] = v

    def vsplat(x, a):
        return np.full(lanes(a), x, a.dtype)

    def vfma(a, b, c):
        return a * b + c

    def vadd(a, b):
        return a + b

    def vmul(a, b):
        return a * b

    def vsub(a, b):
        return a - b

    def vdiv(a, b):
        return a / b

    def vmax(a, b):
        return np.maximum(a, b)

    def vabs(v):
        return np.abs(v)

    def vsum(v):
        return v.sum()

    def vcompress(v, k, cols, n):
        found = k + np.flatnonzero(v > 0)
        cols[_span(cols, n, v.size)][:found.size] = found  # room for all lanes, as compiled
        return found.size

    def vstep(v):
        return (v > 0).astype(v.dtype)

    def vtanh(v):
        return np.tanh(v)

    def vexp(v):
        return np.exp(v)

    def vlog(v):
        return np.log(v)

    def vsigmoid(v):
        e = np.exp(-np.abs(v))
        return np.where(v >= 0, 1 / (1 + e), e / (1 + e))

    def vlog_loss(z, t):
        e = np.exp(-np.abs(z))
        small, large = e / (1 + e), 1 / (1 + e)
        residual = np.where(t > 0, -np.where(z >= 0, small, large), np.where(z >= 0, large, small))
        return np.log1p(e) + (np.maximum(z, 0) - t * z), residual
else:
    (lanes, vload, vstore, vsplat, vfma, vadd, vsub, vmul, vdiv, vmax, vabs, vsum, vcompress,
     vstep, vsigmoid, vtanh, vexp, vlog, vlog_loss) = (
        intrinsic(f) for f in (_lanes, _vload, _vstore, _vsplat, _vfma, _vadd, _vsub, _vmul,
                               _vdiv, _vmax, _vabs, _vsum, _vcompress, _vstep, _vsigmoid,
                               _vtanh, _vexp, _vlog, _vlog_loss))
