"""Measured powder patterns that are large, hold NaN/inf or negative values, or state the
wavelength in a less common header form; --xrd-soc outside the run.

Expected values come from the files the tests write: the numbers written (to the digits
written), the lines they were written on, and the wavelength stated in the header
converted by its unit (1 A = 0.1 nm = 1e-10 m)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from chemomech.cli.main import main
from chemomech.errors import ConfigError, ReadError
from chemomech.io import readers
from chemomech.io.readers import read_powder_pattern, write_powder_pattern
from chemomech.observables.compare import snapshots_for_series
from chemomech.observables.xrd_analysis import peak_positions_widths

X = np.linspace(1.0, 8.0, 50)
I = 100 + 1000 * np.exp(-((X - 3.0) / 0.05) ** 2)


def _write(path, rows, header=""):
    """Rows of numbers (or strings for a whole line) after `header`; returns path."""
    lines = [row if isinstance(row, str) else " ".join(f"{value:.10e}" for value in row) for row in rows]
    path.write_text(header + "\n".join(lines) + "\n")
    return path


# ---- 1. bounded memory ------------------------------------------------------------------

MEMORY_CHECK = textwrap.dedent("""
    import sys
    from chemomech.io.readers import read_powder_pattern

    def status_kib(key):  # VmRSS: resident now, VmHWM: its peak in this process (unlike
        for line in open("/proc/self/status"):  # ru_maxrss, not inherited over fork/exec)
            if line.startswith(key):
                return int(line.split()[1])

    before = status_kib("VmRSS:")
    pattern = read_powder_pattern(sys.argv[1])
    print(pattern.x.size, (status_kib("VmHWM:") - before) * 1024, pattern.x.nbytes + pattern.intensity.nbytes)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.slow
def test_reading_a_million_lines_stays_within_ten_times_the_arrays(tmp_path):
    """Peak resident memory while reading 1e6 lines (in a fresh process, so the peak is
    this read's) grows by less than 10 x the returned arrays (16 MB). The bound: the
    arrays themselves (1x), their concatenation from blocks (1x more) and one block's
    working set (readers.BLOCK_CHARS = 4 Mi characters: the text, its bytes, masks and
    token positions, about 2x here), with margin for the allocator; the line-by-line
    reader this replaces grew by about 19x (300 MB) on this file and 2.8 GB on 1e7 lines."""
    x = np.linspace(1.0, 30.0, 1_000_000)
    y = 100 + 1000 * np.exp(-((x - 3.0) / 0.05) ** 2)
    path = tmp_path / "big.xy"
    path.write_text("# Wavelength: 1.173e-11 m\n#  2th_deg  I\n" + "\n".join(map("{:.7f} {:.8e}".format, x, y)) + "\n")
    done = subprocess.run([sys.executable, "-c", MEMORY_CHECK, str(path)], capture_output=True, text=True, check=True)
    rows, growth, array_bytes = (int(value) for value in done.stdout.split())
    assert rows == x.size and array_bytes == 16_000_000
    assert growth < 10 * array_bytes, f"peak memory grew by {growth / array_bytes:.1f} x the arrays"


def test_blocks_give_the_same_rows_as_one_block(tmp_path, monkeypatch):
    """Parsed in blocks of a few lines (readers.BLOCK_CHARS made tiny), a file with comment
    lines, blank lines, CRLF endings and comma separators gives the rows written, and a
    bad line in a later block is still named by its line number."""
    rows = [f"{x:.10e},{i:.10e}" for x, i in zip(X, I)]
    rows[20:20] = ["# a comment among the data", ""]
    path = tmp_path / "blocks.xy"
    path.write_bytes(("# Wavelength = 0.1173 A\r\n" + "\r\n".join(rows) + "\r\n").encode())
    whole = read_powder_pattern(path)
    monkeypatch.setattr(readers, "BLOCK_CHARS", 40)
    blocked = read_powder_pattern(path)
    for pattern in (whole, blocked):
        np.testing.assert_allclose(pattern.x, X, rtol=1e-9)
        np.testing.assert_allclose(pattern.intensity, I, rtol=1e-9)
        assert pattern.header == ["# Wavelength = 0.1173 A", "# a comment among the data"]
    bad = _write(tmp_path / "bad.xy", [*zip(X[:40], I[:40]), "4.0 oops", *zip(X[:3], I[:3])])
    with pytest.raises(ReadError, match=r"bad\.xy, line 41: expected 2 numbers"):
        read_powder_pattern(bad)


