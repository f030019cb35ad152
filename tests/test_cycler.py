"""Cycler files (chemomech.io.cycler) and the comparison of a run with one
(chemomech.observables.compare_cycler).

The files are written here from a small cycling run (two 1C cycles of a 1 um NC91 sphere
between 3.0 and 4.3 V), in each layout read: EC-Lab .mpt with decimal points and with
decimal commas (latin-1 header with the mass line), delimited text by column map and by
column names (units converted), vendor-like counters, and a minimal BioLogic .mpr. The
reference of every reader test is the run's own time series, written with 16 or 17
significant digits; the reference of the comparison is the run itself: compared with a
file synthesised from it, every difference is zero to round-off."""

from __future__ import annotations

import json
import struct
import sys
import types

import numpy as np
import pytest

import chemomech as cm
from chemomech.analysis.curves import _step_direction, voltage_capacity_curves
from chemomech.analysis.differential_capacity import run_dqdv
from chemomech.errors import ChemomechError, ConfigError, ReadError
from chemomech.io.cycler import (CyclerData, cycler_branches, cycler_cycles, parse_column_map, read_cycler,
                                 read_cycler_csv, read_mpr, read_mpt, specific_capacity)
from chemomech.observables.compare_cycler import compare_cycler, pair_cycles, voltage_difference
from chemomech.plotting.compare_cycler import plot_cycler_comparison

CONFIG = {"material": "nc91", "particle": {"geometry": "sphere-1d", "radius_um": 1.0, "cells": 20},
          "protocol": {"kind": "experiment",
                       "blocks": [{"repeat": 2, "steps": ["Charge at 1C until 4.3 V", "Discharge at 1C until 3.0 V"]}]},
          "output": {"snapshots": 2}}
HOLD_CONFIG = {**CONFIG, "protocol": {"kind": "experiment", "blocks": [{"repeat": 1, "steps": [
    "Charge at 1C until 4.3 V", "Hold at 4.3 V until C/20", "Rest for 10 min", "Discharge at 1C until 3.0 V"]}]}}
MASS_MG = 12.3
ONE_C_MA_PER_G = 270.0  # the run's C-rate basis: 1C passes 270 mAh/g in an hour (soc = capacity / 270)


@pytest.fixture(scope="module")
def run():
    return cm.simulate(CONFIG)


@pytest.fixture(scope="module")
def hold_run():
    return cm.simulate(HOLD_CONFIG)


# ---- files written from a run --------------------------------------------------------------

def current_mA(ds, mass_mg=MASS_MG):
    """The run's current [mA]: current density over that of 1C (the largest |j| / C-rate of
    the current steps) x 270 mA/g x the mass."""
    j = ds["current_density"].values
    rate = ds["step_c_rate"].values[ds["step_index"].values]
    j_1c = np.max(np.abs(j[rate > 0]) / rate[rate > 0])
    return j / j_1c * ONE_C_MA_PER_G * mass_mg * 1e-3


def step_counter(ds, mass_mg=MASS_MG):
    """EC-Lab's "Q charge/discharge" [mAh]: the charge passed since the step started, signed."""
    q = ds["capacity"].values * mass_mg * 1e-3
    step = ds["step_index"].values
    first = np.flatnonzero(np.concatenate(([True], np.diff(step) != 0)))
    base = q[np.maximum(first - 1, 0)]
    return q - base[np.cumsum(np.concatenate(([True], np.diff(step) != 0))) - 1]


def eclab_number(value: float, decimal: str) -> str:
    """A number as EC-Lab writes it: 16 significant digits, a 3-digit exponent, the locale's decimal."""
    mantissa, exponent = f"{value:.15E}".split("E")
    text = f"{mantissa}E{exponent[0]}{int(exponent[1:]):03d}"
    return text.replace(".", ",") if decimal == "," else text


