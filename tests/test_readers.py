"""Readers of measured data: each format round-trips a file written here (the numbers
come back to the precision they were written with), and malformed files raise ReadError
naming the file and, for text files, the line."""

from __future__ import annotations

import numpy as np
import pytest

from chemomech.errors import ReadError
from chemomech.io.readers import read_hdf5_dataset, read_powder_pattern, read_tiff_stack, two_theta_deg

X = np.linspace(1.0, 8.0, 50)
I = 100 + 1000 * np.exp(-((X - 3.0) / 0.05) ** 2)
S = np.sqrt(I)


def _write_columns(path, columns, header=""):
    with open(path, "w") as handle:
        handle.write(header)
        for row in zip(*columns):
            handle.write("  ".join(f"{value:.10e}" for value in row) + "\n")
    return path


def test_xy_two_columns_round_trip(tmp_path):
    """Plain .xy: x, I written with 11 significant digits come back to 1e-9 relative."""
    pattern = read_powder_pattern(_write_columns(tmp_path / "a.xy", (X, I)))
    np.testing.assert_allclose(pattern.x, X, rtol=1e-9)
    np.testing.assert_allclose(pattern.intensity, I, rtol=1e-9)
    assert pattern.sigma is None and pattern.x_unit == "2th_deg" and pattern.x_unit_assumed
    assert pattern.wavelength_A is None


def test_xye_three_columns_round_trip(tmp_path):
    pattern = read_powder_pattern(_write_columns(tmp_path / "a.xye", (X, I, S), "# my pattern\n"))
    np.testing.assert_allclose(pattern.sigma, S, rtol=1e-9)
    assert pattern.header == ["# my pattern"]


def test_pyfai_dat_q_nm(tmp_path):
    """pyFAI header: "# Wavelength: 1.173e-11 m" (metres) and the column header
    "# q_nm^-1  I  sigma". Converting Q back to 2-theta with the file's wavelength
    inverts Q = 4 pi sin(theta) / lambda (analytical)."""
    wavelength_A = 0.1173
    q_nm = 10 * 4 * np.pi * np.sin(np.radians(X) / 2) / wavelength_A
    header = ("# == pyFAI calibration ==\n# Distance Sample to Detector: 1.0 m\n"
              "# Wavelength: 1.173e-11 m\n# --> a.dat\n#       q_nm^-1             I           sigma \n")
    pattern = read_powder_pattern(_write_columns(tmp_path / "a.dat", (q_nm, I, S), header))
    assert pattern.x_unit == "q_nm^-1" and not pattern.x_unit_assumed
    assert pattern.wavelength_A == pytest.approx(wavelength_A, rel=1e-12)
    np.testing.assert_allclose(two_theta_deg(pattern), X, rtol=1e-9)
    # a given wavelength wins over the file's
    assert two_theta_deg(pattern, wavelength_A=2 * wavelength_A)[0] > X[0]


def test_pyfai_dat_two_theta_and_q_angstrom(tmp_path):
    header = "# Wavelength: 1.173e-11 m\n#        2th_deg             I \n"
    pattern = read_powder_pattern(_write_columns(tmp_path / "b.dat", (X, I), header))
    assert pattern.x_unit == "2th_deg" and not pattern.x_unit_assumed
    np.testing.assert_allclose(two_theta_deg(pattern), X, rtol=1e-9)
    q_a = 4 * np.pi * np.sin(np.radians(X) / 2) / 0.5
    pattern = read_powder_pattern(_write_columns(tmp_path / "c.dat", (q_a, I), "#  q_A^-1  I\n"))
    assert pattern.x_unit == "q_A^-1" and pattern.wavelength_A is None
    np.testing.assert_allclose(two_theta_deg(pattern, wavelength_A=0.5), X, rtol=1e-9)
    with pytest.raises(ReadError, match="no wavelength"):
        two_theta_deg(pattern)


def test_fit2d_chi(tmp_path):
    """Fit2D .chi: title, x label, y label, point count, data."""
    path = tmp_path / "a.chi"
    header = f"sample 1 integrated\n2-Theta Angle (Degrees)\nIntensity\n       {X.size}\n"
    pattern = read_powder_pattern(_write_columns(path, (X, I), header))
    np.testing.assert_allclose(pattern.x, X, rtol=1e-9)
    assert pattern.x_unit == "2th_deg" and not pattern.x_unit_assumed
    q_nm = 10 * 4 * np.pi * np.sin(np.radians(X) / 2) / 0.1173
    pattern = read_powder_pattern(_write_columns(tmp_path / "q.chi", (q_nm, I), f"t\nQ (nm-1)\nIntensity\n{X.size}\n"))
    assert pattern.x_unit == "q_nm^-1"
    np.testing.assert_allclose(two_theta_deg(pattern, 0.1173), X, rtol=1e-9)