# ---- 2. NaN / inf rows ------------------------------------------------------------------

def test_nan_and_inf_rows_are_dropped_with_their_lines(tmp_path):
    """Data rows 11-13, file lines 12-14 (after one header line), hold NaN, inf and -inf: dropped, one warning
    naming the file and the lines; the other 47 rows come back as written."""
    rows = list(zip(X, I))
    rows[10:13] = ["3.1 nan", "3.2 inf", "nan -inf"]
    path = _write(tmp_path / "scan.xy", rows, "#  2th_deg  I\n")
    with pytest.warns(UserWarning, match=r"^.*scan\.xy: 3 rows with NaN/inf dropped \(lines 12-14\)$"):
        pattern = read_powder_pattern(path)
    keep = np.r_[0:10, 13:50]
    np.testing.assert_allclose(pattern.x, X[keep], rtol=1e-9)
    np.testing.assert_allclose(pattern.intensity, I[keep], rtol=1e-9)


def test_nan_in_sigma_and_scattered_lines(tmp_path):
    rows = [(x, i, 1.0) for x, i in zip(X, I)]
    rows[0] = "1 2 nan"
    rows[5] = "1 2 inf"
    rows[6] = "1 nan 3"
    path = _write(tmp_path / "s.xye", rows)
    with pytest.warns(UserWarning, match=r"s\.xye: 3 rows with NaN/inf dropped \(lines 1, 6-7\)"):
        pattern = read_powder_pattern(path)
    assert pattern.sigma.shape == (47,)


def test_too_few_finite_rows_is_an_error(tmp_path):
    path = _write(tmp_path / "mostly_nan.xy", ["1 nan", "2 nan", "3 4", "5 nan"])
    with pytest.raises(ReadError, match=r"mostly_nan\.xy: 1 of 4 data rows are finite \(lines 1-2, 4 hold NaN/inf\); "
                                        r"a pattern needs at least 2"):
        read_powder_pattern(path)


def test_nan_given_to_the_peak_fits_is_named(tmp_path):
    """Before the check, a NaN reached least_squares as "Initial guess is outside of
    provided bounds"."""
    y = I.copy()
    y[12] = np.nan
    with pytest.raises(ConfigError, match=r"intensity holds 1 NaN/inf values \(first at index \[12\]\)"):
        peak_positions_widths(X, y, [(2.8, 3.2)])


# ---- 3. negative intensities ------------------------------------------------------------

def test_negative_intensities_are_kept_with_a_warning(tmp_path):
    """Lines 8 and 9 hold -5 and -2 (background-subtracted data): kept, one warning."""
    y = I.copy()
    y[7], y[8] = -5.0, -2.0
    path = _write(tmp_path / "neg.xy", list(zip(X, y)))
    with pytest.warns(UserWarning) as record:
        pattern = read_powder_pattern(path)
    assert [str(w.message) for w in record] == [
        f"{path}: 2 of 50 intensities are negative (lowest -5, first on line 8); kept as measured"]
    np.testing.assert_allclose(pattern.intensity, y, rtol=1e-9)


# ---- 5. wavelength header forms ---------------------------------------------------------

@pytest.mark.parametrize("line", [
    "# wavelength 0.1173",
    "# wavelength: 0.1173",
    "# Wavelength = 0.1173 A",
    "#wavelength 0.1173",
    "# Wavelength: 1.173e-11 m",
    "# Wavelength: 1.173e-11",  # older pyFAI: metres without the unit
    "# lambda = 0.1173",
    "# Lambda: 0.1173 Angstrom",
    "# Wavelength = 0.01173 nm",
    "# Wavelength (nm): 0.01173",
    "# wavelength [A] = 0.1173",
    "# wavelength_A 0.1173",
    "! λ = 0.1173 Å",
])
def test_wavelength_header_forms(tmp_path, line):
    """Every form states 0.1173 A (0.01173 nm, 1.173e-11 m) on line 2."""
    path = _write(tmp_path / "w.xy", list(zip(X, I)), f"# sample 1\n{line}\n")
    pattern = read_powder_pattern(path)
    assert pattern.wavelength_A == pytest.approx(0.1173, rel=1e-12)
    assert pattern.wavelength_line == 2 and pattern.wavelength_header == line