def write_mpt(path, ds, decimal=".", mass_lines=None, drop=(), rename=None, cycle_offset=-1, mode=None):
    """An EC-Lab GCPL text export of run `ds` (latin-1, CRLF): settings header with the mass
    line, tab-separated columns in EC-Lab's names and number format; cycle number counted
    from 0 as EC-Lab does (cycle_offset -1). `mode` per sample (default 1: CC)."""
    t = ds["time"].values
    q = ds["capacity"].values * MASS_MG * 1e-3
    current = current_mA(ds)
    step = ds["step_index"].values
    mode = np.ones(t.size, dtype=int) if mode is None else mode
    columns = {
        "mode": mode, "ox/red": (current >= 0).astype(int), "error": np.zeros(t.size, int),
        "control changes": np.zeros(t.size, int), "Ns changes": np.zeros(t.size, int),
        "counter inc.": np.zeros(t.size, int), "Ns": step, "time/s": t, "control/V/mA": current,
        "Ecell/V": ds["voltage"].values, "I/mA": current, "dQ/C": 3.6 * np.diff(q, prepend=q[0]),
        "(Q-Qo)/mA.h": q, "half cycle": step, "Q charge/discharge/mA.h": step_counter(ds),
        "Energy charge/W.h": np.zeros(t.size), "Capacitance charge/µF": np.zeros(t.size),
        "cycle number": ds["cycle_index"].values + cycle_offset, "Temperature/°C": np.full(t.size, 25.0),
    }
    for name in drop:
        del columns[name]
    for old, new in (rename or {}).items():
        columns = {new if k == old else k: v for k, v in columns.items()}
    number = lambda v: eclab_number(v, decimal)  # noqa: E731
    if mass_lines is None:
        mass_lines = [f"Mass of active material : {MASS_MG:.3f} mg".replace(".", decimal)]
    header = ["EC-Lab ASCII FILE", "Nb header lines : {}", "", "Galvanostatic Cycling with Potential Limitation", "",
              "Run on channel : 1 (SN 0001)", "Electrode material : LiNi0.9Co0.1O2 (µm single crystals)",
              *mass_lines, " at x = 0.000".replace(".", decimal),
              "Molecular weight of active material (at x = 0) : 0.001 g/mol".replace(".", decimal),
              "Electrode surface area : 0.001 cm²".replace(".", decimal),
              "Cycle Definition : Charge/Discharge alternance"]
    header[1] = header[1].format(len(header) + 1)
    lines = header + ["\t".join(columns) + "\t"]
    integer = {"mode", "ox/red", "error", "control changes", "Ns changes", "counter inc.", "Ns", "half cycle"}
    cells = [[str(int(v)) for v in values] if name in integer else [number(float(v)) for v in values]
             for name, values in columns.items()]
    lines += ["\t".join(row) for row in zip(*cells)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("latin-1"))
    return path


