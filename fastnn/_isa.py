"""The vector width of the host CPU, detected once, and the width each dtype's kernels use.

``VECTOR_BYTES`` is the widest vector register LLVM may use here (llvmlite's host CPU
features): 64 with AVX-512, 32 with AVX/AVX2, 16 otherwise (SSE2, and any CPU LLVM reports
no wider vectors for). The environment variable ``FASTNN_VECTOR_BYTES`` (16, 32 or 64, at most
the host's) forces a narrower width, to test or compare the paths a CPU supports; kernels
compiled for a forced width are cached in a folder of their own (see :mod:`fastnn._jit`).
``L2_BYTES``: a core's L2 cache, where Linux says (``fastnn.rows.choose_plan`` reads it).
"""

import os
from pathlib import Path

from llvmlite import binding

from .tunables import GROUP_ROWS

ENVIRONMENT = "FASTNN_VECTOR_BYTES"
WIDTHS = (16, 32, 64)


def host_vector_bytes(features=None):
    """The widest vector registers of the CPU with these LLVM features (default: the host's)."""
    features = binding.get_host_cpu_features() if features is None else features
    if features.get("avx512f"):
        return 64
    if features.get("avx"):
        return 32
    return 16


def chosen_vector_bytes(setting=None, host=None):
    """The host's width, or the narrower one ``setting`` (FASTNN_VECTOR_BYTES) asks for."""
    host = host_vector_bytes() if host is None else host
    setting = os.environ.get(ENVIRONMENT) if setting is None else setting
    if setting in (None, ""):
        return host
    try:
        width = int(setting)
    except ValueError:
        width = None
    if width not in WIDTHS or width > host:
        allowed = ", ".join(str(w) for w in WIDTHS if w <= host)
        raise ValueError(f"{ENVIRONMENT} must be one of {allowed} on this CPU "
                         f"(its widest vectors are {host} bytes), got {setting!r}")
    return width


def l2_bytes(cache="/sys/devices/system/cpu/cpu0/cache"):
    """A core's L2 cache in bytes, from Linux's sysfs (``size`` of the level-2 index, as
    ``2048K``); None where the folder does not say."""
    scale = {"K": 1 << 10, "M": 1 << 20}
    for index in sorted(Path(cache).glob("index*")):
        try:
            if (index / "level").read_text().strip() != "2":
                continue
            size = (index / "size").read_text().strip()
            return int(size[:-1]) * scale[size[-1]] if size[-1] in scale else int(size)
        except (OSError, ValueError):
            return None
    return None


HOST_VECTOR_BYTES = host_vector_bytes()
L2_BYTES = l2_bytes()
VECTOR_BYTES = chosen_vector_bytes(host=HOST_VECTOR_BYTES)
# AVX-512 packs the chosen lanes of a vector together in one instruction (vpcompressd), then
# stores them as a vector: the column search compacts a vector of columns at a time; elsewhere
# LLVM would emulate it with a branch per lane, and a branch-free scalar loop does better
COMPRESS_STORES = VECTOR_BYTES == 64
# Rows the micro-kernels keep in registers, two vectors of units each (kernels.micro): 8
# (sixteen accumulators) in AVX-512's 32 registers, each weight vector loaded once for 8 rows
# (the first layer's weights come from L2); 4 in the 16 of AVX2 and SSE2, where sixteen would
# spill (8 rows x 1 vector there, tried in 7bf7df3: 8-21 % slower than 4 x 2 in
# `FASTNN_VECTOR_BYTES=32 python bench/ab.py aee8f64`)
TILE_ROWS = 8 if VECTOR_BYTES == 64 else 4
TILES = GROUP_ROWS // TILE_ROWS  # tiles a group of rows is read in


def isa_name(width=VECTOR_BYTES):
    """A name for the vectors the kernels use: ``AVX-512``, ``AVX2``/``AVX`` or ``SSE2``."""
    if width == 64:
        return "AVX-512"
    if width == 32:
        return "AVX2" if binding.get_host_cpu_features().get("avx2") else "AVX"
    return "SSE2"
