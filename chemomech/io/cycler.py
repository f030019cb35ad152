"""Cycler files: the measured voltage, current and charge of a cell over time, read for
`chemomech compare RUN --cycler FILE` and cut into charge and discharge branches the way a
simulated run is (analysis.curves.voltage_capacity_curves).

Formats read here
- BioLogic EC-Lab / BT-Lab text export (.mpt, latin-1): line 1 "EC-Lab ASCII FILE" (or
  "BT-Lab ASCII FILE"), line 2 "Nb header lines : N"; lines 3..N-1 are the settings, line N
  the tab-separated column names ("mode", "ox/red", "Ns", "time/s", "Ewe/V" or "Ecell/V",
  "I/mA" or "<I>/mA", "(Q-Qo)/mA.h", "Q charge/discharge/mA.h", "half cycle",
  "cycle number", ...), then one tab-separated line per point. Numbers are written with
  the Windows locale's decimal separator: "3,7512E+000" reads as 3.7512 (the separator
  is taken from the first data line). An export without the header (column names on line
  1) is read too. With both "Ewe/V" and "Ecell/V", Ewe (the working electrode against
  the reference: the cathode against Li in a half cell) is taken. The mass of active
  material comes from the header lines
  "Mass of active material : 12.300 mg" or "Characteristic mass : 0.012 g"; EC-Lab writes
  0.001 (mg or g) there when none was entered, which is taken as no mass.
- BioLogic binary (.mpr), through the galvani package (an optional dependency, imported
  only here; galvani reverse-engineers the format and does not decode the settings module,
  so an .mpr gives no mass).
- Delimited text (.csv, .tsv, .txt, ...): separator (tab, ';', ',' or spaces) and decimal
  comma (with tab, ';' or space separators) from the first lines; '#', '%', '!' lines are
  comments; the last text line before the first line of numbers holds the column names.
  Columns are found by name (COLUMN_ALIASES: "time/s", "Test_Time(s)", "Voltage(V)",
  "current_mA", "(Q-Qo)/mA.h", "Cycle_Index", ...) with the unit in the name
  ("time/h", "Current(A)", "Capacity [Ah]", "capacity_mAh_g") or the default units
  (time s, voltage V, current mA, capacity mAh), or by a column map
  "time=0,voltage=1,current=2,capacity=3,cycle=4" (0-based indices or column names, an
  optional unit after a colon: "time=0:h,current=Current:A"). A comment or header line
  "mass ... : 12.3 mg" (e.g. "# active mass = 12.3 mg") gives the mass. A column map
  also overrides the columns of an .mpt (by index or name) or an .mpr (by name).

Conventions of CyclerData (those of a simulated run):
- current I > 0 on charge: oxidation of the working electrode, delithiation of a cathode
  against Li (EC-Lab's and the run's sign).
- capacity Q(t): net charge passed since the first sample, positive on charge [mAh], or
  [mAh/g] when the file gives it per gram. From, in this order: a capacity column that is
  a net charge ((Q-Qo)), or a per-step counter (EC-Lab's "Q charge/discharge", Neware's
  "Capacity(mAh)"; recognised because it counts up on discharge or falls back towards 0
  when a branch starts), whose increments are unwrapped at each reset and signed by the
  step's direction; Arbin's "Charge_Capacity" and "Discharge_Capacity" counters,
  Q = Qc - Qd after unwrapping; or the current integrated,
      Q_k = Q_(k-1) + I_k (t_k - t_(k-1)) / 3600          [mA, s -> mAh],
  the current of a sample being its mean over the interval that ends at it (EC-Lab's <I>,
  and the run's backward-Euler steps: the run's `capacity` is this sum of its current).
- steps: runs of samples of one step, from the file's step columns (EC-Lab "Ns",
  "half cycle", "mode"; a generic "step"), else runs of one current sign; a new cycle
  always starts a new step. Direction of a step: the sign of its summed current, 0 (a
  rest) when its mean |I| is at most REST_FRACTION of the largest |I| in the file. Each
  sample takes its step's direction (so a CV hold stays in the charge branch); a first
  sample alone in a rest (the initial state, before the current starts) joins the first
  step, as the run's initial state does.
- cycle: the file's cycle column (EC-Lab counts from 0), else 1 + the number of charge
  steps that follow a discharge step.
- constant_current: EC-Lab "mode" = 1 (1 CC, 2 CV, 3 rest) when the file has it, else
  the samples of a charge or discharge step whose |I| is within CC_TOLERANCE of the step's
  90th percentile of |I| (a CV hold's decaying current falls out).
- mass: the `mass_mg` argument, else the file's; without either, capacities stay in mAh
  and specific_capacity / cycler_branches raise a one-line error asking for the mass.

Rows holding NaN or inf (or EC-Lab's "XXX") in a used column are dropped with a one-line
warning naming their lines. Every malformed file raises ReadError naming the file and the
line (and column); a file of another kind (an image, an HDF5/netCDF file, a powder
pattern, an EC-Lab settings or log file, Neware and Arbin binaries) is named as such.
A text file is read as bytes once to check that every line has the fields of the first
data line (vectorised, in blocks of BLOCK_BYTES), then by pandas' C reader for the needed
columns only; line numbers for a message are looked up by one more pass, only then.

Not read: Neware (.nda, .ndax) and Arbin (.res) binaries. NewareNDA (BSD-3, pandas and
xmltodict) reads .nda/.ndax, but its "Time" restarts at every step (the total time must be
rebuilt from "Timestamp" or the step durations), its "Cycle" is regenerated by its own
rule, and the active mass is only logged; no .nda/.ndax file could be tested here, so
nothing half-checked is wired in. Arbin .res files are MS Access databases (readable only
through an ODBC/mdbtools stack, e.g. galvani's res2sqlite with the mdb-export program).
Export either as CSV/Excel-to-CSV from the vendor software (Neware BTSDA, Arbin MITS Pro /
DataWatcher) with the total test time, and read it as delimited text (Arbin's
"Test_Time(s)", "Current(A)", "Voltage(V)", "Charge_Capacity(Ah)",
"Discharge_Capacity(Ah)", "Cycle_Index", "Step_Index" are recognised by name).
"""

from __future__ import annotations

import re
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas

from chemomech.errors import ConfigError, ReadError

CYCLER_EXTRA = "chemomech[cycler]"  # the optional dependency set holding galvani
REST_FRACTION = 1e-3  # a step whose mean |I| is at most this x the file's largest |I| is a rest
CC_TOLERANCE = 0.02   # constant-current samples: |I| within 2 % of the step's 90th percentile
HEAD_LINES = 1000     # lines looked at for the layout of a delimited file
COUNTER_RESET = 0.5   # a counter falling below this fraction of its previous value was reset
ECLAB_MAGIC = ("EC-Lab ASCII FILE", "BT-Lab ASCII FILE")
ECLAB_PLACEHOLDER_MASS = 0.001  # what EC-Lab writes (in mg or g) when no mass was entered
_COMMENTS = ("#", "%", "!")
_NA_VALUES = ("XXX", "nan", "NaN", "NAN", "inf", "-inf", "Inf", "-Inf")  # non-numbers a data row may hold