def write_csv(path, ds, names=("time_s", "voltage_V", "current_mA", "capacity_mAh", "cycle"), scale=(1, 1, 1, 1),
              sep=",", decimal=".", comments=(), with_names=True, capacity=None):
    """Delimited text of run `ds`: time [s], voltage [V], current [mA], net charge [mAh],
    cycle (from 1), each divided by `scale` (for other units), 17 significant digits."""
    values = [ds["time"].values / scale[0], ds["voltage"].values / scale[1], current_mA(ds) / scale[2],
              (ds["capacity"].values * MASS_MG * 1e-3 if capacity is None else capacity) / scale[3],
              ds["cycle_index"].values]
    values = [v for v, name in zip(values, names) if name is not None]
    names = [name for name in names if name is not None]
    text = lambda v: f"{v:.17g}".replace(".", decimal)  # noqa: E731
    lines = [*comments] + ([sep.join(names)] if with_names else [])
    lines += [sep.join(text(float(v)) for v in row) for row in zip(*values)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def assert_same_series(data: CyclerData, ds, rtol=1e-13):
    """The file's samples are the run's: time, voltage, current, net charge, directions."""
    np.testing.assert_allclose(data.time, ds["time"].values, rtol=rtol, atol=1e-15)
    np.testing.assert_allclose(data.voltage, ds["voltage"].values, rtol=rtol)
    np.testing.assert_allclose(data.current, current_mA(ds), rtol=rtol, atol=1e-15)
    scale = 1.0 if data.capacity_unit == "mAh/g" else MASS_MG * 1e-3
    np.testing.assert_allclose(data.capacity, ds["capacity"].values * scale, rtol=1e-12, atol=1e-12 * scale)
    np.testing.assert_array_equal(data.direction, _step_direction(ds))


def one_line(error) -> str:
    text = str(error.value)
    assert "\n" not in text
    return text


# ---- BioLogic .mpt ---------------------------------------------------------------------

@pytest.mark.parametrize("decimal", [".", ","])
def test_mpt_round_trip(run, tmp_path, decimal):
    """EC-Lab export with decimal points or commas: the run's series back to 1e-13, the
    mass from the header's mass line (latin-1 header with µ, ² and °), cycles as EC-Lab
    counts them (from 0), every sample of a 1C step constant-current (mode 1)."""
    path = write_mpt(tmp_path / f"run{'comma' if decimal == ',' else 'point'}.mpt", run, decimal=decimal)
    data = read_cycler(path)
    assert data.source.startswith("BioLogic EC-Lab text export")
    assert_same_series(data, run)
    np.testing.assert_array_equal(data.cycle, run["cycle_index"].values - 1)
    assert data.mass_g == pytest.approx(MASS_MG * 1e-3, rel=1e-12)
    assert data.mass_source.startswith("line 8: 'Mass of active material : 12")
    assert "'Ecell/V'" in data.columns["voltage"] and "'(Q-Qo)/mA.h'" in data.columns["capacity"]
    assert "net charge" in data.columns["capacity"] and "Ns" in data.columns["steps"]
    assert data.constant_current.all()
    assert data.where(0) == "line 14" and data.where(10) == "line 24"


def test_mpt_masses_placeholders_and_headerless(run, tmp_path):
    """"Characteristic mass : 0,0123 g" alone gives the mass; EC-Lab's placeholder 0.001 is
    no mass (a note says so); two different masses give none; an export without the
    header (column names on line 1) reads the same series."""
    data = read_mpt(write_mpt(tmp_path / "a.mpt", run, decimal=",", mass_lines=[
        "Mass of active material : 0,001 mg", "Characteristic mass : 0,0123 g"]))
    assert data.mass_g == pytest.approx(0.0123, rel=1e-12) and "Characteristic mass" in data.mass_source
    assert any("placeholder" in note for note in data.notes)
    data = read_mpt(write_mpt(tmp_path / "b.mpt", run, mass_lines=["Mass of active material : 0.001 mg"]))
    assert data.mass_g is None and "placeholder" in data.notes[-1]
    with pytest.raises(ConfigError, match="placeholder mass 0.001"):
        specific_capacity(data)
    data = read_mpt(write_mpt(tmp_path / "c.mpt", run, mass_lines=[
        "Mass of active material : 12.300 mg", "Characteristic mass : 15.000 mg"]))
    assert data.mass_g is None and "different masses" in data.notes[-1]
    full = write_mpt(tmp_path / "d.mpt", run).read_bytes().split(b"\r\n")
    headerless = tmp_path / "e.mpt"
    headerless.write_bytes(b"\r\n".join(full[12:]))
    assert_same_series(read_cycler(headerless, mass_mg=MASS_MG), run)


def test_mpt_other_column_names_and_capacity_sources(run, tmp_path):
    """"Ewe/V", "<I>/mA" read as voltage and current; without (Q-Qo), the per-half-cycle
    counter "Q charge/discharge/mA.h" is recognised as a counter and unwrapped, and with
    neither the current is integrated (Q_k = Q_(k-1) + I_k dt_k): both give the run's net
    charge (the run's capacity is that same sum of its current: backward-Euler steps)."""
    renamed = {"Ecell/V": "Ewe/V", "I/mA": "<I>/mA"}
    data = read_mpt(write_mpt(tmp_path / "a.mpt", run, rename=renamed, drop=["(Q-Qo)/mA.h"]))
    assert "Ewe/V" in data.columns["voltage"] and "<I>/mA" in data.columns["current"]
    assert "counter" in data.columns["capacity"]
    assert_same_series(data, run)
    data = read_mpt(write_mpt(tmp_path / "b.mpt", run, drop=["(Q-Qo)/mA.h", "Q charge/discharge/mA.h"]))
    assert data.columns["capacity"].startswith("the current integrated")
    np.testing.assert_allclose(data.capacity, run["capacity"].values * MASS_MG * 1e-3, rtol=0, atol=1e-12)


# ---- delimited text ---------------------------------------------------------------------

def test_csv_column_map_and_names(run, tmp_path):
    """A file without names read by a column map (0-based indices); the same by names with
    units in them (h, V, A, Ah, converted), ';'-separated with decimal commas; a map by
    name with a unit after ':'; the mass from a comment line."""
    path = write_csv(tmp_path / "plain.csv", run, with_names=False)
    data = read_cycler(path, columns="time=0,voltage=1,current=2,capacity=3,cycle=4")
    assert_same_series(data, run)
    np.testing.assert_array_equal(data.cycle, run["cycle_index"].values)
    assert data.mass_g is None and "(column map)" in data.columns["time"]

    names = ("Test_Time(h)", "Voltage(V)", "Current(A)", "Capacity [Ah]", "Cycle_Index")
    path = write_csv(tmp_path / "named.txt", run, names=names, scale=(3600, 1, 1e3, 1e3), sep=";", decimal=",",
                     comments=["# cell NC91-03", "# active mass = 12.3 mg"])
    data = read_cycler(path)
    assert data.source == "delimited text (';'-separated, decimal ',')"
    assert_same_series(data, run, rtol=1e-12)
    assert data.mass_g == pytest.approx(0.0123) and "line 2" in data.mass_source
    assert "unit h from the column name" in data.columns["time"]

    path = write_csv(tmp_path / "zeit.tsv", run, names=("Zeit", "Spannung", "Strom", "Ladung", None),
                     scale=(60, 1, 1, 1), sep="\t")
    data = read_cycler_csv(path, columns="time=Zeit:min,voltage=Spannung,current=Strom,capacity=Ladung:mAh")
    assert_same_series(data, run, rtol=1e-12)
    np.testing.assert_array_equal(data.cycle, run["cycle_index"].values)  # derived: a new cycle at each charge
    assert data.columns["cycle"].startswith("derived")


def test_csv_vendor_counters(run, tmp_path):
    """Neware-like "Capacity(mAh)" (unsigned, restarting at every step) and Arbin-like
    "Charge_Capacity(Ah)" / "Discharge_Capacity(Ah)" (each restarting at every cycle) give
    the run's net charge after unwrapping."""
    q = run["capacity"].values * MASS_MG * 1e-3
    unsigned = np.abs(step_counter(run))
    data = read_cycler(write_csv(tmp_path / "neware.csv", run, capacity=unsigned,
                                 names=("Total Time(s)", "Voltage(V)", "Current(mA)", "Capacity(mAh)", "Cycle")))
    assert "counter" in data.columns["capacity"]
    np.testing.assert_allclose(data.capacity, q, rtol=0, atol=1e-12)

    # Arbin: cumulative charge and discharge within each cycle, a date and a step-time column
    cycle = run["cycle_index"].values
    increment = np.diff(q, prepend=q[0])
    charge = np.zeros_like(q)
    discharge = np.zeros_like(q)
    for c in np.unique(cycle):
        inside = cycle == c
        charge[inside] = np.cumsum(np.clip(increment[inside], 0, None))
        discharge[inside] = np.cumsum(np.clip(-increment[inside], 0, None))
    t = run["time"].values
    step_time = t - run["step_start_time"].values[run["step_index"].values]
    path = tmp_path / "arbin.csv"
    rows = zip(t, step_time, current_mA(run) / 1e3, run["voltage"].values, charge / 1e3, discharge / 1e3, cycle)
    path.write_text("Data_Point,Date_Time,Test_Time(s),Step_Time(s),Current(A),Voltage(V),Charge_Capacity(Ah),"
                    "Discharge_Capacity(Ah),Cycle_Index\n"
                    + "".join(f"{k},01/02/2024 10:{k % 60:02d}:00,{t:.17g},{s:.17g},{i:.17g},{v:.17g},"
                              f"{c:.17g},{d:.17g},{n}\n" for k, (t, s, i, v, c, d, n) in enumerate(rows)))
    data = read_cycler(path, mass_mg=MASS_MG)
    assert data.columns["capacity"].startswith("charge minus discharge counters")
    assert "'Test_Time(s)'" in data.columns["time"]
    assert_same_series(data, run, rtol=1e-12)
    np.testing.assert_allclose(data.capacity, q, rtol=0, atol=1e-12)


def test_column_map_parsing(run, tmp_path):
    """The map syntax of parse_column_map (reference: its docstring); a map also sets the
    columns of an .mpt (here the ones it would find, by index and by name: the run's
    series)."""
    assert parse_column_map("time=0, voltage = 1,current=Current:A") == {
        "time": (0, None), "voltage": (1, None), "current": ("Current", "A")}
    assert parse_column_map("time=Time:stamp") == {"time": ("Time:stamp", None)}  # not a unit: part of the name
    with pytest.raises(ConfigError, match="unknown key 'volts'") as error:
        parse_column_map("time=0,volts=1")
    one_line(error)
    with pytest.raises(ConfigError, match="unit 'A' for time"):
        parse_column_map({"time": (0, "A")})
    with pytest.raises(ConfigError, match="is not key=column"):
        parse_column_map("time")
    data = read_cycler(write_mpt(tmp_path / "a.mpt", run), columns="voltage=9,capacity=(Q-Qo)/mA.h")
    assert "(column map)" in data.columns["voltage"] and "(column map)" in data.columns["capacity"]
    assert_same_series(data, run)


# ---- BioLogic .mpr ---------------------------------------------------------------------

MPR_COLUMNS = (  # (galvani 0.5 column ID, name, numpy type) of the minimal file; 1 and 2 share a flags byte
    (1, "mode", None), (2, "ox/red", None), (131, "Ns", "<u2"), (4, "time/s", "<f8"), (6, "Ewe/V", "<f4"),
    (8, "I/mA", "<f4"), (13, "(Q-Qo)/mA.h", "<f8"), (24, "cycle number", "<f8"))


def write_mpr(path, ds):
    """A minimal BioLogic .mpr in the layout galvani 0.5 decodes (galvani/BioLogic.py,
    reverse-engineered): the 52-byte magic "BIO-LOGIC MODULAR FILE\\x1a" padded to 48 bytes +
    4 zero bytes; then modules, each "MODULE" + a 51-byte header (short name 10 bytes, long
    name 25, data length <u4, version <u4, date 8 bytes "mm/dd/yy") + the data. A
    "VMP Set" module (settings, left empty) and a "VMP data" module of version 2: point
    count <u4, column count u1, the column IDs <u2, zeros up to byte 405, then packed
    records (the flags byte holds mode in bits 0-1 and ox/red in bit 2)."""
    current = current_mA(ds)
    dtype = np.dtype([("flags", "u1")] + [(name, kind) for _, name, kind in MPR_COLUMNS if kind])
    records = np.zeros(ds.sizes["time"], dtype=dtype)
    records["flags"] = 1 | (np.where(current >= 0, 1, 0) << 2)
    records["Ns"] = ds["step_index"].values
    records["time/s"] = ds["time"].values
    records["Ewe/V"] = ds["voltage"].values
    records["I/mA"] = current
    records["(Q-Qo)/mA.h"] = ds["capacity"].values * MASS_MG * 1e-3
    records["cycle number"] = ds["cycle_index"].values - 1
    ids = [column_id for column_id, _, _ in MPR_COLUMNS]
    data = struct.pack("<IB", records.size, len(ids)) + struct.pack(f"<{len(ids)}H", *ids)
    data = data.ljust(405, b"\x00") + records.tobytes()

    def module(short, long, payload, version):
        return (b"MODULE" + short.ljust(10) + long.ljust(25) + struct.pack("<II", len(payload), version)
                + b"01/02/24" + payload)

    path.write_bytes(b"BIO-LOGIC MODULAR FILE\x1a".ljust(48) + b"\x00" * 4
                     + module(b"VMP Set", b"VMP settings", b"\x00" * 16, 0)
                     + module(b"VMP data", b"VMP data", data, 2))
    return path


def test_mpr_minimal_file_through_galvani(run, tmp_path):
    """The minimal .mpr (write_mpr) read through galvani: the run's series (voltage and
    current stored as float32: 1e-7 relative), mode 1 -> constant current, no mass (galvani
    does not decode it; a note says so)."""
    pytest.importorskip("galvani", reason="galvani (optional, chemomech[cycler]) is not installed")
    data = read_cycler(write_mpr(tmp_path / "run.mpr", run))
    assert data.source.startswith("BioLogic binary (.mpr, read by galvani")
    np.testing.assert_allclose(data.time, run["time"].values, rtol=1e-15)
    np.testing.assert_allclose(data.voltage, run["voltage"].values, rtol=1e-7)
    np.testing.assert_allclose(data.current, current_mA(run), rtol=1e-7)
    np.testing.assert_allclose(data.capacity, run["capacity"].values * MASS_MG * 1e-3, atol=1e-15)
    np.testing.assert_array_equal(data.direction, _step_direction(run))
    assert data.constant_current.all() and data.mass_g is None and "galvani does not decode" in data.notes[-1]
    assert data.where(3) == "record 4"
    metrics, _ = compare_cycler(run, data, mass_mg=MASS_MG)
    assert metrics["rms_voltage_difference_max_V"] < 1e-6  # float32 voltages
    truncated = tmp_path / "truncated.mpr"
    truncated.write_bytes((tmp_path / "run.mpr").read_bytes()[:-7])
    with pytest.raises(ReadError, match="galvani cannot read this .mpr") as error:
        read_cycler(truncated)
    assert str(truncated) in one_line(error)


def test_mpr_reader_calls_galvani(run, tmp_path, monkeypatch):
    """With a stand-in galvani (BioLogic.MPRfile taking an open binary file and holding
    `data`, a record array, and the packed flags through get_flag): the reader maps
    galvani's column names ("<Ewe>/V", "<I>/mA", ...) and the mode flag. Without galvani,
    a one-line ReadError names the extra to install."""
    path = tmp_path / "fake.mpr"
    path.write_bytes(b"BIO-LOGIC MODULAR FILE\x1a".ljust(48) + b"\x00" * 4)
    t = run["time"].values
    records = np.zeros(t.size, dtype=[("time/s", "<f8"), ("<Ewe>/V", "<f8"), ("<I>/mA", "<f8"),
                                      ("(Q-Qo)/mA.h", "<f8"), ("cycle number", "<f8")])
    records["time/s"], records["<Ewe>/V"], records["<I>/mA"] = t, run["voltage"].values, current_mA(run)
    records["(Q-Qo)/mA.h"] = run["capacity"].values * MASS_MG * 1e-3
    records["cycle number"] = run["cycle_index"].values
    opened = []

    class MPRfile:
        def __init__(self, handle):
            opened.append((handle.name, handle.mode))
            self.data = records
            self.flags_dict = {"mode": (np.uint8(3), np.uint8)}

        def get_flag(self, name):
            assert name == "mode"
            return np.full(t.size, 2, dtype=np.uint8)  # all constant voltage: no dQ/dV sample

    fake = types.ModuleType("galvani")
    fake.BioLogic = types.SimpleNamespace(MPRfile=MPRfile)
    monkeypatch.setitem(sys.modules, "galvani", fake)
    data = read_mpr(path, mass_mg=MASS_MG)
    assert opened == [(str(path), "rb")]
    assert_same_series(data, run)
    assert "'<Ewe>/V'" in data.columns["voltage"] and not data.constant_current.any()
    assert data.mass_g == pytest.approx(MASS_MG * 1e-3)

    monkeypatch.setitem(sys.modules, "galvani", None)  # not installed: import fails
    with pytest.raises(ReadError, match=r"pip install 'chemomech\[cycler\]'") as error:
        read_cycler(path)
    assert str(path) in one_line(error)


# ---- malformed files and files of other kinds -----------------------------------------------

def test_malformed_mpt_files(run, tmp_path):
    """Each mistake: one line naming the file, the line and (for a cell) the column.
    Reference: the line and column each case corrupts in a good file written here."""
    good = write_mpt(tmp_path / "good.mpt", run, decimal=",").read_bytes().split(b"\r\n")

    def variant(name, lines):
        path = tmp_path / name
        path.write_bytes(b"\r\n".join(lines))
        return path

    lines = list(good)
    cells = lines[40].split(b"\t")
    cells[9] = b"3,7x"  # Ecell/V of the 27th data row (file line 41)
    lines[40] = b"\t".join(cells)
    path = variant("cell.mpt", lines)
    with pytest.raises(ReadError) as error:
        read_cycler(path)
    assert one_line(error).startswith(f"{path}, line 41, column index 9 ('Ecell/V'): expected a number, found '3,7x'")

    path = variant("count.mpt", [good[0], b"Nb header line = 14"] + good[2:])
    with pytest.raises(ReadError, match=r"line 2: expected 'Nb header lines : N'") as error:
        read_cycler(path)
    assert str(path) in one_line(error)

    lines = list(good)
    lines[30] += b"\t1,0"
    path = variant("fields.mpt", lines)
    with pytest.raises(ReadError, match=r"line 31: 20 fields where the first data line \(line 14\) has 19"):
        read_cycler(path)

    path = variant("novoltage.mpt", good[:12] + [good[12].replace(b"Ecell/V", b"Ece/V")] + good[13:])
    with pytest.raises(ReadError, match=r"line 13: no voltage column among the columns") as error:
        read_cycler(path)
    one_line(error)

    path = variant("short.mpt", good[:10])
    with pytest.raises(ReadError, match="ends at line 10, before the column names"):
        read_cycler(path)

    path = variant("notmpt.mpt", [b"some text", b"1\t2"])
    with pytest.raises(ReadError, match=r"line 1: expected 'EC-Lab ASCII FILE'"):
        read_cycler(path)


def test_malformed_delimited_files(run, tmp_path):
    """Time going back, a map beyond the columns, unnamed columns, an unknown unit, a
    missing column name, a NaN row (dropped with a warning naming it), no current: one
    line each. Reference: the line or column each case corrupts."""
    path = write_csv(tmp_path / "a.csv", run)
    text = path.read_text().splitlines()
    back = tmp_path / "back.csv"
    text_back = list(text)
    row = text_back[101].split(",")
    row[0] = "1.0"  # time of line 102 set back
    text_back[101] = ",".join(row)
    back.write_text("\n".join(text_back) + "\n")
    with pytest.raises(ReadError) as error:
        read_cycler(back)
    message = one_line(error)
    assert message.startswith(f"{back}, line 102: time goes back from") and "total test time" in message

    with pytest.raises(ReadError, match=r"line 1: column index 7 \(cycle\) is beyond the 5 columns"):
        read_cycler(write_csv(tmp_path / "b.csv", run, with_names=False), columns="time=0,voltage=1,current=2,cycle=7")
    with pytest.raises(ReadError, match=r"line 1: 5 unnamed columns"):
        read_cycler(write_csv(tmp_path / "c.csv", run, with_names=False))
    kilovolt = write_csv(tmp_path / "d.csv", run,
                         names=("time_s", "Voltage(kV)", "current_mA", "capacity_mAh", "cycle"))
    with pytest.raises(ReadError, match=r"line 1: no voltage column with a known unit \('Voltage\(kV\)': unit 'kV' "
                                         r"is not a unit of voltage; allowed: mv, v\)") as error:
        read_cycler(kilovolt)
    assert str(kilovolt) in one_line(error)
    for columns in ("voltage=Voltage(kV)", "voltage=1"):
        with pytest.raises(ReadError, match=r"line 1, column index 1 \('Voltage\(kV\)'\): unit 'kV' is not a "
                                             r"unit of voltage; allowed: mv, v") as error:
            read_cycler(kilovolt, columns=columns)
        assert str(kilovolt) in one_line(error)
    with pytest.raises(ReadError, match="no column named 'Spannung'"):
        read_cycler(path, columns="voltage=Spannung")

    nan = tmp_path / "nan.csv"
    text_nan = list(text)
    text_nan[5] = text_nan[5].replace(text_nan[5].split(",")[1], "nan", 1)
    nan.write_text("\n".join(text_nan) + "\n")
    with pytest.warns(UserWarning, match=r"nan.csv: 1 row with NaN/inf dropped \(line 6\)"):
        data = read_cycler(nan)
    assert data.time.size == run.sizes["time"] - 1

    zero = tmp_path / "zero.csv"
    zero.write_text("time_s,voltage_V,current_mA\n0,3.5,0\n1,3.5,0\n")
    with pytest.raises(ReadError, match="the current is zero throughout"):
        read_cycler(zero)


def test_files_of_other_kinds(tmp_path):
    """An image, a powder pattern, Neware/Arbin binaries, EC-Lab settings, empty and missing
    files are named as what they are, in one line. Reference: each format's leading bytes
    (PNG, HDF5, Neware "NEWARE", MS Access "Standard Jet DB") written here."""
    from chemomech.io.readers import write_powder_pattern

    cases = {
        "plot.png": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "a PNG image"),
        "cell.nda": (b"NEWARE" + b"\x00" * 32, "a Neware .nda file"),
        "cell.res": (b"\x00\x01\x00\x00Standard Jet DB" + b"\x00" * 16, "MS Access database"),
        "result.nc": (b"\x89HDF\r\n\x1a\n" + b"\x00" * 32, "an HDF5 file"),
        "settings.mps": (b"EC-LAB SETTING FILE\r\n\r\nNumber of linked techniques : 1\r\n", "EC-Lab settings file"),
        "empty.csv": (b"", "the file is empty"),
        "blank.csv": (b"\n\n  \n", "only blank lines"),
        "fake.mpr": (b"EC-Lab ASCII FILE\r\n", "expected 'Nb header lines"),
    }
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ReadError, match=expected) as error:
            read_cycler(path)
        assert str(path) in one_line(error), name
    pattern = write_powder_pattern(tmp_path / "scan.xy", np.linspace(10, 20, 50), np.ones(50), 0.1173)
    with pytest.raises(ReadError, match=r"scan.xy, line 1: a powder pattern") as error:
        read_cycler(pattern)
    one_line(error)
    with pytest.raises(ReadError, match="no such file"):
        read_cycler(tmp_path / "missing.mpt")
    with pytest.raises(ReadError, match="not a BioLogic .mpr file"):
        read_mpr(pattern)