def test_tiff_stack_round_trip(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    stack = np.random.default_rng(0).random((5, 4, 6, 7)).astype(np.float32)
    tifffile.imwrite(tmp_path / "s.tif", stack, photometric="minisblack")
    np.testing.assert_array_equal(read_tiff_stack(tmp_path / "s.tif"), stack)


def test_hdf5_dataset_round_trip(tmp_path):
    h5py = pytest.importorskip("h5py")
    data = np.arange(24.0).reshape(2, 3, 4)
    with h5py.File(tmp_path / "d.h5", "w") as handle:
        handle.create_dataset("entry/data", data=data).attrs["units"] = "counts"
    array, attrs = read_hdf5_dataset(tmp_path / "d.h5", "entry/data")
    np.testing.assert_array_equal(array, data)
    assert attrs["units"] == "counts"
    with pytest.raises(ReadError, match="d.h5.*no dataset 'entry/missing'"):
        read_hdf5_dataset(tmp_path / "d.h5", "entry/missing")


# ---- malformed files ------------------------------------------------------------------

def test_text_line_in_the_middle(tmp_path):
    path = _write_columns(tmp_path / "bad.xy", (X[:3], I[:3]))
    with open(path, "a") as handle:
        handle.write("oops not a number\n4.0 5.0\n")
    with pytest.raises(ReadError, match=r"bad\.xy, line 4: expected 2 numbers"):
        read_powder_pattern(path)


def test_wrong_column_count(tmp_path):
    path = tmp_path / "bad.xye"
    path.write_text("# x I s\n1 2 3\n2 3 4\n3 4\n")
    with pytest.raises(ReadError, match=r"bad\.xye, line 4: expected 3 columns.*found 2"):
        read_powder_pattern(path)
    path.write_text("1 2 3 4\n")
    with pytest.raises(ReadError, match=r"line 1: expected 2 or 3 columns"):
        read_powder_pattern(path)


def test_empty_and_missing(tmp_path):
    (tmp_path / "empty.xy").write_text("")
    with pytest.raises(ReadError, match=r"empty\.xy: the file is empty"):
        read_powder_pattern(tmp_path / "empty.xy")
    (tmp_path / "header_only.dat").write_text("# Wavelength: 1e-11 m\n#  2th_deg  I\n")
    with pytest.raises(ReadError, match=r"header_only\.dat: no data"):
        read_powder_pattern(tmp_path / "header_only.dat")
    with pytest.raises(ReadError, match=r"missing\.xy: no such file"):
        read_powder_pattern(tmp_path / "missing.xy")
    with pytest.raises(ReadError, match=r"missing\.tif: no such file"):
        read_tiff_stack(tmp_path / "missing.tif")


def test_bad_chi(tmp_path):
    path = tmp_path / "bad.chi"
    path.write_text("title\n2-Theta Angle (Degrees)\nIntensity\nmany\n1 2\n2 3\n")
    with pytest.raises(ReadError, match=r"bad\.chi, line 4: expected the number of points"):
        read_powder_pattern(path)
    path.write_text("title\n2-Theta Angle (Degrees)\nIntensity\n3\n1 2\n2 3\n")
    with pytest.raises(ReadError, match=r"bad\.chi, line 4: the header announces 3 points.*2 data lines"):
        read_powder_pattern(path)
    path.write_text("title\n2-Theta Angle (Degrees)\nIntensity\n3\n1 2\nx y\n2 3\n")
    with pytest.raises(ReadError, match=r"bad\.chi, line 6"):
        read_powder_pattern(path)


def test_bad_tiff(tmp_path):
    path = tmp_path / "bad.tif"
    path.write_bytes(b"II*\x00" + b"\xff" * 20)
    with pytest.raises(ReadError, match=r"bad\.tif: .*TIFF"):
        read_tiff_stack(path)
    path.write_text("hello, not a tiff")
    with pytest.raises(ReadError, match=r"bad\.tif"):
        read_tiff_stack(path)
