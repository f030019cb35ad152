"""Refined lattice tables (chemomech.io.lattice_table) and their comparison with a run
(chemomech.observables.compare_lattice, plotting.compare_lattice).

Reading: small tables written here in each layout (CSV with a header and a label column,
TSV, semicolons with decimal commas, whitespace with a '#' header, whitespace without a
header and a column map) come back with the numbers written, in project units; malformed
files raise one-line ReadErrors naming the file and the line or column.
Comparison: a table synthesised from a run compared with that run gives zero differences
(to round-off); planted tables give the figures of merit computed by hand here.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import xarray as xr

from chemomech.errors import ChemomechError, ReadError
from chemomech.io.lattice_table import LatticeTable, parse_column_map, read_lattice_table, write_lattice_table
from chemomech.observables.compare_lattice import compare_lattice, lattice_figures, simulated_lattice
from chemomech.plotting.compare_lattice import plot_lattice_comparison

RUN_CONFIG = {"material": "nc91", "particle": {"geometry": "sphere-1d", "radius_um": 1.0, "cells": 20},
              "protocol": {"kind": "cc-charge", "c_rate": 1.0, "v_max": 4.5}, "output": {"snapshots": 12}}


def _write(path, text):
    path.write_text(text)
    return path


def _read_quietly(path, columns=None):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a layout test must not need a warning
        return read_lattice_table(path, columns)


def _read_error(path, columns=None) -> str:
    """The message of the ReadError reading `path` raises; one line, naming the file."""
    with pytest.raises(ReadError) as caught:
        read_lattice_table(path, columns)
    message = str(caught.value)
    assert "\n" not in message
    return message


# ---- layouts ---------------------------------------------------------------------------------

def test_csv_with_header_label_column_and_comments(tmp_path):
    """CSV: a label column and an Rwp column (ignored), '#' comments before and among the
    rows, esd columns; the values are those written."""
    path = _write(tmp_path / "seq.csv",
                  "# sequential refinement, NC91 C/10\n"
                  "file,Q (mAh/g),a (A),c (A),a_esd,c_esd,Rwp\n"
                  "scan_001.xye,0,2.8719,14.1903,0.0001,0.0004,3.2\n"
                  "# beam refill here\n"
                  "scan_002.xye,25.5,2.8650,14.2301,0.0001,0.0005,3.1\n"
                  "\n"
                  "scan_003.xye,51.0,2.8580,14.2702,0.0002,0.0006,3.3\n")
    table = _read_quietly(path)
    assert table.axis == "charge" and table.axis_unit == "mAh/g"
    np.testing.assert_array_equal(table.axis_values, [0.0, 25.5, 51.0])
    np.testing.assert_array_equal(table.a, [2.8719, 2.8650, 2.8580])
    np.testing.assert_array_equal(table.c, [14.1903, 14.2301, 14.2702])
    np.testing.assert_array_equal(table.a_err, [0.0001, 0.0001, 0.0002])
    np.testing.assert_array_equal(table.c_err, [0.0004, 0.0005, 0.0006])
    assert table.volume is None
    np.testing.assert_array_equal(table.lines, [3, 5, 7])  # file lines of the rows
    assert table.columns == {"charge": 1, "a": 2, "c": 3, "a_err": 4, "c_err": 5}
    assert table.found["a"] == "header 'a (A)'" and table.found["charge"] == "header 'Q (mAh/g)'"


def test_tsv_time_in_minutes_with_volume(tmp_path):
    """TSV, time in minutes (converted to h: 90 min = 1.5 h), a/Å and c/Å headers, the
    cell volume given; CRLF line ends."""
    path = tmp_path / "seq.tsv"
    path.write_bytes(b"time (min)\ta/\xc3\x85\tc/\xc3\x85\tV (\xc3\x85^3)\r\n"
                     b"0\t2.8719\t14.1903\t101.36\r\n90\t2.8650\t14.2301\t101.16\r\n")
    table = _read_quietly(path)
    assert table.axis == "time"
    np.testing.assert_allclose(table.axis_values, [0.0, 1.5], rtol=1e-15)
    np.testing.assert_array_equal(table.volume, [101.36, 101.16])
    assert any("min" in note for note in table.notes)


def test_semicolons_with_decimal_commas(tmp_path):
    """Semicolon-separated with decimal commas (a European spreadsheet export)."""
    path = _write(tmp_path / "seq.csv", "SoC;a (Å);c (Å)\n0,10;2,8719;14,1903\n0,25;2,8650;14,2301\n")
    table = _read_quietly(path)
    assert table.axis == "soc"
    np.testing.assert_array_equal(table.axis_values, [0.10, 0.25])
    np.testing.assert_array_equal(table.a, [2.8719, 2.8650])


def test_whitespace_with_commented_header_and_decimal_point_forms(tmp_path):
    """Whitespace columns, the header as a '#' comment line, numbers written as 3, .5e2,
    2.8719E+00 and 1.41903e1 (all decimal-point forms Python's float reads)."""
    path = _write(tmp_path / "seq.dat",
                  "# NC91 at C/10\n# Ewe/V   a(A)   c(A)\n3.7  2.8719E+00  1.41903e1\n"
                  "# comment between rows\n4  2.8650  14.2301\n4.2   .2865e1   14.2301\n")
    table = _read_quietly(path)
    assert table.axis == "voltage"
    np.testing.assert_array_equal(table.axis_values, [3.7, 4.0, 4.2])
    np.testing.assert_array_equal(table.a, [2.8719, 2.8650, 2.865])
    np.testing.assert_array_equal(table.c, [14.1903, 14.2301, 14.2301])
    np.testing.assert_array_equal(table.lines, [3, 5, 6])


def test_whitespace_without_header_and_column_map(tmp_path):
    """No header: the columns come from the map (0-based); unlisted columns are ignored."""
    path = _write(tmp_path / "seq.txt", "0 999 2.8719 7 14.1903 0.001\n10 999 2.8650 7 14.2301 0.002\n")
    table = _read_quietly(path, "charge=0,a=2,c=4,c_err=5")
    np.testing.assert_array_equal(table.axis_values, [0.0, 10.0])
    np.testing.assert_array_equal(table.c, [14.1903, 14.2301])
    np.testing.assert_array_equal(table.c_err, [0.001, 0.002])
    assert table.found == {"charge": "--lattice-columns", "a": "--lattice-columns", "c": "--lattice-columns",
                           "c_err": "--lattice-columns"}
    # the map wins over a header row too
    path = _write(tmp_path / "named.csv", "x,y,z\n0,2.8719,14.1903\n5,2.8650,14.2301\n")
    assert _read_quietly(path, "time=0,a=1,c=2").axis == "time"


@pytest.mark.parametrize("header, axis, factor", [
    ("capacity_mAh_g,a_angstrom,c_A", "charge", 1.0),
    ("Specific capacity (mAh g-1),lattice a,lattice c", "charge", 1.0),
    ("t/h,a,c", "time", 1.0),
    ("time_s,a,c", "time", 1 / 3600),
    ("SoC (%),a,c", "soc", 0.01),
    ("E (V vs Li/Li+),a,c", "voltage", 1.0),
    ("Ewe/mV,a,c", "voltage", 1e-3),
])
def test_header_names_and_units(tmp_path, header, axis, factor):
    """Common header names of each axis, their units converted to the project units
    (the factor is the unit's definition: 1 s = 1/3600 h, 1 % = 0.01, 1 mV = 1e-3 V)."""
    path = _write(tmp_path / "t.csv", f"{header}\n0.1,2.8719,14.1903\n0.2,2.8650,14.2301\n")
    table = _read_quietly(path)
    assert table.axis == axis
    np.testing.assert_allclose(table.axis_values, np.array([0.1, 0.2]) * factor, rtol=1e-15)


def test_a_column_named_x_is_not_taken_for_an_axis(tmp_path):
    """x means the Li content of Li_xMO2 in this package and the Li removed in many
    tables: a header "x" alone is refused, naming --lattice-columns."""
    path = _write(tmp_path / "t.csv", "x,a,c\n0.9,2.8719,14.1903\n0.8,2.8650,14.2301\n")
    with pytest.raises(ReadError, match="--lattice-columns"):
        read_lattice_table(path)


def test_several_axis_columns_choose_charge_and_bare_v_is_volume(tmp_path):
    """time, Ewe/V and Q present: the axis is charge (the first of charge, soc, time,
    voltage); a bare "V" column is the cell volume."""
    path = _write(tmp_path / "t.csv", "time/h,Ewe/V,Q,a,c,V\n"
                                      "0,3.7,0,2.8719,14.1903,101.4\n1,3.9,27,2.8650,14.2301,101.2\n")
    table = _read_quietly(path)
    assert table.axis == "charge" and table.columns["volume"] == 5
    assert any("time" in note and "voltage" in note for note in table.notes)


def test_nm_units(tmp_path):
    """a, c in nm: converted to Angstrom (x 10) when the header says nm; assumed, with a
    warning, when no unit is stated and every a < 1, c < 2."""
    stated = _write(tmp_path / "nm.csv", "Q,a (nm),c (nm)\n0,0.28719,1.41903\n10,0.28650,1.42301\n")
    np.testing.assert_allclose(_read_quietly(stated).a, [2.8719, 2.8650], rtol=1e-15)
    bare = _write(tmp_path / "bare.csv", "Q,a,c\n0,0.28719,1.41903\n10,0.28650,1.42301\n")
    with pytest.warns(UserWarning, match="read as nm"):
        table = read_lattice_table(bare)
    np.testing.assert_allclose(table.c, [14.1903, 14.2301], rtol=1e-15)


def test_soc_in_percent_without_unit_warns(tmp_path):
    path = _write(tmp_path / "soc.csv", "SoC,a,c\n0,2.8719,14.1903\n50,2.8650,14.2301\n")
    with pytest.warns(UserWarning, match="read as %"):
        table = read_lattice_table(path)
    np.testing.assert_array_equal(table.axis_values, [0.0, 0.5])


def test_nan_rows_dropped_with_one_warning_naming_lines(tmp_path):
    """Rows with NaN, inf or an empty used cell are dropped; NaN in an unused column is not."""
    path = _write(tmp_path / "nan.csv", "Q,a,c,Rwp\n0,2.8719,14.1903,nan\n5,nan,14.2,3\n10,2.8650,,3\n"
                                        "15,2.86,inf,3\n20,2.8580,14.2702,3\n")
    with pytest.warns(UserWarning, match=r"nan.csv: 3 rows with NaN/inf or empty cells dropped \(lines 3-5\)"):
        table = read_lattice_table(path)
    np.testing.assert_array_equal(table.axis_values, [0.0, 20.0])
    np.testing.assert_array_equal(table.lines, [2, 6])


def test_write_read_round_trip(tmp_path):
    """write_lattice_table writes 17 significant digits: every number comes back exactly."""
    rng = np.random.default_rng(3)
    q = np.sort(rng.uniform(0, 250, 40))
    a, c = rng.uniform(2.8, 2.9, 40), rng.uniform(13.5, 14.5, 40)
    a_err, c_err, volume = rng.uniform(0, 1e-3, 40), rng.uniform(0, 1e-2, 40), rng.uniform(95, 102, 40)
    path = write_lattice_table(tmp_path / "rt.csv", "charge", q, a, c, a_err, c_err, volume, comment="round trip")
    table = _read_quietly(path)
    for name, values in (("axis_values", q), ("a", a), ("c", c), ("a_err", a_err), ("c_err", c_err),
                         ("volume", volume)):
        np.testing.assert_array_equal(getattr(table, name), values)
    for axis in ("time", "soc", "voltage"):
        values = np.linspace(0.1, 0.9, 5)
        path = write_lattice_table(tmp_path / f"{axis}.csv", axis, values, a[:5], c[:5])
        table = _read_quietly(path)
        assert table.axis == axis
        np.testing.assert_array_equal(table.axis_values, values)


# ---- column maps and errors -----------------------------------------------------------------

def test_parse_column_map():
    assert parse_column_map("charge=0,a=2,c=4") == {"charge": 0, "a": 2, "c": 4}
    assert parse_column_map(" Voltage = 1 , a=2, c=3, a_err=4, c_err=5, volume=6 ") == {
        "voltage": 1, "a": 2, "c": 3, "a_err": 4, "c_err": 5, "volume": 6}


@pytest.mark.parametrize("text, expected", [
    ("", "give key=index pairs"),
    ("charge0,a=1,c=2", "is not key=index"),
    ("charge=0,b=1,c=2", "unknown key 'b'; allowed: charge, time"),
    ("charge=0,a=1,a=2,c=3", "a is given twice"),
    ("charge=0,a=x,c=2", "must be a 0-based column index"),
    ("charge=0,a=-1,c=2", "must be a 0-based column index"),
    ("a=1,c=2", "exactly one axis"),
    ("charge=0,time=1,a=2,c=3", "found charge and time"),
    ("charge=0,a=1", "c missing"),
    ("charge=0,a=1,c=1", "a and c both name column 1"),
])
def test_column_map_errors(text, expected):
    with pytest.raises(ReadError, match=expected) as caught:
        parse_column_map(text)
    assert "\n" not in str(caught.value) and "--lattice-columns" in str(caught.value)


def test_file_errors(tmp_path):
    """Missing file, directory, empty, binary, a powder pattern (2 columns)."""
    assert "no such file" in _read_error(tmp_path / "missing.csv")
    assert "is a directory" in _read_error(tmp_path)
    assert "empty" in _read_error(_write(tmp_path / "empty.csv", "\n\n"))
    assert "no data lines" in _read_error(_write(tmp_path / "comments.csv", "# a\n# b\n"))
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    assert "binary" in _read_error(binary)
    pattern = _write(tmp_path / "pattern.xy", "# 2th_deg I\n1.0 10\n1.1 12\n")
    message = _read_error(pattern)
    assert "pattern.xy, line 2: 2 columns" in message
    assert "needs at least an axis column and a and c" in message


def test_cell_and_row_errors_name_line_and_column(tmp_path):
    text = "Q,a (A),c (A)\n0,2.8719,14.1903\n10,2.8650,fourteen\n"
    message = _read_error(_write(tmp_path / "word.csv", text))
    assert "word.csv, line 3, column 2 ('c (A)'): 'fourteen' is not a number" in message
    message = _read_error(_write(tmp_path / "ragged.csv", "Q,a,c\n0,2.8719,14.1903\n10,2.8650\n"))
    assert "ragged.csv, line 3: 2 columns, expected 3" in message
    message = _read_error(_write(tmp_path / "one.csv", "Q,a,c\n0,2.8719,14.1903\n"))
    assert "1 data row; a lattice table needs at least 2" in message


def test_header_errors(tmp_path):
    """No axis among the headers (listed, --lattice-columns suggested), no a, two a
    columns, no header at all, a header of the wrong width, a unit not allowed, an
    absolute charge, a column map beyond the file's columns."""
    message = _read_error(_write(tmp_path / "noaxis.csv", "scan,a,c\n1,2.8719,14.1903\n2,2.8650,14.2301\n"))
    assert "line 1: no axis column found among the headers 'scan', 'a', 'c'" in message
    assert "--lattice-columns" in message
    message = _read_error(_write(tmp_path / "noa.csv", "Q,alpha,c\n1,2.8719,14.1903\n2,2.8650,14.2301\n"))
    assert "no column for a among the headers" in message
    message = _read_error(_write(tmp_path / "two.csv", "Q,a (A),a,c\n1,2.87,2.87,14.19\n2,2.86,2.86,14.23\n"))
    assert "columns 1 'a (A)' and 2 'a' both read as a" in message
    message = _read_error(_write(tmp_path / "bare.txt", "0 2.8719 14.1903\n10 2.8650 14.2301\n"))
    assert "no header row naming the columns; give them with --lattice-columns" in message
    message = _read_error(_write(tmp_path / "wide.txt", "Q a c Rwp\n0 2.8719 14.1903\n10 2.8650 14.2301\n"))
    assert "line 1: the header row names 4 columns, the data lines have 3" in message
    message = _read_error(_write(tmp_path / "pm.csv", "Q,a (pm),c\n0,287.19,14.1903\n10,286.50,14.2301\n"))
    assert "column 1 'a (pm)': unit 'pm' is not one allowed for a (A, Å, Angstrom or nm)" in message
    message = _read_error(_write(tmp_path / "mah.csv", "Q (mAh),a,c\n0,2.8719,14.1903\n1,2.8650,14.2301\n"))
    assert "must be specific" in message
    message = _read_error(_write(tmp_path / "map.txt", "0 2.8719 14.1903\n10 2.8650 14.2301\n"), "charge=0,a=1,c=5")
    assert "c=5: the file has 3 columns (0-2" in message


def test_values_out_of_range_name_the_line(tmp_path):
    """a outside 2-4 A, c outside 10-20 A (c given in nm beside a in A, say), a negative esd."""
    message = _read_error(_write(tmp_path / "a.csv", "Q,a,c\n0,2.8719,14.1903\n10,28.650,14.2301\n"))
    assert "a.csv, line 3: a = 28.65 A (column 1 'a') is outside 2-4 A" in message
    message = _read_error(_write(tmp_path / "c.csv", "Q,a,c\n0,2.8719,1.41903\n10,2.8650,1.42301\n"))
    assert "c.csv, line 2: c = 1.41903 A (column 2 'c') is outside 10-20 A" in message
    message = _read_error(_write(tmp_path / "e.csv", "Q,a,c,a_err\n0,2.8719,14.19,0.001\n10,2.8650,14.23,-0.001\n"))
    assert "e.csv, line 3: esd of a = -0.001 A" in message


# ---- comparison with a run ------------------------------------------------------------------

@pytest.fixture(scope="module")
def run():
    """NC91 1-D sphere, R = 1 um, 20 cells, 1C to 4.5 V, 12 snapshots (~2 s)."""
    import chemomech as cm

    return cm.simulate(RUN_CONFIG)


def _run_lattice(ds):
    """Volume-mean a, c [A] per snapshot computed here from the run's fields: shell
    weights r_out^3 - r_in^3 of 20 uniform shells of the 1 um sphere (RUN_CONFIG)."""
    faces = np.linspace(0.0, 1e-6, 21)
    weights = faces[1:] ** 3 - faces[:-1] ** 3
    return (ds["lattice_a"].values @ weights / weights.sum(), ds["lattice_c"].values @ weights / weights.sum())


def _run_axis(ds, axis):
    """The snapshots on `axis`, from the run's time series: charge = the capacity series
    interpolated at the snapshot times (linear in time at constant current), time in h."""
    return {"charge": np.interp(ds["snapshot_time"].values, ds["time"].values, ds["capacity"].values),
            "time": ds["snapshot_time"].values / 3600.0,
            "soc": ds["snapshot_soc"].values,
            "voltage": ds["snapshot_voltage"].values}[axis]


@pytest.mark.parametrize("axis", ["charge", "time", "soc", "voltage"])
def test_run_against_its_own_lattice_table_gives_zero_differences(tmp_path, run, axis):
    """The key test: a table written from the run itself (computed here, _run_lattice and
    _run_axis) compared with the run gives RMS 0 to round-off, the same charge at the c
    maximum and the same c drop and volume change (reference: the run's own curve)."""
    a, c = _run_lattice(run)
    path = write_lattice_table(tmp_path / f"self_{axis}.csv", axis, _run_axis(run, axis), a, c)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing dropped, nothing left out
        metrics, figure = compare_lattice(run, path)
    assert metrics["points_compared"] == 12 and metrics["points_outside_run"] == 0
    assert metrics["snapshots_used"] == 12
    assert metrics["rms_c_rel"] < 1e-14 and metrics["rms_a_rel"] < 1e-14
    assert metrics["max_abs_c_rel"] < 1e-14 and metrics["max_abs_a_rel"] < 1e-14
    assert metrics["simulated"]["axis_at_c_max"] == pytest.approx(metrics["measured"]["axis_at_c_max"], rel=1e-12)
    for name in ("c_max_rise_pct", "c_drop_from_max_pct", "a_change_pct", "c_change_pct", "volume_change_pct"):
        assert abs(metrics["difference"][name]) < 1e-10, name
    # the run's c rises, then falls (H2 -> H3): a real maximum inside the charge
    assert metrics["measured"]["c_drop_from_max_pct"] > 1.0
    assert figure["simulated_c_max"][0] == pytest.approx(figure["measured_c_max"][0], rel=1e-12)
    assert "volume mean over the shells" in metrics["simulated_source"]
    json.dumps(metrics)  # written to compare.json as it is
    if axis == "charge":
        plotted = plot_lattice_comparison(figure, tmp_path / "lattice.png", "NC91 1C vs itself")
        assert plotted.is_file() and plotted.stat().st_size > 10_000


def test_lattice_figures_of_a_planted_parabola():
    """c(q) = 14.2 (1 + 0.02 (1 - ((q - 150)/150)^2)) over q = 0..250 mAh/g, a(q) = 2.872
    (1 - 1e-4 q): by hand, the maximum is at q = 150, c_max/c0 = 1.02/1.0 - 1 -> +2 %,
    c_end/c0 = (1 + 0.02 (1 - (100/150)^2)) = 1.0111..., so the drop from the maximum is
    100 (0.02 - 0.02 (5/9)) = 0.8888... % and V_end/V0 = (a_end/a0)^2 c_end/c0."""
    q = np.linspace(0.0, 250.0, 251)
    c = 14.2 * (1 + 0.02 * (1 - ((q - 150) / 150) ** 2))
    a = 2.872 * (1 - 1e-4 * q)
    volume = np.sqrt(3) / 2 * a**2 * c
    figures = lattice_figures(q, a, c, volume)
    c_end_rel = 1 + 0.02 * (1 - (100 / 150) ** 2)
    assert figures["axis_at_c_max"] == 150.0
    assert figures["c_max_rise_pct"] == pytest.approx(2.0, rel=1e-12)
    assert figures["c_drop_from_max_pct"] == pytest.approx(100 * (1.02 - c_end_rel), rel=1e-12)
    assert figures["c_drop_from_max_pct"] == pytest.approx(0.8 / 0.9, rel=1e-12)
    assert figures["a_change_pct"] == pytest.approx(-2.5, rel=1e-12)
    assert figures["volume_change_pct"] == pytest.approx(100 * ((1 - 0.025) ** 2 * c_end_rel - 1), rel=1e-12)


def test_planted_table_against_the_run(tmp_path, run):
    """A planted parabola vs charge within the run's range: metrics["measured"] are the
    parabola's figures by hand (as above, maximum at 120 mAh/g); the simulated figures are
    the run's own (the self-comparison); the differences are simulated minus measured.
    RMS: the planted c/c0 = run's c/c0 + 0.001 on every row but the first, so the RMS of
    c/c0 is 0.001 sqrt((n-1)/n) (n = 12 rows)."""
    charge = _run_axis(run, "charge")
    a, c = _run_lattice(run)
    q = np.linspace(0.0, charge[-1], 12)
    c_planted = 14.2 * (1 + 0.02 * (1 - ((q - 120) / 120) ** 2))
    path = write_lattice_table(tmp_path / "parabola.csv", "charge", q, np.full(12, 2.87), c_planted)
    metrics, _ = compare_lattice(run, path)
    assert metrics["measured"]["axis_at_c_max"] == pytest.approx(q[np.argmax(c_planted)], rel=1e-12)
    assert metrics["measured"]["c_max_rise_pct"] == pytest.approx(100 * (c_planted.max() / c_planted[0] - 1), rel=1e-9)
    assert metrics["measured"]["volume_change_pct"] == pytest.approx(100 * (c_planted[-1] / c_planted[0] - 1), rel=1e-9)
    self_path = write_lattice_table(tmp_path / "self.csv", "charge", charge, a, c)
    self_metrics, _ = compare_lattice(run, self_path)
    for name in ("axis_at_c_max", "c_drop_from_max_pct", "volume_change_pct"):
        assert metrics["simulated"][name] == pytest.approx(self_metrics["simulated"][name], rel=1e-9)
        assert metrics["difference"][name] == pytest.approx(
            metrics["simulated"][name] - metrics["measured"][name], rel=1e-12, abs=1e-12)

    shifted = c / c[0] + 0.001 * (np.arange(12) > 0)
    path = write_lattice_table(tmp_path / "shifted.csv", "charge", charge, a * 1.01, shifted * 14.0)
    metrics, _ = compare_lattice(run, path)
    assert metrics["rms_c_rel"] == pytest.approx(0.001 * np.sqrt(11 / 12), rel=1e-9)
    assert metrics["rms_a_rel"] < 1e-14  # a scaled by 1.01: a/a0 unchanged
    assert metrics["max_abs_c_rel"] == pytest.approx(0.001, rel=1e-9)


def test_rows_outside_the_run_are_dropped_and_counted(tmp_path, run):
    """Rows beyond the run's charge (the run ends at 4.5 V) are dropped with a warning
    naming their lines; the common range ends at the last kept row; the measured values
    are normalised to the first kept row."""
    charge = _run_axis(run, "charge")
    a, c = _run_lattice(run)
    q = np.concatenate((charge, [charge[-1] + 10, charge[-1] + 20]))
    path = write_lattice_table(tmp_path / "long.csv", "charge", q, np.append(a, [2.81, 2.81]),
                               np.append(c, [13.5, 13.5]))
    with pytest.warns(UserWarning, match=r"2 rows outside the run's charge range .* dropped \(lines 14-15\)"):
        metrics, _ = compare_lattice(run, path)
    assert metrics["points_outside_run"] == 2 and metrics["points_compared"] == 12
    assert metrics["points_outside_run_lines"] == "14-15"
    assert metrics["rms_c_rel"] < 1e-14  # the kept rows are the run's own
    # a table that starts later: each set normalised at its own first point (charge[3])
    path = write_lattice_table(tmp_path / "late.csv", "charge", charge[3:], a[3:], c[3:])
    metrics, figure = compare_lattice(run, path)
    assert metrics["common_range"][0] == pytest.approx(charge[3], rel=1e-15)
    assert metrics["simulated"]["c0_A"] == pytest.approx(c[3], rel=1e-12)
    assert metrics["rms_c_rel"] < 1e-14 and figure["measured_c_rel"][0] == 1.0


def test_axis_must_increase_and_run_axis_truncation(tmp_path, run):
    """A table whose axis goes back is an error naming the line; snapshots after the run's
    axis stops increasing are left out with a warning (a planted voltage drop at the last
    snapshot)."""
    a, c = _run_lattice(run)
    q = _run_axis(run, "charge")
    path = write_lattice_table(tmp_path / "back.csv", "charge", q[[0, 2, 1, 3]], a[:4], c[:4])
    with pytest.raises(ReadError, match=r"back.csv, line 4: charge .* is below the previous row's"):
        compare_lattice(run, path)
    held = run.copy(deep=True)
    held["snapshot_voltage"].values[-1] = held["snapshot_voltage"].values[-2] - 0.01
    voltage = run["snapshot_voltage"].values
    path = write_lattice_table(tmp_path / "v.csv", "voltage", voltage[:11], a[:11], c[:11])
    with pytest.warns(UserWarning, match="snapshot 11 is left out"):
        metrics, _ = compare_lattice(held, path)
    assert metrics["snapshots_used"] == 11 and metrics["snapshots_left_out"] == 1
    assert metrics["rms_c_rel"] < 1e-14
    path = write_lattice_table(tmp_path / "far.csv", "charge", [1e4, 2e4], [2.87, 2.86], [14.2, 14.3])
    with pytest.raises(ChemomechError, match="0 of 2 rows lie within the run's charge range"), \
            pytest.warns(UserWarning):
        compare_lattice(run, path)


def test_refined_lattice_of_the_xrd_command_is_preferred(tmp_path, run):
    """RUN/xrd/lattice.nc (the `chemomech xrd` refinement) is used when present: two
    phases with planted a, c and weights 0.25/0.75 give the weighted mean computed here;
    a file with another pattern count is not used, and the source says so."""
    from chemomech.io.rundir import write_run_directory
    from chemomech.io.results import open_run
    from chemomech.simulation.run import summary_of

    directory = write_run_directory(tmp_path / "run", RUN_CONFIG, run, summary_of(run))
    count = run.sizes["snapshot"]
    a1, c1 = np.linspace(2.872, 2.82, count), np.linspace(14.19, 14.0, count)
    a2, c2 = a1 - 0.01, c1 + 0.1
    lattice = xr.Dataset(
        {"a": (("pattern", "phase"), np.column_stack([a1, a2, np.full(count, np.nan)]), {"units": "Angstrom"}),
         "c": (("pattern", "phase"), np.column_stack([c1, c2, np.full(count, np.nan)]), {"units": "Angstrom"}),
         "phase_weight": (("pattern", "phase"), np.column_stack([np.full(count, 0.25), np.full(count, 0.75),
                                                                 np.full(count, np.nan)]))},
        coords={"snapshot_time": ("pattern", run["snapshot_time"].values)})
    (directory / "xrd").mkdir()
    lattice.to_netcdf(directory / "xrd" / "lattice.nc", engine="h5netcdf")
    ds = open_run(directory)
    a, c, source = simulated_lattice(ds)  # the run directory from ds.encoding["source"]
    np.testing.assert_allclose(a, 0.25 * a1 + 0.75 * a2, rtol=1e-14)
    np.testing.assert_allclose(c, 0.25 * c1 + 0.75 * c2, rtol=1e-14)
    assert "lattice.nc" in source
    table = write_lattice_table(tmp_path / "t.csv", "time", run["snapshot_time"].values / 3600, a, c)
    metrics, _ = compare_lattice(ds, table, run=directory)
    assert "lattice.nc" in metrics["simulated_source"] and metrics["rms_c_rel"] < 1e-14
    lattice.isel(pattern=slice(0, 5)).to_netcdf(directory / "xrd" / "lattice.nc", engine="h5netcdf")
    a, _, source = simulated_lattice(ds)
    assert source.startswith("volume mean over the shells") and "not used" in source
    np.testing.assert_allclose(a, _run_lattice(run)[0], rtol=1e-14)


def test_voxel_run_uses_the_material_lattice(run):
    """Voxel runs: the mean over the voxels inside the particle (NaN outside) of the
    material's a(x), c(x); planted uniform x per snapshot gives a(x_k), c(x_k) of the
    material loaded here."""
    import chemomech as cm

    material = cm.load_material("nc91")
    x_levels = np.array([0.99, 0.6, 0.3])
    x_li = np.broadcast_to(x_levels[:, None, None, None], (3, 4, 4, 4)).astype(np.float32).copy()
    x_li[:, 0, 0, 0] = np.nan  # outside the particle
    voxels = xr.Dataset({"x_li": (("snapshot", "z", "y", "x"), x_li)},
                        coords={"snapshot_time": ("snapshot", [0.0, 1.0, 2.0])}, attrs=dict(run.attrs))
    a, c, source = simulated_lattice(voxels)
    levels = x_levels.astype(np.float32).astype(float)
    np.testing.assert_allclose(a, material.lattice_a(levels), rtol=1e-12)
    np.testing.assert_allclose(c, material.lattice_c(levels), rtol=1e-12)
    assert "elastic strain ignored" in source


def test_lattice_table_dataclass_is_accepted_directly(tmp_path, run):
    a, c = _run_lattice(run)
    table = LatticeTable(axis="soc", axis_values=run["snapshot_soc"].values, a=a, c=c, a_err=None, c_err=None,
                         volume=None, lines=np.arange(12) + 2, columns={"soc": 0, "a": 1, "c": 2},
                         found={"soc": "built", "a": "built", "c": "built"}, path="in memory")
    metrics, _ = compare_lattice(run, table)
    assert metrics["rms_a_rel"] < 1e-14 and metrics["normalisation"].startswith("each data set by its own first")


@pytest.mark.slow
def test_cli_compare_lattice(tmp_path, run):
    """`chemomech compare RUN --lattice FILE`: compare.json holds the lattice figures
    (zero differences against the run's own table) and compare_lattice.png is written;
    --lattice-columns without --lattice is a one-line usage error (exit 2)."""
    import json

    from chemomech.cli.main import main
    from chemomech.io.rundir import write_run_directory
    from chemomech.simulation.run import summary_of

    write_run_directory(tmp_path / "run", RUN_CONFIG, run, summary_of(run))
    a, c = _run_lattice(run)
    table = write_lattice_table(tmp_path / "refined.csv", "soc", _run_axis(run, "soc"), a, c)
    assert main(["compare", str(tmp_path / "run"), "--lattice", str(table), "--lattice-columns", "soc=0,a=1,c=2"]) == 0
    stored = json.loads((tmp_path / "run" / "compare" / "compare.json").read_text())["lattice"]
    assert stored["rms_c_rel"] < 1e-12 and stored["points_compared"] == 12
    assert (tmp_path / "run" / "compare" / "compare_lattice.png").is_file()
    assert main(["compare", str(tmp_path / "run"), "--lattice-columns", "soc=0,a=1,c=2", "--out",
                 str(tmp_path / "other")]) == 2
    assert not (tmp_path / "other").exists()


def test_a_run_with_few_snapshots_is_named_with_the_option_that_gives_more(tmp_path):
    """A run with 2 snapshots against a 12-row table: compare works and warns, naming
    output.snapshots (the simulated curve is interpolated between the two)."""
    import chemomech as cm
    from chemomech.cli.main import main
    from chemomech.io.rundir import write_run_directory
    from chemomech.simulation.run import summary_of

    config = {**RUN_CONFIG, "output": {"snapshots": 2}}
    few = cm.simulate(config)
    write_run_directory(tmp_path / "run", config, few, summary_of(few))
    full = cm.simulate(RUN_CONFIG)
    a, c = _run_lattice(full)
    table = write_lattice_table(tmp_path / "refined.csv", "soc", _run_axis(full, "soc"), a, c)
    with pytest.warns(UserWarning, match=r"2 snapshots of the run under 12 measured points.*output\.snapshots"):
        assert main(["compare", str(tmp_path / "run"), "--lattice", str(table)]) == 0