# ---- branches and the comparison -------------------------------------------------------------

def test_branches_are_cut_as_a_run(run, tmp_path):
    """cycler_branches of the file = voltage_capacity_curves of the run (same samples, q
    from 0 in each branch, [mAh/g]); cycler_cycles = the run's per-cycle capacities."""
    data = read_cycler(write_csv(tmp_path / "a.csv", run), mass_mg=MASS_MG)
    measured = cycler_branches(data)
    simulated = voltage_capacity_curves(run)
    assert [c["cycle"] for c in measured] == [c["cycle"] for c in simulated] == [1, 2]
    for m, s in zip(measured, simulated):
        for direction in ("charge", "discharge"):
            np.testing.assert_allclose(m[direction][0], s[direction][0], rtol=1e-12, atol=1e-12)
            np.testing.assert_array_equal(m[direction][1], s[direction][1])
    table = cycler_cycles(data)
    np.testing.assert_allclose([row["charge_capacity"] for row in table], run["charge_capacity"].values, rtol=1e-12)
    np.testing.assert_allclose([row["discharge_capacity"] for row in table], run["discharge_capacity"].values,
                               rtol=1e-12)


@pytest.mark.parametrize("kind", ["mpt", "csv", "csv-integrated"])
def test_compare_a_run_with_its_own_cycler_file(run, tmp_path, kind):
    """The key check. A cycler file synthesised from the run (EC-Lab .mpt, cycles from 0:
    paired in order; CSV, cycles from 1: paired by number; CSV without capacity: charge from
    the integrated current) compared with the run: equal capacities and CE (1e-12), RMS
    voltage difference 0 to round-off, the same dQ/dV peaks at the same voltages, equal
    retention. Reference: the run itself."""
    if kind == "mpt":
        path = write_mpt(tmp_path / "run.mpt", run, decimal=",")
    else:
        names = ("time_s", "voltage_V", "current_mA", "capacity_mAh" if kind == "csv" else None, "cycle")
        path = write_csv(tmp_path / "run.csv", run, names=names, comments=[f"# mass: {MASS_MG} mg"])
    metrics, figure = compare_cycler(run, path)
    json.dumps(metrics, allow_nan=False)  # plain numbers, strings and None: ready for compare.json
    tolerance = 1e-12 if kind != "csv-integrated" else 1e-9
    assert metrics["mass_mg"] == pytest.approx(MASS_MG)
    assert metrics["cycle_pairing"].startswith("in order" if kind == "mpt" else "by cycle number")
    assert [(e["run_cycle"], e["file_cycle"]) for e in metrics["cycles"]] == (
        [(1, 0), (2, 1)] if kind == "mpt" else [(1, 1), (2, 2)])
    for entry, cycle in zip(metrics["cycles"], (1, 2)):
        for name in ("charge_capacity", "discharge_capacity", "coulombic_efficiency"):
            value = entry[name]
            assert value["simulated"] == pytest.approx(float(run[name].sel(cycle=cycle)), rel=1e-15)
            assert value["measured"] == pytest.approx(value["simulated"], rel=tolerance)
            assert abs(value["difference"]) <= tolerance * abs(value["simulated"])
        for direction in ("charge", "discharge"):
            difference = entry["voltage_difference"][direction]
            assert difference["rms_V"] <= 1e-12 and difference["max_abs_V"] <= 1e-11
            peaks = entry["dqdv_peaks"][direction]
            labels = [p["label"] for p in peaks["simulated"] if p["label"]]
            assert labels and labels == [p["label"] for p in peaks["measured"] if p["label"]]
            assert set(peaks["difference_V"]) == set(labels)
            assert all(abs(d) <= 1e-9 for d in peaks["difference_V"].values())
    # the peaks are those of the run's own dQ/dV
    own = run_dqdv(run)[0]["charge"]
    assert [p["voltage_V"] for p in metrics["cycles"][0]["dqdv_peaks"]["charge"]["simulated"]] == [
        p.voltage for p in own.peaks]
    retention = metrics["retention"]
    assert retention["simulated"] == pytest.approx(float(run["discharge_capacity"][-1] / run["discharge_capacity"][0]))
    assert abs(retention["difference"]) <= tolerance
    out = plot_cycler_comparison(figure, tmp_path / "compare_cycler.png", "NC91 vs its own cycler file")
    assert out.is_file() and out.stat().st_size > 20_000