# Column names (normalised by _normalise_name: lower case, unit and <> removed, '_' and '-'
# as spaces) per quantity, in order of preference.
COLUMN_ALIASES = {
    "time": ("time", "test time", "total time", "elapsed time", "time elapsed", "t"),
    "voltage": ("ewe", "ecell", "voltage", "cell voltage", "potential", "cell potential", "e", "u", "v"),
    "current": ("i", "current", "cell current"),
    "capacity": ("q qo", "q q0", "capacity", "net capacity", "net charge", "charge passed", "q",
                 "q charge/discharge", "specific capacity", "cap"),
    "charge_capacity": ("charge capacity", "chg capacity", "chg cap", "q charge"),
    "discharge_capacity": ("discharge capacity", "dchg capacity", "dchg cap", "dischg capacity", "q discharge"),
    "cycle": ("cycle number", "cycle", "cycle index", "cycle no", "cycle nr", "cycle id"),
    "step": ("ns", "step", "step index", "step number", "step no", "step id"),
    "half_cycle": ("half cycle",),
    "mode": ("mode",),
}
BIOLOGIC_ONLY = ("half_cycle", "mode")  # columns whose meaning is EC-Lab's
REQUIRED = ("time", "voltage", "current")
MAP_KEYS = tuple(COLUMN_ALIASES)

# unit (normalised by _normalise_unit) -> (factor to the canonical unit, canonical unit)
_CAPACITY_UNITS = {
    "mah": (1.0, "mAh"), "ma.h": (1.0, "mAh"), "ah": (1e3, "mAh"), "a.h": (1e3, "mAh"),
    "uah": (1e-3, "mAh"), "ua.h": (1e-3, "mAh"), "c": (1 / 3.6, "mAh"), "mc": (1 / 3600.0, "mAh"),
    "mah/g": (1.0, "mAh/g"), "ma.h/g": (1.0, "mAh/g"), "ah/kg": (1.0, "mAh/g"), "a.h/kg": (1.0, "mAh/g"),
}
UNITS = {
    "time": {"s": (1.0, "s"), "sec": (1.0, "s"), "ms": (1e-3, "s"), "min": (60.0, "s"), "h": (3600.0, "s"),
             "hr": (3600.0, "s")},
    "voltage": {"v": (1.0, "V"), "mv": (1e-3, "V")},
    "current": {"ma": (1.0, "mA"), "a": (1e3, "mA"), "ua": (1e-3, "mA"), "na": (1e-6, "mA"),
                "ma/g": (1.0, "mA/g"), "a/g": (1e3, "mA/g"), "a/kg": (1.0, "mA/g")},
    "capacity": _CAPACITY_UNITS,
    "charge_capacity": _CAPACITY_UNITS,
    "discharge_capacity": _CAPACITY_UNITS,
}
DEFAULT_UNITS = {"time": "s", "voltage": "v", "current": "ma", "capacity": "mah",
                 "charge_capacity": "mah", "discharge_capacity": "mah"}
_ALL_UNITS = {unit for table in UNITS.values() for unit in table}


@dataclass
class CyclerData:
    """One cycler file as samples in time order (module docstring for the conventions).
    `columns` says how each quantity was found (column name and index, unit, or how it was
    derived); `row` is each sample's data row in the file (0-based, rows dropped for NaN
    left out), `where(k)` the file line (text) or record (binary) of sample k."""

    path: str
    source: str
    time: np.ndarray              # [s]
    voltage: np.ndarray           # [V]
    current: np.ndarray           # [mA] or [mA/g] (current_unit), > 0 on charge
    capacity: np.ndarray          # net charge since the first sample [mAh] or [mAh/g], > 0 on charge
    cycle: np.ndarray             # int, as numbered in the file (or derived: from 1)
    step: np.ndarray              # int, from 0: the step of each sample
    direction: np.ndarray         # int8: +1 charge, -1 discharge, 0 rest (the sample's step)
    constant_current: np.ndarray  # bool: sample in a constant-current part of a charge/discharge
    capacity_unit: str = "mAh"
    current_unit: str = "mA"
    mass_g: float | None = None
    mass_source: str | None = None
    columns: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    header: list = field(default_factory=list)
    row: np.ndarray | None = field(default=None, repr=False)
    _lines: tuple | None = field(default=None, repr=False)  # (encoding, first data line) of text files

    def where(self, sample: int) -> str:
        """"line N" (text files) or "record N" (binary, from 1) of sample `sample`."""
        row = int(self.row[sample]) if self.row is not None else int(sample)
        if self._lines is None:
            return f"record {row + 1}"
        return f"line {_line_numbers(Path(self.path), *self._lines, np.array([row]))[0]}"


# ---- entry point -----------------------------------------------------------------------

def read_cycler(path: str | Path, columns: str | dict | None = None, mass_mg: float | None = None) -> CyclerData:
    """Read a cycler file: BioLogic .mpr (galvani) or .mpt, or delimited text with the
    column map `columns` (parse_column_map) or column names; `mass_mg` [mg] is the mass of
    active material (it wins over the file's). The kind comes from the file's first bytes,
    then its suffix."""
    path = Path(path)
    head = _head_bytes(path)
    kind = _binary_kind(head)
    if head.startswith(_MPR_MAGIC_START):
        return read_mpr(path, columns=columns, mass_mg=mass_mg)
    if kind is not None:
        raise ReadError(f"{path}: {kind}, not a cycler file; expected a BioLogic .mpr/.mpt or a delimited text "
                        f"file of time, voltage and current")
    _check_text_kind(path, head)
    first = head.split(b"\n", 1)[0].strip().decode("latin-1")
    if first in ECLAB_MAGIC or path.suffix.lower() == ".mpt":
        return read_mpt(path, columns=columns, mass_mg=mass_mg)
    if path.suffix.lower() == ".mpr":
        raise ReadError(f"{path}: not a BioLogic .mpr file (it does not start with 'BIO-LOGIC MODULAR FILE')")
    return read_cycler_csv(path, columns=columns, mass_mg=mass_mg)


def _head_bytes(path: Path, size: int = 4096) -> bytes:
    if not path.is_file():
        raise ReadError(f"{path}: no such file")
    try:
        with open(path, "rb") as handle:
            head = handle.read(size)
    except OSError as exc:
        raise ReadError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not head:
        raise ReadError(f"{path}: the file is empty; expected a cycler file of time, voltage and current")
    return head


