"""fastnn's Numba kernels: jitted code only, one concern a room.

The map (each public driver is ``parallel=True``; :mod:`fastnn._jit` serialises calls to it)::

    rows.InMemoryRows.sums        -> fused.cost_grad_sums      (plan "fused")
                                     tiled.tiled_cost_grad_sums (plan "blas")
    InMemoryRows.hessp_sums       -> hessian.hessp_sums
    InMemoryRows.forward, labels  -> fused.forward_states       (plan "fused")
                                     tiled.tiled_forward_states (plan "blas")
                                     scalars.argmax_rows (predicted labels)
    rows kept for many calls      -> columns.nonzero_columns
    gradcheck.check_gradients     -> differences.incremental_differences (+ forward_states)
                                     differences.full_differences (-> fused.cost_grad_rows)

    fused, hessian  ->  micro (affine_tile, outer_tile; sparse_affine_tile, sparse_outer_tile
            |               for CSR rows; dot_rows, dot_outer for layers of few units)
            |               ->  vectors (explicit SIMD registers)
            |               packing (groups, chunks, the packed weight layout, fixed-order sums)
            +-----------    columns (the first layer's non-zero input columns, dense X)
    differences     ->  scalars (activations, softplus difference), fused.cost_grad_rows
    tiled           ->  np.dot (BLAS GEMM, one thread per worker), vectors, packing.chunk
    every room      ->  inputs (X dense or CSR: ``by_input`` joins a function's two forms)
    fused, hessian workers -> sharing (their arrays borrowed: no reference counts per group)

Conventions: ``w`` is the flat row-major parameter vector (bias in column 0 of each Theta) in
the compute dtype T (float64 or float32), ``layers`` an int64 array of layer sizes, ``codes``
an int64 array (activation, output) of :data:`scalars.UNITS` codes (a run-time choice: one
compiled kernel serves every pair), X ``(m, s1)`` C-contiguous of dtype T or ``CsrRows``
(canonical CSR, data of dtype T), Y ``(m, K)`` float64 targets (one-hot labels for logistic
and softmax outputs), ``weights`` ``(m,)`` float64 sample weights or ``(0,)`` for none. Sums
come back in float64. Rows are
walked in groups of ``tunables.GROUP_ROWS``, split into chunks that depend on m alone, and the
chunks' partial sums are added in a fixed order: the same bits for any thread count.
State that travels together is a NamedTuple (``CsrRows``, ``Placement``, ``Packed``,
``ColumnLists``, ``GroupState``, ``Workspace``, ``Group``, ``States``, ``Probe``), read by
field; the micro-kernels take their inputs as named parameters (see ``micro``).
"""

from .columns import ColumnLists, nonzero_columns, unsearched_columns
from .differences import full_differences, incremental_differences
from .fused import States, cost_grad_rows, cost_grad_sums, forward_states
from .hessian import hessp_sums
from .inputs import CsrRows
from .scalars import UNITS, argmax_rows, sigmoid, slope
from .tiled import tiled_cost_grad_sums, tiled_forward_states

__all__ = ["ColumnLists", "CsrRows", "States", "UNITS", "argmax_rows", "cost_grad_rows",
           "cost_grad_sums", "forward_states", "full_differences", "hessp_sums",
           "incremental_differences", "nonzero_columns", "sigmoid", "slope",
           "tiled_cost_grad_sums", "tiled_forward_states", "unsearched_columns"]