def test_compare_with_a_cv_hold_and_a_rest(hold_run, tmp_path):
    """Charge, CV hold, rest, discharge, written as EC-Lab does (mode 1 CC, 2 CV, 3 rest):
    the hold stays in the charge branch, the rest is left out, the dQ/dV uses only the CC
    samples on both sides; all differences are zero to round-off. Reference: the run."""
    text = hold_run["step_text"].values[hold_run["step_index"].values]
    mode = np.where(np.char.startswith(text.astype(str), "Hold"), 2,
                    np.where(np.char.startswith(text.astype(str), "Rest"), 3, 1))
    data = read_cycler(write_mpt(tmp_path / "hold.mpt", hold_run, mode=mode))
    assert (data.direction[mode == 2] == 1).all() and (data.direction[mode == 3] == 0).all()
    metrics, figure = compare_cycler(hold_run, data)
    entry = metrics["cycles"][0]
    assert entry["charge_capacity"]["measured"] == pytest.approx(float(hold_run["charge_capacity"][0]), rel=1e-12)
    assert entry["voltage_difference"]["charge"]["rms_V"] <= 1e-12
    assert all(abs(d) <= 1e-9 for d in entry["dqdv_peaks"]["charge"]["difference_V"].values())
    assert figure["dqdv"]["measured"]["charge"].voltage.max() < 4.3 + 0.002  # no CV hold at 4.3 V counted twice
    assert metrics["retention"] is None  # one cycle