_MPR_MAGIC_START = b"BIO-LOGIC MODULAR FILE"
_BINARY_KINDS = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (a run's result.nc, a NeXus or HDF5 data set?)"),
    (b"CDF\x01", "a netCDF-3 file"),
    (b"CDF\x02", "a netCDF-3 file"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (a Neware .ndax or an Excel .xlsx? neither is read here: export CSV)"),
    (b"NEWARE", "a Neware .nda file (not read here: export CSV from BTSDA with the total test time)"),
    (b"\x00\x01\x00\x00Standard Jet DB", "an MS Access database (an Arbin .res? not read here: export CSV)"),
    (b"\x00\x01\x00\x00Standard ACE DB", "an MS Access database (an Arbin .res? not read here: export CSV)"),
    (b"\xd0\xcf\x11\xe0", "an MS Office document (an Excel .xls? export CSV)"),
)


def _binary_kind(head: bytes) -> str | None:
    """What a file of another kind is, from its first bytes (None for text and .mpr)."""
    for magic, kind in _BINARY_KINDS:
        if head.startswith(magic):
            return kind
    if head.startswith(_MPR_MAGIC_START):
        return None
    if b"\x00" in head:
        return "a binary file of unknown kind"
    return None


def _check_text_kind(path: Path, head: bytes) -> None:
    """EC-Lab settings and log files are text but hold no data."""
    first = head.split(b"\n", 1)[0].strip().decode("latin-1").upper()
    if first in ("EC-LAB SETTING FILE", "BT-LAB SETTING FILE"):
        raise ReadError(f"{path}, line 1: an EC-Lab settings file (.mps), not data; export the data file as .mpt "
                        f"or give the .mpr")
    if first in ("EC-LAB LOG FILE", "BT-LAB LOG FILE"):
        raise ReadError(f"{path}, line 1: an EC-Lab log file (.mpl), not data; give the .mpr or its .mpt export")


# ---- BioLogic .mpt -----------------------------------------------------------------------

def read_mpt(path: str | Path, columns: str | dict | None = None, mass_mg: float | None = None) -> CyclerData:
    """Read an EC-Lab/BT-Lab text export (.mpt; module docstring); `columns` (a column map,
    parse_column_map) overrides the columns found by name."""
    path = Path(path)
    head = _head_bytes(path)
    kind = _binary_kind(head)
    if kind is not None or head.startswith(_MPR_MAGIC_START):
        raise ReadError(f"{path}: {kind or 'a BioLogic binary .mpr file'}, not an EC-Lab text export (.mpt)")
    _check_text_kind(path, head)
    with open(path, encoding="latin-1", newline=None) as handle:
        first = handle.readline()
        if first.strip() in ECLAB_MAGIC:
            second = handle.readline()
            match = re.match(r"\s*Nb header lines\s*:\s*(\d+)\s*$", second)
            if not match:
                raise ReadError(f"{path}, line 2: expected 'Nb header lines : N' (EC-Lab text export), "
                                f"found {second.strip()[:60]!r}")
            count = int(match.group(1))
            if count < 3:
                raise ReadError(f"{path}, line 2: {count} header lines announced; an EC-Lab export has at least 3 "
                                f"(title, this line, the column names)")
            header = [(1, first.strip()), (2, second.strip())]
            for number in range(3, count + 1):
                line = handle.readline()
                if not line:
                    raise ReadError(f"{path}: the file ends at line {number - 1}, before the column names "
                                    f"(line 2 announces {count} header lines)")
                header.append((number, line.rstrip("\r\n")))
            names_line, names_text = header.pop()
        elif "\t" in first and "time/" in first:  # exported without the header
            header, names_line, names_text, count = [], 1, first.rstrip("\r\n"), 1
        else:
            raise ReadError(f"{path}, line 1: expected 'EC-Lab ASCII FILE' (an EC-Lab text export), "
                            f"found {first.strip()[:60]!r}")
        first_data = handle.readline()
    names = names_text.split("\t")
    while names and not names[-1].strip():
        names.pop()
    names = [name.strip() for name in names]
    if len(names) < 3 or not any(name.startswith("time/") for name in names):
        raise ReadError(f"{path}, line {names_line}: expected the tab-separated column names (with time/s) "
                        f"after {count - 1} header lines, found {names_text.strip()[:60]!r}")
    if not first_data.strip():
        raise ReadError(f"{path}: no data after the column names (line {names_line})")
    decimal = "," if re.search(r"\d,\d", first_data) else "."
    return _read_table(path, encoding="latin-1", sep="\t", decimal=decimal, names=names, names_line=names_line,
                       data_start=names_line + 1, header=header, source="BioLogic EC-Lab text export (.mpt)",
                       column_map=parse_column_map(columns), biologic=True, mass_mg=mass_mg)


# ---- BioLogic .mpr ---------------------------------------------------------------------

def read_mpr(path: str | Path, columns: str | dict | None = None, mass_mg: float | None = None) -> CyclerData:
    """Read a BioLogic binary .mpr through galvani (BioLogic.MPRfile; its record array holds
    columns named as in the .mpt export, and the packed flags "mode" and "ox/red");
    `columns` (a column map by names) overrides the columns found by name. galvani does
    not decode the mass: give `mass_mg` or read the .mpt export."""
    path = Path(path)
    head = _head_bytes(path)
    if not head.startswith(_MPR_MAGIC_START):
        kind = _binary_kind(head) or "a text file"
        raise ReadError(f"{path}: {kind}, not a BioLogic .mpr file (it does not start with 'BIO-LOGIC MODULAR FILE')")
    try:
        from galvani import BioLogic
    except ImportError:
        raise ReadError(f"{path}: reading BioLogic .mpr files needs the galvani package: "
                        f"pip install '{CYCLER_EXTRA}' (or pip install galvani), or export the file as .mpt "
                        f"from EC-Lab") from None
    try:
        with open(path, "rb") as handle:
            mpr = BioLogic.MPRfile(handle)
        records = np.asarray(mpr.data)
        flags = {name: np.asarray(mpr.get_flag(name)) for name in getattr(mpr, "flags_dict", {})}
    except (ValueError, NotImplementedError, AssertionError, KeyError, IndexError, TypeError, struct.error,
            OSError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReadError(f"{path}: galvani cannot read this .mpr ({message[:120]}); export it as .mpt from EC-Lab "
                        f"and read that") from None
    names = list(records.dtype.names or ()) + list(flags)
    found = _columns_from_names(path, names, parse_column_map(columns), True, "the .mpr's columns")
    raw = {key: np.asarray(flags[spec.name] if spec.name in flags else records[spec.name], dtype=float) * spec.factor
           for key, spec in found.items()}
    version = _package_version("galvani")
    data = _assemble(path, f"BioLogic binary (.mpr, read by galvani {version})", raw, found,
                     np.arange(records.shape[0]), None, [], biologic=True)
    data.notes.append("galvani does not decode the mass stored in an .mpr: give mass_mg (--cycler-mass-mg) "
                      "or read the .mpt export")
    return _with_mass(data, mass_mg)


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "(version unknown)"


# ---- delimited text ----------------------------------------------------------------------

def parse_column_map(text: str | dict | None) -> dict:
    """{key: (column, unit or None)} from "time=0,voltage=1,current=2:A,capacity=Q(mAh)":
    keys MAP_KEYS; a column is a 0-based index or a column name; an optional unit after
    the last ':' (one of UNITS for that quantity). A dict {key: column} or
    {key: (column, unit)} is taken as it is. A mistake is a one-line ConfigError."""
    if text is None:
        return {}
    if isinstance(text, dict):
        items = [(key, value if isinstance(value, tuple) else (value, None)) for key, value in text.items()]
    else:
        items = []
        for part in (p.strip() for p in str(text).split(",")):
            if not part:
                continue
            if "=" not in part:
                raise ConfigError(f"--cycler-columns {text!r}: {part!r} is not key=column "
                                  f"(e.g. 'time=0,voltage=1,current=2')")
            key, value = (s.strip() for s in part.split("=", 1))
            unit = None
            if ":" in value:
                column, maybe = value.rsplit(":", 1)
                if _normalise_unit(maybe) in _ALL_UNITS:
                    value, unit = column.strip(), maybe.strip()
            items.append((key, (int(value) if re.fullmatch(r"\d+", value) else value, unit)))
    parsed = {}
    for key, (column, unit) in items:
        if key not in MAP_KEYS:
            raise ConfigError(f"--cycler-columns: unknown key {key!r}; allowed: {', '.join(MAP_KEYS)}")
        if unit is not None and key in UNITS and _normalise_unit(unit) not in UNITS[key]:
            raise ConfigError(f"--cycler-columns: unit {unit!r} for {key}; allowed: "
                              f"{', '.join(_unit_names(key))}")
        if isinstance(column, str) and not column:
            raise ConfigError(f"--cycler-columns: no column given for {key}")
        parsed[key] = (column, unit)
    return parsed


def read_cycler_csv(path: str | Path, columns: str | dict | None = None, mass_mg: float | None = None) -> CyclerData:
    """Read a delimited text file of a cycler's samples (module docstring): columns by
    the map `columns` (parse_column_map), the rest by their names."""
    path = Path(path)
    column_map = parse_column_map(columns)
    head = _head_bytes(path)
    kind = _binary_kind(head)
    if kind is not None or head.startswith(_MPR_MAGIC_START):
        raise ReadError(f"{path}: {kind or 'a BioLogic binary .mpr file'}, not a delimited text file")
    _check_text_kind(path, head)
    encoding = _text_encoding(path)
    layout = _sniff_layout(path, encoding)
    return _read_table(path, encoding=encoding, sep=layout["sep"], decimal=layout["decimal"], names=layout["names"],
                       names_line=layout["names_line"], data_start=layout["data_start"], header=layout["header"],
                       source=f"delimited text ({layout['sep_name']}, decimal {layout['decimal']!r})",
                       column_map=column_map, biologic=False, mass_mg=mass_mg, width=layout["width"])


def _text_encoding(path: Path) -> str:
    """utf-8 (with or without BOM) when the file's first 1 MB decodes as such, else latin-1."""
    with open(path, "rb") as handle:
        chunk = handle.read(1 << 20)
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(chunk) - 4:  # not just a character cut at the chunk's end
            return "latin-1"
    return "utf-8-sig"


def _split(line: str, sep: str | None) -> list[str]:
    return line.split() if sep is None else [field.strip() for field in line.rstrip("\r\n").split(sep)]


def _is_number(text: str, decimal: str) -> bool:
    try:
        float(text.replace(",", ".") if decimal == "," else text)
    except ValueError:
        return text in _NA_VALUES
    return True


def _sniff_layout(path: Path, encoding: str) -> dict:
    """Separator, decimal, the column names and the first data line of a delimited file,
    from its first HEAD_LINES lines: the first data line is the first (not a comment) of
    which more than half the fields, and at least 2, are numbers; the column names are the
    line before it."""
    lines = []
    with open(path, encoding=encoding, errors="replace", newline=None) as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                lines.append((number, line.rstrip("\r\n")))
            if number >= HEAD_LINES:
                break
    if not lines:
        raise ReadError(f"{path}: the file holds only blank lines; expected columns of time, voltage and current")
    content = [text for _, text in lines if not text.lstrip().startswith(_COMMENTS)][:20]
    if any("\t" in text for text in content):
        sep, sep_name = "\t", "tab-separated"
    elif any(";" in text for text in content):
        sep, sep_name = ";", "';'-separated"
    elif any("," in text for text in content):
        sep, sep_name = ",", "comma-separated"
    else:
        sep, sep_name = None, "space-separated"
    header, names, names_line = [], None, None
    for number, text in lines:
        if text.lstrip().startswith(_COMMENTS):
            header.append((number, text))
            continue
        fields = _split(text, sep)
        decimal = "," if sep != "," and re.search(r"\d,\d", text) else "."
        filled = [f for f in fields if f]
        numbers = sum(_is_number(f, decimal) for f in filled)
        if numbers >= 2 and 2 * numbers > len(filled):  # rows of numbers (a date or text column allowed)
            while names and not names[-1]:
                names.pop()
            return {"sep": sep, "sep_name": sep_name, "decimal": decimal, "names": names, "names_line": names_line,
                    "data_start": number, "header": header, "width": len(fields)}
        header.append((number, text))
        names, names_line = fields, number
    _reject_powder_pattern(path, header)
    raise ReadError(f"{path}: no line of numbers in the first {HEAD_LINES} lines; expected a header line of column "
                    f"names, then rows of numbers (time, voltage, current, ...)")


def _reject_powder_pattern(path: Path, header: list[tuple[int, str]]) -> None:
    """A ReadError naming the line when the header reads like a powder pattern's."""
    from chemomech.io.readers import _WAVELENGTH, _unit_from_label

    for number, text in header:
        label = text.lstrip("#!% ")
        words = label.lower()
        if (_WAVELENGTH.search(label) or "2th" in words or "2theta" in words.replace("-", "").replace(" ", "")
                or ("intensity" in words) or (_unit_from_label(label) or "").startswith("2th")):
            raise ReadError(f"{path}, line {number}: a powder pattern ({text.strip()[:50]!r}), not a cycler file; "
                            f"expected columns of time, voltage and current")


def _read_table(path: Path, *, encoding: str, sep: str | None, decimal: str, names: list[str] | None,
                names_line: int | None, data_start: int, header: list[tuple[int, str]], source: str,
                column_map: dict | None, biologic: bool, mass_mg: float | None, width: int | None = None) -> CyclerData:
    """Parse the needed columns of a delimited table whose data start at line `data_start`."""
    where_names = f"line {names_line}" if names_line else "no column names"
    if not names and not column_map:
        _reject_powder_pattern(path, header)
        raise ReadError(f"{path}, line {data_start}: {width} unnamed columns (no line of column names before the "
                        f"first data line); name them with --cycler-columns 'time=0,voltage=1,current=2,...'")
    found = _columns_from_names(path, names or [], column_map, biologic, where_names, header=header,
                                width=width, data_start=data_start)
    indices = sorted({spec.index for spec in found.values()})
    if sep is not None:
        _check_field_counts(path, sep, data_start)
    frame = _parse_columns(path, encoding, sep, decimal, data_start, indices, names or [])
    raw = {key: frame[spec.index].to_numpy(dtype=float) * spec.factor for key, spec in found.items()}
    data = _assemble(path, source, raw, found, np.arange(len(frame)), (encoding, data_start), header,
                     biologic=biologic)
    mass, mass_source, note = _mass_from_header(path, header, biologic)
    data.mass_g, data.mass_source = mass, mass_source
    if note:
        data.notes.append(note)
    return _with_mass(data, mass_mg)


def _parse_columns(path: Path, encoding: str, sep: str | None, decimal: str, data_start: int,
                   indices: list[int], names: list[str]) -> pandas.DataFrame:
    """The columns `indices` of the data rows as floats (pandas' C reader); a cell that
    is not a number or a row of the wrong length is a ReadError naming line and column."""
    options = dict(sep=r"\s+" if sep is None else sep, decimal=decimal, header=None, skiprows=data_start - 1,
                   usecols=indices, encoding=encoding, encoding_errors="replace", engine="c",
                   skip_blank_lines=True, na_values=["XXX"])
    try:
        return pandas.read_csv(path, dtype=float, **options)
    except pandas.errors.ParserError as exc:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if match:
            expected, line, saw = match.groups()
            raise ReadError(f"{path}, line {line}: {saw} fields where the first data line (line {data_start}) has "
                            f"{expected}") from None
        raise ReadError(f"{path}: cannot be parsed as a table ({str(exc).splitlines()[0][:120]})") from None
    except ValueError:
        pass
    except pandas.errors.EmptyDataError:
        raise ReadError(f"{path}: no data rows from line {data_start}") from None
    # a cell that is not a number: find the first one (error path only: read again as text)
    text = pandas.read_csv(path, dtype=str, **options)
    first_row, first_index, first_cell = None, None, None
    for index in indices:
        column = text[index]
        cleaned = column.str.strip()
        if decimal == ",":
            cleaned = cleaned.str.replace(",", ".", regex=False)
        bad = (pandas.to_numeric(cleaned, errors="coerce").isna() & column.notna()).to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            if first_row is None or row < first_row:
                first_row, first_index, first_cell = row, index, column.iloc[row]
    if first_row is None:
        raise ReadError(f"{path}: the data from line {data_start} cannot be read as numbers")
    line = _line_numbers(path, encoding, data_start, np.array([first_row]))[0]
    name = f" ({names[first_index]!r})" if first_index < len(names) else ""
    hint = ""
    if decimal == "." and re.search(r"\d,\d", str(first_cell)):
        hint = f"; a decimal comma, while line {data_start} uses points?"
    raise ReadError(f"{path}, line {line}, column index {first_index}{name}: expected a number, "
                    f"found {str(first_cell)[:40]!r}{hint}")


BLOCK_BYTES = 1 << 22  # bytes per block of the field count check
_WHITESPACE = np.frombuffer(b" \t\r\n\x0b\x0c", dtype=np.uint8)


def _check_field_counts(path: Path, sep: str, data_start: int) -> None:
    """Every non-blank line from `data_start` has as many separators as the first data line
    (pandas reading only some columns would silently take a longer line); a ReadError names
    the first that does not. Vectorised over blocks of BLOCK_BYTES bytes (whole lines)."""
    state = {"line": 1, "expected": None}
    carry = b""
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(BLOCK_BYTES)
            if chunk:
                block = carry + chunk
                cut = block.rfind(b"\n") + 1
                block, carry = block[:cut], block[cut:]
            else:  # the end: a last line without its newline
                block, carry = (carry + b"\n" if carry else b""), b""
            if block:
                _check_block(path, block, ord(sep), data_start, state)
            if not chunk:
                return


def _check_block(path: Path, block: bytes, code: int, data_start: int, state: dict) -> None:
    """_check_field_counts on whole lines `block`, whose first line is state["line"]."""
    data = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(data == 10)
    separators = np.diff(np.concatenate(([0], np.cumsum(data == code, dtype=np.int64)[ends])))
    visible = np.diff(np.concatenate(([0], np.cumsum(~np.isin(data, _WHITESPACE), dtype=np.int64)[ends])))
    numbers = state["line"] + np.arange(ends.size)
    state["line"] += ends.size
    used = (numbers >= data_start) & (visible > 0)
    if not used.any():
        return
    if state["expected"] is None:
        state["expected"] = int(separators[np.argmax(used)])
    wrong = used & (separators != state["expected"])
    if wrong.any():
        k = int(np.argmax(wrong))
        raise ReadError(f"{path}, line {numbers[k]}: {separators[k] + 1} fields where the first data line "
                        f"(line {data_start}) has {state['expected'] + 1}")


def _line_numbers(path: Path, encoding: str, data_start: int, rows: np.ndarray) -> np.ndarray:
    """File line numbers of data rows `rows` (0-based, counted from line data_start,
    blank lines skipped as pandas skips them). Scans the file: for messages only."""
    wanted = {int(r) for r in rows}
    found, row = {}, 0
    with open(path, encoding=encoding, errors="replace", newline=None) as handle:
        for number, line in enumerate(handle, start=1):
            if number < data_start or not line.strip():
                continue
            if row in wanted:
                found[row] = number
                if len(found) == len(wanted):
                    break
            row += 1
    return np.array([found.get(int(r), data_start + int(r)) for r in rows], dtype=int)


# ---- columns -----------------------------------------------------------------------------

@dataclass
class _Column:
    """Where a quantity was found: column index and name, unit factor to the canonical
    unit, the canonical unit, and how it was found (for CyclerData.columns)."""
    index: int
    name: str | None
    factor: float
    unit: str | None
    how: str


def _normalise_unit(unit: str) -> str:
    return (unit.strip().replace("µ", "u").replace("μ", "u").replace("·", ".").replace(" ", "")
            .replace("g-1", "/g").replace("kg-1", "/kg").lower())


def _unit_names(key: str) -> list[str]:
    return sorted({name for name in UNITS[key]})


def _split_name(name: str) -> tuple[str, str | None]:
    """(base name, unit or None) of a column name: "time/s", "Test_Time(s)",
    "Capacity [Ah]", "current_mA", "capacity_mAh_g", "<I>/mA", "<Ewe/V>"."""
    text = name.strip().strip("\"'")
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    match = re.fullmatch(r"(.+?)\s*[(\[]\s*([^()\[\]]+?)\s*[)\]]\s*", text)
    if match:  # "Voltage(V)", "Time [h]": what is in the brackets is the unit, known or not
        return match.group(1), match.group(2)
    if "/" in text:
        base, unit = text.rsplit("/", 1)
        if _normalise_unit(unit) in _ALL_UNITS:
            return base, unit
        base2, slash, rest = base.rpartition("/")  # "Q charge/discharge/mA.h/g"
        if slash and _normalise_unit(rest + "/" + unit) in _ALL_UNITS:
            return base2, rest + "/" + unit
    parts = re.split(r"[_ ]", text)
    for count in (2, 1):
        if len(parts) > count:
            unit = "/".join(parts[-count:]) if count == 2 else parts[-1]
            if _normalise_unit(unit) in _ALL_UNITS:
                return " ".join(parts[:-count]), unit
    return text, None


def _normalise_name(base: str) -> str:
    text = base.lower().replace("<", "").replace(">", "").replace("(", " ").replace(")", " ")
    text = re.sub(r"[_\-.]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _columns_from_names(path: Path, names: list[str], column_map: dict | None, biologic: bool, where: str,
                        header=None, width: int | None = None, data_start: int | None = None) -> dict:
    """{key: _Column} for the quantities found: the map's first, then by name
    (COLUMN_ALIASES, in order of preference); time, voltage and current are required."""
    split = [_split_name(name) for name in names]
    normal = [_normalise_name(base) for base, _ in split]
    found = {}
    for key, (column, unit) in (column_map or {}).items():
        if isinstance(column, int):
            count = width if width is not None else len(names)
            if count is not None and column >= count:
                raise ReadError(f"{path}, line {data_start}: column index {column} ({key}) is beyond the {count} "
                                f"columns of the data (indices from 0)")
            index = column
        else:
            matches = [i for i, name in enumerate(names) if name == column or split[i][0].strip() == column]
            if not matches:
                raise ReadError(f"{path}, {where}: no column named {column!r} ({key}); columns: "
                                f"{', '.join(repr(n) for n in names[:30]) or 'none'}")
            index = matches[0]
        name = names[index] if index < len(names) else None
        header_unit = split[index][1] if index < len(names) else None
        found[key] = _column(path, key, index, name, unit, header_unit, where, "column map")
    rejected = {}
    for key, aliases in COLUMN_ALIASES.items():
        if key in found or (key in BIOLOGIC_ONLY and not biologic):
            continue
        taken = {spec.index for spec in found.values()}
        candidates = [i for alias in aliases for i, n in enumerate(normal) if n == alias and i not in taken]
        for index in candidates:
            unit = split[index][1]
            if key in UNITS and unit is not None and _normalise_unit(unit) not in UNITS[key]:
                rejected.setdefault(key, f"{names[index]!r}: unit {unit!r} is not a unit of {key}; allowed: "
                                         f"{', '.join(_unit_names(key))}")
                continue
            found[key] = _column(path, key, index, names[index], None, unit, where, "name")
            break
    missing = [key for key in REQUIRED if key not in found]
    if missing:
        if header is not None:
            _reject_powder_pattern(path, header)
        if missing[0] in rejected:
            raise ReadError(f"{path}, {where}: no {missing[0]} column with a known unit ({rejected[missing[0]]})")
        listing = ", ".join(repr(n) for n in names[:30]) or "none"
        raise ReadError(f"{path}, {where}: no {' or '.join(missing)} column among the columns ({listing}); "
                        f"name {'them' if len(missing) > 1 else 'it'} with --cycler-columns "
                        f"'{missing[0]}=INDEX' (indices from 0)")
    return found


def _column(path: Path, key: str, index: int, name: str | None, map_unit: str | None, header_unit: str | None,
            where: str, how: str) -> _Column:
    """The _Column of quantity `key` at `index`, its unit from the map, else the column
    name, else the default."""
    label = f"column index {index}" + (f" {name!r}" if name else "") + f" ({how})"
    if key not in UNITS:
        return _Column(index, name, 1.0, None, label)
    if map_unit is not None:
        unit, origin = map_unit, "from the column map"
    elif header_unit is not None:
        unit, origin = header_unit, "from the column name"
    else:
        unit, origin = DEFAULT_UNITS[key], "default"
    normal = _normalise_unit(unit)
    if normal not in UNITS[key]:
        raise ReadError(f"{path}, {where}, column index {index} ({name!r}): unit {unit!r} is not a unit of {key}; "
                        f"allowed: {', '.join(_unit_names(key))}")
    factor, canonical = UNITS[key][normal]
    return _Column(index, name, factor, canonical, f"{label}, unit {unit} {origin}")


# ---- from columns to samples, steps, cycles and the net charge --------------------------

def _assemble(path: Path, source: str, raw: dict, found: dict, row: np.ndarray, lines: tuple | None,
              header: list, biologic: bool) -> CyclerData:
    """CyclerData from the parsed columns (raw: key -> array in canonical units)."""
    describe = (lambda rows: _where_rows(path, lines, rows))
    finite = np.logical_and.reduce([np.isfinite(values) for values in raw.values()])
    if not finite.all():
        dropped = row[~finite]
        if finite.sum() < 2:
            raise ReadError(f"{path}: {int(finite.sum())} of {row.size} data rows hold finite numbers in the used "
                            f"columns ({describe(dropped)} hold NaN/inf); a cycler file needs at least 2")
        warnings.warn(f"{path}: {dropped.size} row{'s' if dropped.size > 1 else ''} with NaN/inf dropped "
                      f"({describe(dropped)})", stacklevel=4)
        raw = {key: values[finite] for key, values in raw.items()}
        row = row[finite]
    if row.size < 2:
        raise ReadError(f"{path}: {row.size} data row; a cycler file needs at least 2")
    time, voltage, current = raw["time"], raw["voltage"], raw["current"]
    back = np.flatnonzero(np.diff(time) < 0)
    if back.size:
        k = int(back[0]) + 1
        raise ReadError(f"{path}, {describe(row[k:k + 1])}: time goes back from {time[k - 1]:.6g} s to "
                        f"{time[k]:.6g} s ({found['time'].how}); expected the total test time (a step time "
                        f"restarts at each step: name the total time with --cycler-columns 'time=...')")
    top = float(np.max(np.abs(current)))
    if not top > 0:
        raise ReadError(f"{path}: the current is zero throughout ({found['current'].how}); no charge or "
                        f"discharge to compare")
    columns = {key: spec.how for key, spec in found.items()}
    notes = []
    step, direction, columns["steps"], joined = _steps(raw, found, top)
    if joined:
        notes.append(f"the first sample ({describe(row[:1])}, at rest) is the initial state of the first step")
    if "cycle" in raw:
        cycle = np.rint(raw["cycle"]).astype(np.int64)
    else:
        cycle = _derived_cycles(step, direction)
        columns["cycle"] = "derived: cycle 1 at the start, a new cycle at each charge step that follows a discharge"
    capacity, capacity_unit, columns["capacity"] = _net_charge(path, raw, found, direction)
    constant, columns["constant_current"] = _constant_current(raw, step, direction, biologic)
    if joined and constant.size > 1:
        constant[0] = constant[1]
    return CyclerData(path=str(path), source=source, time=time, voltage=voltage, current=current, capacity=capacity,
                      cycle=cycle, step=step, direction=direction, constant_current=constant,
                      capacity_unit=capacity_unit, current_unit=found["current"].unit, columns=columns, notes=notes,
                      header=[text for _, text in header], row=row, _lines=lines)


def _steps(raw: dict, found: dict, top: float) -> tuple[np.ndarray, np.ndarray, str, bool]:
    """(step of each sample from 0, direction of each sample +1/-1/0, how the steps were
    found, whether the first sample joined the first step): module docstring. `top` is
    the largest |I|."""
    current = raw["current"]
    sign = np.where(np.abs(current) > REST_FRACTION * top, np.sign(current), 0.0)
    splitters = [key for key in ("step", "half_cycle", "mode") if key in raw]
    keys = splitters + (["cycle"] if "cycle" in raw else [])
    change = np.zeros(current.size - 1, dtype=bool)
    for key in keys:
        change |= np.diff(raw[key]) != 0
    if splitters:  # and where the current reverses (EC-Lab's mode is 1 on charge and on discharge)
        last = np.maximum.accumulate(np.where(sign != 0, np.arange(sign.size), 0))
        held = sign[last]  # the sign of the last non-zero current
        change |= (held[1:] != held[:-1]) & (held[:-1] != 0)
        how = f"changes of {', '.join(found[k].name or k for k in keys)} and reversals of the current"
    else:
        change |= np.diff(sign) != 0
        how = (f"runs of one current sign (|I| <= {REST_FRACTION:g} x max |I| is a rest)"
               + (f" and changes of {found['cycle'].name or 'cycle'}" if "cycle" in raw else ""))
    step = np.concatenate(([0], np.cumsum(change)))
    count = int(step[-1]) + 1
    samples = np.bincount(step, minlength=count)
    summed = np.bincount(step, weights=current, minlength=count)
    mean_abs = np.bincount(step, weights=np.abs(current), minlength=count) / samples
    step_direction = np.where(mean_abs > REST_FRACTION * top, np.sign(summed), 0.0).astype(np.int8)
    joined = bool(count > 1 and samples[0] == 1 and step_direction[0] == 0 and step_direction[1] != 0)
    if joined:  # the initial state, recorded before the current starts, belongs to the first step
        step = np.maximum(step - 1, 0)
        step_direction = step_direction[1:]
    return step, step_direction[step], how, joined


def _derived_cycles(step: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Cycle of each sample when the file has none: 1 at the start, + 1 at each charge
    step that follows a discharge step (rests in between ignored)."""
    first = np.flatnonzero(np.concatenate(([True], np.diff(step) != 0)))  # first sample of each step
    step_direction = direction[first]
    nonzero = np.flatnonzero(step_direction)
    starts = nonzero[1:][(step_direction[nonzero[1:]] > 0) & (step_direction[nonzero[:-1]] < 0)]
    new = np.zeros(first.size, dtype=np.int64)
    new[starts] = 1
    return (1 + np.cumsum(new))[step]


def _net_charge(path: Path, raw: dict, found: dict, direction: np.ndarray) -> tuple[np.ndarray, str, str]:
    """(net charge since the first sample, its unit, how it was found): module docstring."""
    if "capacity" in raw:
        values, unit, how = raw["capacity"], found["capacity"].unit, found["capacity"].how
        if _is_counter(values, direction):
            return (np.cumsum(direction * _counter_increments(np.abs(values))), unit,
                    how + ", a per-step counter: |value| unwrapped at each reset, signed by the step's direction")
        return values - values[0], unit, how + ", net charge (counted from the first sample)"
    if "charge_capacity" in raw and "discharge_capacity" in raw:
        unit = found["charge_capacity"].unit
        if found["discharge_capacity"].unit != unit:
            raise ReadError(f"{path}: the charge and discharge capacity columns have different units "
                            f"({unit}, {found['discharge_capacity'].unit})")
        net = (np.cumsum(_counter_increments(np.abs(raw["charge_capacity"])))
               - np.cumsum(_counter_increments(np.abs(raw["discharge_capacity"]))))
        return net, unit, ("charge minus discharge counters (each unwrapped at its resets): "
                           f"{found['charge_capacity'].how}; {found['discharge_capacity'].how}")
    time, current = raw["time"], raw["current"]
    net = np.concatenate(([0.0], np.cumsum(current[1:] * np.diff(time)) / 3600.0))
    unit = "mAh/g" if found["current"].unit == "mA/g" else "mAh"
    return net, unit, "the current integrated: Q_k = Q_(k-1) + I_k (t_k - t_(k-1))"


def _constant_current(raw: dict, step: np.ndarray, direction: np.ndarray, biologic: bool) -> tuple[np.ndarray, str]:
    """(constant-current samples, how they were found): EC-Lab's mode = 1 when the file
    has it, else |I| within CC_TOLERANCE of its step's 90th percentile of |I|."""
    if biologic and "mode" in raw:
        return ((np.rint(raw["mode"]) == 1) & (direction != 0),
                "mode = 1 (EC-Lab: 1 constant current, 2 constant voltage, 3 rest)")
    magnitude = np.abs(raw["current"])
    reference = _step_percentile(magnitude, step, 0.9)[step]
    return ((direction != 0) & (magnitude >= (1.0 - CC_TOLERANCE) * reference),
            f"|I| within {100 * CC_TOLERANCE:g} % of its step's 90th percentile of |I|")


def _where_rows(path: Path, lines: tuple | None, rows: np.ndarray) -> str:
    """"line 12" / "lines 12-14, 20" (text) or "records ..." (binary) of data rows."""
    from chemomech.io.readers import line_ranges

    rows = np.asarray(rows, dtype=int)
    if lines is None:
        numbers, word = rows + 1, "record"
    else:
        numbers, word = _line_numbers(path, *lines, rows), "line"
    return f"{word}{'s' if rows.size > 1 else ''} {line_ranges(np.sort(numbers))}"


def _step_percentile(values: np.ndarray, step: np.ndarray, q: float) -> np.ndarray:
    """The q-quantile (nearest rank below) of `values` within each step."""
    order = np.lexsort((values, step))
    counts = np.bincount(step)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return values[order][starts + np.floor(q * (counts - 1)).astype(int)]


def _is_counter(values: np.ndarray, direction: np.ndarray) -> bool:
    """True when a capacity column is a per-step counter, not a net charge: it counts up
    over consecutive discharge samples, or its magnitude falls below COUNTER_RESET of the
    previous sample's where a charge or discharge branch starts (a reset; a net charge is
    continuous there)."""
    step_up = np.diff(values)
    discharge = (direction[1:] < 0) & (direction[:-1] < 0)
    if discharge.any() and step_up[discharge].sum() > 0:
        return True
    magnitude = np.abs(values)
    start = (direction[1:] != direction[:-1]) & (direction[1:] != 0)
    large = magnitude[:-1] > 1e-3 * magnitude.max()
    return bool(np.any(start & large & (magnitude[1:] < COUNTER_RESET * magnitude[:-1])))


def _counter_increments(values: np.ndarray) -> np.ndarray:
    """Increments of a counter that resets to 0: a_k - a_(k-1), or a_k where it fell below
    COUNTER_RESET x a_(k-1) (reset, then counted up to a_k); 0 for the first sample."""
    increments = np.diff(values, prepend=values[0])
    reset = np.concatenate(([False], values[1:] < COUNTER_RESET * values[:-1]))
    increments[reset] = values[reset]
    return increments


# ---- mass --------------------------------------------------------------------------------

_MASS_VALUE = re.compile(r"[:=]\s*(?P<value>[-+]?\d+(?:[.,]\d*)?(?:[eE][-+]?\d+)?)\s*(?P<unit>[a-zA-Zµ]+)?(?![\w/])")
_MASS_UNIT_IN_LABEL = re.compile(r"(?:\b|_)(?P<unit>mg|g|ug|µg|kg)\b", re.IGNORECASE)
_TO_GRAM = {"kg": 1e3, "g": 1.0, "mg": 1e-3, "ug": 1e-6, "µg": 1e-6}


def _mass_from_header(path: Path, header: list[tuple[int, str]],
                      biologic: bool) -> tuple[float | None, str | None, str | None]:
    """(mass [g], "line N: text", note) from header lines stating a mass with a unit
    ("Mass of active material : 12.300 mg", "Characteristic mass : 0.012 g",
    "# active mass = 12.3 mg", "mass_mg: 12.3"). EC-Lab's placeholder 0.001 is no mass;
    two different masses give none (the note says which lines)."""
    stated, placeholders = [], []
    for number, text in header:
        at = text.lower().find("mass")
        match = _MASS_VALUE.search(text, at) if at >= 0 else None
        if not match:
            continue
        unit = (match.group("unit") or "").lower()
        if not unit:  # "mass [mg] : 12.3", "mass_mg = 12.3"
            in_label = _MASS_UNIT_IN_LABEL.search(text, at, match.start())
            unit = in_label.group("unit").lower() if in_label else ""
        if unit not in _TO_GRAM:
            continue
        value = float(match.group("value").replace(",", "."))
        if biologic and value == ECLAB_PLACEHOLDER_MASS:
            placeholders.append(number)
            continue
        if not value > 0:
            raise ReadError(f"{path}, line {number}: mass {value:g} {unit} must be > 0")
        stated.append((value * _TO_GRAM[unit], number, text.strip()))
    note = (f"line{'s' if len(placeholders) > 1 else ''} {', '.join(map(str, placeholders))}: EC-Lab's "
            f"placeholder mass 0.001 (no mass entered), not taken") if placeholders else None
    if not stated:
        return None, None, note
    masses = {round(mass, 12) for mass, _, _ in stated}
    if len(masses) > 1:
        listed = "; ".join(f"line {number}: {text!r}" for _, number, text in stated)
        return None, None, f"the header states different masses ({listed}); none is taken"
    mass, number, text = stated[0]
    return mass, f"line {number}: {text!r}", note


def _with_mass(data: CyclerData, mass_mg: float | None) -> CyclerData:
    """`mass_mg` [mg], when given, replaces the file's mass (a note keeps the file's)."""
    if mass_mg is None:
        return data
    mass_mg = _check_mass_mg(mass_mg)
    if data.mass_g is not None and abs(data.mass_g * 1e3 - mass_mg) > 1e-9 * mass_mg:
        data.notes.append(f"the file states {data.mass_g * 1e3:g} mg ({data.mass_source}); the given "
                          f"{mass_mg:g} mg is used")
    data.mass_g, data.mass_source = mass_mg * 1e-3, "given (mass_mg / --cycler-mass-mg)"
    return data


def _check_mass_mg(mass_mg) -> float:
    try:
        value = float(mass_mg)
    except (TypeError, ValueError):
        raise ConfigError(f"--cycler-mass-mg {mass_mg!r}: expected a number of mg") from None
    if not (np.isfinite(value) and value > 0):
        raise ConfigError(f"--cycler-mass-mg {mass_mg!r}: must be a finite number > 0 (mg)")
    return value


def specific_capacity(data: CyclerData, mass_mg: float | None = None) -> tuple[np.ndarray, float | None, str]:
    """The net charge per mass of active material [mAh/g], Q / m: (values, mass [g] or
    None when the file is already per gram, where the mass comes from). `mass_mg` wins
    over the file's mass. Without a mass, a one-line ConfigError asks for one."""
    if data.capacity_unit == "mAh/g":
        return data.capacity, None, "the file's capacity is per gram"
    if mass_mg is not None:
        mass_g, origin = _check_mass_mg(mass_mg) * 1e-3, "given (mass_mg / --cycler-mass-mg)"
    elif data.mass_g is not None:
        mass_g, origin = data.mass_g, data.mass_source or "the file"
    else:
        about = [note for note in data.notes if "mass" in note]
        why = f" ({about[0]})" if about else ""
        raise ConfigError(f"{data.path}: capacities are in mAh and the file states no mass of active material{why}; "
                          f"cannot normalise to mAh/g: give --cycler-mass-mg M")
    return data.capacity / mass_g, mass_g, origin


# ---- branches and cycles ---------------------------------------------------------------

def cycler_branches(data: CyclerData, mass_mg: float | None = None, constant_current_only: bool = False) -> list[dict]:
    """Charge and discharge branches of each cycle of a cycler file, as
    analysis.curves.voltage_capacity_curves cuts a run (same code):
        charge:  q = Q(t) - Q_start,   discharge:  q = Q_start - Q(t)   [mAh/g],
    Q_start the net charge just before the branch's first sample; a sample belongs to the
    branch of its step's direction (a CV hold stays in the charge branch), rests are left
    out. `constant_current_only` keeps only the constant-current samples (for dQ/dV).
    Returns [{"cycle": n, "charge": (q, v) or None, "discharge": (q, v) or None}]."""
    import xarray as xr

    from chemomech.analysis.curves import voltage_capacity_curves

    q, _, _ = specific_capacity(data, mass_mg)
    series = xr.Dataset({"capacity": ("time", q), "voltage": ("time", data.voltage),
                         "current_density": ("time", data.direction.astype(float)),
                         "step_index": ("time", data.step), "cycle_index": ("time", data.cycle)})
    samples = np.flatnonzero(data.constant_current) if constant_current_only else None
    curves = voltage_capacity_curves(series, samples=samples)
    return [c for c in curves if c["charge"] is not None or c["discharge"] is not None]


def cycler_cycles(data: CyclerData, mass_mg: float | None = None) -> list[dict]:
    """Charge and discharge capacity [mAh/g] and coulombic efficiency of each cycle that
    has a charge or a discharge: the increments of the net charge Q_k - Q_(k-1) summed over
    the samples of charge steps (discharge: minus over discharge steps), as a run counts
    its per-cycle capacities; CE = discharge / charge (None without a charge)."""
    q, _, _ = specific_capacity(data, mass_mg)
    increment = np.diff(q, prepend=q[0])
    cycles, index = np.unique(data.cycle, return_inverse=True)
    charge = np.bincount(index, weights=np.where(data.direction > 0, increment, 0.0), minlength=cycles.size)
    discharge = -np.bincount(index, weights=np.where(data.direction < 0, increment, 0.0), minlength=cycles.size)
    active = np.bincount(index, weights=(data.direction != 0).astype(float), minlength=cycles.size) > 0
    table = []
    for n, c, d, a in zip(cycles, charge, discharge, active):
        if a:
            table.append({"cycle": int(n), "charge_capacity": float(c), "discharge_capacity": float(d),
                          "coulombic_efficiency": float(d / c) if c > 0 else None})
    return table
