"""The PCHIP interpolant of material tables (materials/pchip.py) against its reference,
SciPy's PchipInterpolator, which implements the same Fritsch-Carlson/Butland rules."""

import numpy as np
import pytest
from scipy.interpolate import PchipInterpolator

from chemomech.materials.pchip import Pchip


@pytest.mark.parametrize("seed", range(6))
def test_pchip_equals_scipy_on_random_tables(seed):
    rng = np.random.default_rng(seed)
    n = rng.integers(2, 15)
    x = np.sort(rng.uniform(0.0, 1.0, n))
    x = x[np.concatenate([[True], np.diff(x) > 1e-6])]
    y = rng.normal(size=len(x)) if seed % 2 else np.cumsum(rng.uniform(0, 1, len(x)))  # odd: non-monotone
    x_new = np.linspace(x[0], x[-1], 997)
    reference = PchipInterpolator(x, y)(x_new)
    np.testing.assert_allclose(Pchip(x, y)(x_new), reference, rtol=0, atol=1e-12 * (1 + np.abs(y).max()))


def test_pchip_holds_end_values_and_is_monotone_on_monotone_data():
    x = np.array([0.0, 0.1, 0.5, 0.6, 1.0])
    y = np.array([4.6, 4.2, 3.8, 3.79, 3.0])  # falling, with a near-flat stretch
    p = Pchip(x, y)
    assert p(-1.0) == 4.6 and p(2.0) == 3.0
    values = p(np.linspace(0, 1, 5001))
    assert np.all(np.diff(values) <= 0.0)
    np.testing.assert_allclose(p(x), y, rtol=0, atol=1e-15)  # interpolates the table


def test_pchip_rejects_bad_tables():
    with pytest.raises(ValueError, match="strictly rising"):
        Pchip([0.0, 0.0, 1.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="equal length"):
        Pchip([0.0], [1.0])