def test_compare_mass_and_pairing(run, tmp_path):
    """Without a mass: one line asking for --cycler-mass-mg. With twice the mass: every
    measured capacity halves (reference: q = Q / m). Pairing by the rules of pair_cycles'
    docstring."""
    path = write_csv(tmp_path / "a.csv", run)
    with pytest.raises(ConfigError, match=r"states no mass of active material; cannot normalise to mAh/g: "
                                          r"give --cycler-mass-mg M") as error:
        compare_cycler(run, path)
    one_line(error)
    data = read_cycler(path)
    metrics, _ = compare_cycler(run, data, mass_mg=2 * MASS_MG)
    for entry in metrics["cycles"]:
        value = entry["discharge_capacity"]
        assert value["measured"] == pytest.approx(value["simulated"] / 2, rel=1e-12)
        assert entry["coulombic_efficiency"]["difference"] == pytest.approx(0.0, abs=1e-12)
    q, mass_g, origin = specific_capacity(data, mass_mg=MASS_MG)
    assert mass_g == pytest.approx(MASS_MG * 1e-3) and origin.startswith("given")
    with pytest.raises(ConfigError, match="must be a finite number > 0"):
        specific_capacity(data, mass_mg=-1)
    assert pair_cycles([1, 2, 3], [0, 1, 2, 3])[0] == [(1, 0), (2, 1), (3, 2)]
    assert pair_cycles([1, 2, 3], [1, 3, 4])[0] == [(1, 1), (3, 3)]
    assert pair_cycles([1, 2], [1, 2, 3], "order")[1].startswith("in order (as asked)")
    with pytest.raises(ChemomechError, match="pairing = 'x'"):
        compare_cycler(run, data, mass_mg=MASS_MG, pairing="x")


