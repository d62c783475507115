"""Kernel-level pieces: the non-zero column lists, the chunking, the packed layout, the
scalar activations."""

import numpy as np
import pytest
from scipy.special import expit

import fastnn
from fastnn import _isa, kernels
from fastnn.kernels import packing
from conftest import sparse_problem


@pytest.mark.parametrize("m", [1, 4, 5, 37])
def test_nonzero_columns_are_the_union_over_tiles_of_rows(m):
    X = sparse_problem((30, 25, 10), 37, seed=1)[1][:m]
    lists = kernels.nonzero_columns(X)
    starts, cols = lists.starts, lists.cols
    assert lists.cached
    tile = _isa.TILE_ROWS  # 8 rows with AVX-512, 4 otherwise: 8 // tile blocks a group
    assert starts.shape == (8 // tile * -(-m // 8) + 1,) and starts[0] == 0
    for b in range(starts.size - 1):
        block = X[np.minimum(np.arange(tile * b, tile * (b + 1)), m - 1)]  # last rows clamped
        np.testing.assert_array_equal(cols[starts[b]:starts[b + 1]],
                                      np.flatnonzero((block != 0).any(axis=0)))



@pytest.mark.parametrize("z", [-800.0, -30.0, -1.0, 0.0, 0.5, 30.0, 800.0])
def test_scalar_kernels_match_scipy(z):
    """sigma against scipy; sigma'(z) from a = sigma(z) against e^-|z| / (1 + e^-|z|)^2, the
    same derivative by another formula: a carries an absolute rounding of up to half an ulp of
    1, so a(1 - a) is held to that, and to 1e-14 relative where a is far from 1."""
    assert kernels.sigmoid(z) == pytest.approx(expit(z), rel=1e-15, abs=1e-300)
    e = np.exp(-abs(z))
    assert kernels.slope(expit(z), 0) == pytest.approx(
        e / (1 + e) ** 2, rel=1e-14, abs=np.finfo(float).eps / 2)




@pytest.mark.parametrize("n, nc, unit", [(1, 1, 8), (37, 5, 8), (203, 16, 8), (5000, 16, 8),
                                         (5000, 16, 1), (10285, 64, 1), (3, 3, 1)])
def test_chunks_cut_the_items_in_order_at_multiples_of_the_unit(n, nc, unit):
    bounds = [packing.chunk(n, nc, c, unit) for c in range(nc)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(hi == lo for (_, hi), (lo, _) in zip(bounds, bounds[1:]))  # contiguous
    assert all(lo % unit == 0 and lo <= hi for lo, hi in bounds)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layers", [(5, 3), (7, 6, 5), (9, 17, 3, 4)], ids=str)
def test_packed_weights_hold_every_weight_once(layers, dtype):
    """Packing places every weight; unpacking the forward layout gives the weights back."""
    sizes = np.array(layers, np.int64)
    w = np.arange(1.0, 1 + fastnn.n_params(layers)).astype(dtype)
    place = packing.placement(sizes, w)
    packed = packing.pack_weights(w, sizes, place)
    lanes = _isa.VECTOR_BYTES // w.itemsize  # per FASTNN_VECTOR_BYTES too
    assert np.all(place.padded[1:] % lanes == 0)  # whole vectors of units
    assert np.sort(packed.forward[packed.forward != 0]).tolist() == w.tolist()
    back = np.zeros(w.size)
    packing.add_unpacked(packed.forward, sizes, place, back, lanes)  # no layer by dots here
    np.testing.assert_array_equal(back, w)
    # backward: Theta_l[:, 1:] for l >= 1, every such weight once
    hidden = np.concatenate([t[:, 1:].ravel() for t in fastnn.unpack(w, layers)[1:]] or [[]])
    assert np.sort(packed.backward[packed.backward != 0]).tolist() == np.sort(hidden).tolist()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_layer_by_dots_unpacks_its_transposed_gradient(dtype):
    """A layer of one unit over 40 goes by dots (on AVX2 and AVX-512); its block of a packed
    gradient is read as rows of units, the bias first and the inputs from a vector on."""
    layers = (3, 40, 1)
    sizes, w = np.array(layers, np.int64), np.arange(1.0, 1 + fastnn.n_params(layers))
    place = packing.placement(sizes, w.astype(dtype))
    lanes = _isa.VECTOR_BYTES // np.dtype(dtype).itemsize
    assert packing.by_dots(1, sizes, lanes)
    packed = packing.pack_weights(w.astype(dtype), sizes, place).forward.copy()
    theta = fastnn.unpack(w, layers)[1]  # (1, 41)
    at = place.forward_at[1]
    packed[at:] = 0
    packed[at] = theta[0, 0]
    packed[at + lanes:at + lanes + 40] = theta[0, 1:]
    back = np.zeros(w.size)
    packing.add_unpacked(packed, sizes, place, back, lanes)
    np.testing.assert_array_equal(back, w)


def test_argmax_rows_is_numpys_argmax_first_of_equals():
    from fastnn.kernels import argmax_rows

    a = np.random.default_rng(0).integers(0, 3, (500, 7)).astype(np.float32)  # many ties
    np.testing.assert_array_equal(argmax_rows(a), np.argmax(a, axis=1))
    assert argmax_rows(np.zeros((0, 3))).shape == (0,)
