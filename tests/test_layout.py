"""The flat parameter layout and the initialisers."""

import numpy as np
import pytest

import fastnn


def test_n_params_of_the_classic_network():
    assert fastnn.n_params((400, 25, 10)) == 25 * 401 + 10 * 26


def test_pack_unpack_round_trip_is_row_major():
    t1, t2 = np.arange(6.0).reshape(2, 3), np.arange(6.0, 18.0).reshape(4, 3) - 20
    params = fastnn.pack([t1, t2])
    np.testing.assert_array_equal(params, np.r_[t1.ravel(), t2.ravel()])
    u1, u2 = fastnn.unpack(params, (2, 2, 4))
    np.testing.assert_array_equal(u1, t1)
    np.testing.assert_array_equal(u2, t2)


def test_unpack_returns_views():
    params = np.zeros(fastnn.n_params((3, 2, 2)))
    fastnn.unpack(params, (3, 2, 2))[1][0, 0] = 5.0
    assert params[2 * 4] == 5.0


def test_pack_rejects_matrices_that_do_not_chain():
    with pytest.raises(ValueError, match="Theta_2 needs 3 columns"):
        fastnn.pack([np.zeros((2, 4)), np.zeros((3, 2))])


def test_init_params_range_shape_and_seed():
    layers = (400, 25, 10)
    p = fastnn.init_params(layers, seed=1, epsilon=0.05)
    assert p.shape == (10285,) and p.dtype == np.float64
    assert -0.05 <= p.min() < -0.049 and 0.049 < p.max() <= 0.05
    np.testing.assert_array_equal(p, fastnn.init_params(layers, seed=1, epsilon=0.05))
    assert not np.array_equal(p, fastnn.init_params(layers, seed=2, epsilon=0.05))


def test_debug_params_are_sines_in_column_major_order():
    t1, t2 = fastnn.unpack(fastnn.debug_params((3, 5, 3)), (3, 5, 3))
    # Theta_1 is 5 x 4: entry (row 1, col 0) is the 2nd in column-major order, (0, 1) the 6th.
    assert t1[1, 0] == pytest.approx(np.sin(2) / 10)
    assert t1[0, 1] == pytest.approx(np.sin(6) / 10)
    assert t2[2, 5] == pytest.approx(np.sin(18) / 10)  # last of 3 x 6, numbering restarts