def test_voltage_difference_of_shifted_curves():
    """Two straight branches V = 3.5 + 0.004 q and the same shifted by 10 mV, over
    q in [0, 200] and [50, 250]: RMS = mean = 10 mV over the common range [50, 200]
    (analytical)."""
    q = np.linspace(0, 200, 101)
    simulated = (q, 3.5 + 0.004 * q)
    measured = (q + 50, 3.5 + 0.004 * (q + 50) - 0.010)
    result = voltage_difference(simulated, measured)
    assert result["capacity_range_mAh_g"] == [50.0, 200.0]
    assert result["rms_V"] == pytest.approx(0.010, rel=1e-9) and result["mean_V"] == pytest.approx(0.010, rel=1e-9)
    assert voltage_difference(simulated, None)["rms_V"] is None


@pytest.mark.slow
def test_cli_compare_cycler(run, tmp_path):
    """`chemomech compare RUN --cycler FILE.mpt`: the run against an EC-Lab export of its own
    time series (write_mpt, the mass in its header) gives zero RMS voltage differences in
    compare.json and writes compare_cycler.png; --cycler-mass-mg without --cycler and a
    non-positive mass are one-line usage errors (exit 2)."""
    import json

    from chemomech.cli.main import main
    from chemomech.io.rundir import write_run_directory
    from chemomech.simulation.run import summary_of

    write_run_directory(tmp_path / "run", CONFIG, run, summary_of(run))
    mpt = write_mpt(tmp_path / "cell.mpt", run)
    assert main(["compare", str(tmp_path / "run"), "--cycler", str(mpt)]) == 0
    stored = json.loads((tmp_path / "run" / "compare" / "compare.json").read_text())["cycler"]
    assert stored["rms_voltage_difference_max_V"] <= 1e-9
    assert (tmp_path / "run" / "compare" / "compare_cycler.png").is_file()
    for extra in (["--cycler-mass-mg", "12"], ["--cycler", str(mpt), "--cycler-mass-mg", "0"]):
        assert main(["compare", str(tmp_path / "run"), *extra, "--out", str(tmp_path / "other")]) == 2
    assert not (tmp_path / "other").exists()