def test_implausible_wavelength_is_an_error_naming_the_line(tmp_path):
    """"wavelength 1173" without a unit would be 1173 A: outside 0.005-20 A."""
    path = _write(tmp_path / "w.xy", list(zip(X, I)), "# title\n# wavelength 1173\n")
    with pytest.raises(ReadError, match=r"w\.xy, line 2: wavelength 1173 A .* is outside 0\.005-20 A"):
        read_powder_pattern(path)


def test_lambda_in_other_words_is_not_a_wavelength(tmp_path):
    path = _write(tmp_path / "w.xy", list(zip(X, I)), "# lambda_max 450\n# wavelengths differ by 2 %\n")
    assert read_powder_pattern(path).wavelength_A is None


# ---- compare: --xrd-soc, wavelength origin, NaN rows end to end --------------------------

def test_xrd_soc_outside_the_run(small_sphere_result):
    soc = small_sphere_result["snapshot_soc"].values
    assert list(snapshots_for_series(soc, 2, np.array([soc[0], soc[-1]]))) == [0, soc.size - 1]
    with pytest.raises(ConfigError, match=r"^--xrd-soc 7: must be within the run's SoC range \[0(\.\d+)?, "):
        snapshots_for_series(soc, 2, np.array([0.1, 7.0]))
    with pytest.raises(ConfigError, match=r"^--xrd-soc nan: must be within"):
        snapshots_for_series(soc, 1, np.array([np.nan]))


@pytest.fixture(scope="module")
def sphere_run(tmp_path_factory, small_sphere_result):
    from chemomech.io.rundir import write_run_directory
    from tests.conftest import SMALL_SPHERE_CONFIG
    from chemomech.simulation.run import summary_of

    return write_run_directory(tmp_path_factory.mktemp("run") / "sphere", SMALL_SPHERE_CONFIG, small_sphere_result,
                               summary_of(small_sphere_result))


@pytest.fixture(scope="module")
def synthetic_patterns(small_sphere_result):
    import chemomech as cm

    pattern = cm.observables.xrd(small_sphere_result)
    return pattern["two_theta"].values, pattern["intensity"].values


def test_compare_cli_xrd_soc_out_of_range(sphere_run, synthetic_patterns, tmp_path, capsys):
    two_theta, intensity = synthetic_patterns
    path = write_powder_pattern(tmp_path / "p.xy", two_theta, intensity[0], 0.1173)
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["compare", str(sphere_run), "--xrd", str(path), "--xrd-soc", "7", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chemomech: error: --xrd-soc 7: must be within the run's SoC range [") and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.slow
def test_compare_with_nan_rows_and_the_wavelength_origin(sphere_run, synthetic_patterns, tmp_path, capsys):
    """The first snapshot's synthetic pattern x 3 + 10 with three NaN rows: compared
    (Rwp ~ 0 as in test_compare), the NaN rows warned about once; compare.json says the
    wavelength came from the file header, line 1 (write_powder_pattern's first line),
    from the --wavelength option, or from the default."""
    two_theta, intensity = synthetic_patterns
    path = write_powder_pattern(tmp_path / "nan.xy", two_theta, 3 * intensity[0] + 10.0, 0.1173)
    lines = path.read_text().splitlines()
    for k in (100, 101, 102):  # file lines 101-103
        lines[k] = lines[k].split()[0] + " nan"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match=r"nan\.xy: 3 rows with NaN/inf dropped \(lines 101-103\)") as record:
        assert main(["compare", str(sphere_run), "--xrd", str(path), "--out", str(out)]) == 0
    assert len([w for w in record if "NaN" in str(w.message)]) == 1
    xrd = json.loads((out / "compare.json").read_text())["xrd"]
    assert xrd["rwp_max"] < 1e-6
    assert xrd["wavelength_origin"] == {"source": "file header", "file": str(path), "line": 1,
                                        "text": lines[0]}
    with pytest.warns(UserWarning, match="NaN"):
        assert main(["compare", str(sphere_run), "--xrd", str(path), "--wavelength", "0.1173", "--out",
                     str(out), "--force"]) == 0
    assert json.loads((out / "compare.json").read_text())["xrd"]["wavelength_origin"] == {
        "source": "the --wavelength option"}
    plain = _write(tmp_path / "plain.xy", list(zip(two_theta[::5], 3 * intensity[0][::5] + 10.0)))
    assert main(["compare", str(sphere_run), "--xrd", str(plain), "--out", str(out), "--force"]) == 0
    origin = json.loads((out / "compare.json").read_text())["xrd"]["wavelength_origin"]
    assert origin["source"].startswith("default")
