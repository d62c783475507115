"""Every number that tunes fastnn's speed or guards its input, named for what it decides.

None changes what a result means. The kernels' work splits depend on the number of rows alone,
never on the thread count: the same bits for any number of threads. Changing a kernels' number
means rebuilding the shipped kernels (``python -m fastnn._precompiled``).
"""

# The plan (fastnn.rows.choose_plan), from timing both plans on every shape of
# `python bench/plans.py` in one process (docs/architecture.md, "Two plans"): the BLAS plan
# where a layer has this many weights (biases included) or more, whatever X
BLAS_FROM_WEIGHTS = 20_000  # for cost and gradient
BLAS_FORWARD_FROM_WEIGHTS = 100_000  # for rows read by forward passes alone (predictions)
# ... except where the micro-kernels' tiles hold 8 rows (AVX-512) and the host says its L2
# size: there from weights (in bytes) of this share of a core's L2 on. A group's pass streams
# each layer's weights from L2; the fused forward pass outran OpenBLAS up to 1.0-1.2 MB of
# weights and fell behind from 1.2-1.4 MB on, in both dtypes, with a 2 MiB L2 (`python
# bench/plans.py`: 784-s-10 for s = 128, 160, 192, 384, and 784-256-128-10)
BLAS_FORWARD_FROM_L2_SHARE = 0.55

# How the kernels split the rows (fastnn.kernels.packing, fused, tiled, hessian, columns)
GROUP_ROWS = 8  # rows a group walks together: one or two tiles of the micro-kernels (_isa)
MAX_CHUNKS = 16  # chunks of rows per parallel call at most: enough for 16 threads to share
TILE_CHUNK_MIN_ROWS = 256  # rows a BLAS-plan chunk has at least, where m allows
# BLAS-plan rows per matrix product, measured with tiles of 32..512 rows interleaved in one
# process (2 cores, AVX2, bench/'s shapes in both dtypes): longer tiles were faster or equal
# for cost and gradient, forward passes best at 256-512. Both again with 256..2048 (`python
# bench/tiles.py`, AVX-512, wide shapes, m = 2000 and 10 000): a chunk in one tile of 1024
# rows is 1-6 % faster than two of 512 where chunks are longer than 512 rows (each tile adds
# its gradient product into the chunk's once more; forward passes: each re-packs the weights
# in OpenBLAS), the same elsewhere; 256 rows 1-7 % slower than 512
COST_GRAD_TILE_ROWS = 1024
FORWARD_TILE_ROWS = 1024

# A layer of units whose outputs fill few lanes (a regressor's one output) goes forward by a
# dot product per row and unit, its gradient transposed (kernels.packing.by_dots), where that
# takes fewer loads: two per vector of inputs plus this many for adding up a vector's lanes
DOT_REDUCE_COST = 4

# The gradient checker (fastnn.kernels.differences)
CHECKER_PARAM_CHUNKS = 64  # chunks of parameters, each with its own copy of the weights

# Training (fastnn.train)
DIVERGED_FACTOR = 100.0  # gradient descent stops once the cost exceeds its start this many times
MAX_CLASSES = 2**16  # one output unit per label 0..max(y): more is a mislabelled y
