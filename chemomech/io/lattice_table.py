"""Refined lattice tables: a and c from a sequential Rietveld (or Pawley) refinement
against one axis, read for `chemomech compare RUN --lattice FILE`.

Format read
- A delimited text table (UTF-8): commas, semicolons, tabs or whitespace between the
  columns, the separator being that of the first data line. With tabs or semicolons a
  comma inside a number is a decimal comma ("2,8719").
- Lines starting with '#' (or '!' or '%') are comments, anywhere; blank lines are skipped.
- A data line is one whose cells are more than half numbers (a label column such as the
  pattern's file name is allowed and ignored); the lines before the first data line are
  header lines. The header row is the last non-comment header line or, when there is
  none, the last comment line before the data if it names as many columns as the data
  has ("# Q(mAh/g)  a(A)  c(A)"). Without a header row the columns must be given with
  `columns` ("--lattice-columns").
- Columns used: one axis and a, c; optionally the esd of a and of c and the cell volume.
  Other columns (labels, Rwp, phase fractions, ...) are ignored.

Project units of the returned table
    charge passed   mAh/g           time       h
    state of charge fraction 0-1    voltage    V
    a, c, a_err, c_err  Angstrom    volume     Angstrom^3

Columns from the header (case-insensitive). Each header cell is read as a name and a unit:
"name (unit)", "name [unit]", "name/unit" or "name_unit" ("a (A)", "a/Å", "a_angstrom",
"c_A", "t/h", "Ewe/V", "capacity_mAh_g"). The words "lattice", "parameter", "cell",
"unit" and "refined" are left out of names ("lattice a" is a, "cell volume" is volume).
    charge   q, charge, capacity, specific capacity, charge passed, mAh/g   [mAh/g; Ah/kg]
    time     t, time, elapsed time, test time                  [h; min, s converted]
    soc      soc, state of charge                              [fraction; % or pct converted]
    voltage  e, ewe, ecell, voltage, potential, u; v with a unit of volts  [V; mV converted]
    a, c     a, a axis; c, c axis                              [Angstrom; nm converted]
    a_err, c_err  a or c with err, error, esd, sigma, σ, std, su or uncertainty
                  ("a_esd", "sigma_a", "esd(a)", "a err (A)")   [Angstrom; nm converted]
    volume   v, volume, vol                                    [Angstrom^3; nm^3 converted]
A column "x" is not an axis: in this package x is the Li content of Li_xMO2, and tables
use the letter for the Li removed as well; give such a column as soc (fraction removed)
with --lattice-columns, after converting a Li content x to its SoC. A bare "V" is the cell volume;
"V (V)" or "V/V" a voltage. When several axis columns are present the axis is the first
of charge, soc, time, voltage (the others are ignored; LatticeTable.notes says so).
Without a unit: charge mAh/g, time h, voltage V, a, c Angstrom, volume Angstrom^3, SoC a
fraction unless a value exceeds 1.5 (then %, with a warning); a and c are taken as nm
(and converted, with a warning) only when every a < 1 and every c < 2.

Checks (each a one-line ReadError naming the file and line, or the column, and what is
allowed): a must lie within 2-4 Angstrom, c within 10-20 Angstrom, the volume within
30-300 Angstrom^3, esds must be >= 0. Rows with NaN or inf in a used column are dropped
with one warning naming their lines.

The numbers are parsed in blocks of readers.BLOCK_CHARS characters by pandas' C parser,
only the used columns, so memory stays within a few times the returned arrays.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas

from chemomech.errors import ReadError
from chemomech.io.atomic import write_file_atomic
from chemomech.io.readers import _COMMENT_STARTS, BLOCK_CHARS, _check_text, _open_text, line_ranges

AXES = ("charge", "soc", "time", "voltage")  # in the order of preference when several are present
AXIS_UNITS = {"charge": "mAh/g", "time": "h", "soc": "1", "voltage": "V"}
AXIS_LABELS = {"charge": "charge passed (mAh/g)", "time": "time (h)",
               "soc": "state of charge (fraction)", "voltage": "voltage (V)"}
LATTICE_KEYS = ("a", "c", "a_err", "c_err", "volume")
KEYS = ("charge", "time", "soc", "voltage") + LATTICE_KEYS  # the keys of a column map
KEY_UNITS = {**AXIS_UNITS, "a": "Angstrom", "c": "Angstrom", "a_err": "Angstrom", "c_err": "Angstrom",
             "volume": "Angstrom^3"}
A_RANGE_A = (2.0, 4.0)  # Angstrom, plausible hexagonal a of layered oxides
C_RANGE_A = (10.0, 20.0)  # Angstrom, plausible hexagonal c (three layers)
VOLUME_RANGE_A3 = (30.0, 300.0)  # Angstrom^3, sqrt(3)/2 a^2 c over the ranges above
MIN_ROWS = 2  # finite rows a table needs
COLUMN_MAP_EXAMPLE = "'charge=0,a=2,c=4'"


@dataclass
class LatticeTable:
    """A refined lattice table in project units: `axis` ("charge" [mAh/g], "time" [h],
    "soc" [fraction] or "voltage" [V]) and its values `axis_values`; a, c [Angstrom]; the
    esds a_err, c_err [Angstrom] and the cell volume [Angstrom^3] when the file has them
    (else None); `lines`, the file line of each row; `columns`, the 0-based column index of
    each key; `found`, how each column was found ("header 'a (A)'" or "--lattice-columns");
    `notes`, the unit conversions and assumptions made; `path`, the file read."""

    axis: str
    axis_values: np.ndarray
    a: np.ndarray
    c: np.ndarray
    a_err: np.ndarray | None
    c_err: np.ndarray | None
    volume: np.ndarray | None
    lines: np.ndarray
    columns: dict[str, int]
    found: dict[str, str]
    notes: list[str] = field(default_factory=list)
    path: str = ""

    @property
    def axis_unit(self) -> str:
        return AXIS_UNITS[self.axis]


# ---- column maps ---------------------------------------------------------------------------

def parse_column_map(text: str) -> dict[str, int]:
    """A column map "charge=0,a=2,c=4" as {key: 0-based column index}. Keys: charge, time,
    soc, voltage (exactly one of them, the axis), a and c (both needed), a_err, c_err,
    volume. Any mistake is a ReadError of one line saying what is allowed."""
    allowed = ", ".join(KEYS)
    given = f"--lattice-columns {text!r}"
    items = [item.strip() for item in str(text).split(",") if item.strip()]
    if not items:
        raise ReadError(f"{given}: give key=index pairs separated by commas, e.g. {COLUMN_MAP_EXAMPLE}")
    mapping: dict[str, int] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep:
            raise ReadError(f"{given}: {item!r} is not key=index; e.g. {COLUMN_MAP_EXAMPLE}")
        if key not in KEYS:
            raise ReadError(f"{given}: unknown key {key!r}; allowed: {allowed}")
        if key in mapping:
            raise ReadError(f"{given}: {key} is given twice")
        if not re.fullmatch(r"\d+", value):
            raise ReadError(f"{given}: {key}={value!r} must be a 0-based column index (0, 1, 2, ...)")
        mapping[key] = int(value)
    axes = [key for key in mapping if key in AXIS_UNITS]
    if len(axes) != 1:
        raise ReadError(f"{given}: give exactly one axis (charge, time, soc or voltage); "
                        f"found {' and '.join(axes) if axes else 'none'}")
    missing = [key for key in ("a", "c") if key not in mapping]
    if missing:
        raise ReadError(f"{given}: {' and '.join(missing)} missing; a and c are needed")
    by_index: dict[int, str] = {}
    for key, index in mapping.items():
        if index in by_index:
            raise ReadError(f"{given}: {by_index[index]} and {key} both name column {index}")
        by_index[index] = key
    return mapping


# ---- header names --------------------------------------------------------------------------

_NAMES = {
    "charge": {"q", "charge", "capacity", "specific capacity", "specific charge", "charge passed", "cap"},
    "time": {"t", "time", "elapsed time", "time elapsed", "test time", "total time", "elapsed"},
    "soc": {"soc", "state of charge"},
    "voltage": {"e", "ewe", "ecell", "e cell", "voltage", "potential", "u"},
    "a": {"a", "a axis"},
    "c": {"c", "c axis"},
    "volume": {"v", "volume", "vol"},
}
_FILLER_WORDS = {"lattice", "parameter", "parameters", "param", "cell", "unit", "refined"}
_ERROR_WORDS = {"err", "error", "errors", "esd", "esds", "sigma", "σ", "std", "stdev", "sd", "su",
                "uncertainty", "unc"}
# name tokens that are units ("a_angstrom", "capacity_mAh_g", "time_h")
_UNIT_TOKENS = {"a", "å", "ang", "angstrom", "angstroms", "nm", "a3", "å3", "ang3", "nm3", "mah", "g", "ah", "kg",
                "h", "hr", "hrs", "min", "s", "sec", "v", "mv", "pct", "percent", "%"}
# whitespace-separated header words that belong to the next word ("lattice a", "state of charge")
_JOINING_WORDS = {"lattice", "cell", "unit", "specific", "state", "of", "elapsed", "test", "total", "refined"}
_UNIT_IN_BRACKETS = re.compile(r"^(?P<before>[^(\[]*?)\s*[(\[](?P<unit>[^)\]]*)[)\]]\s*(?P<after>.*)$")


def _read_header_cell(cell: str) -> tuple[str, str | None, bool]:
    """A header cell as (name, unit or None, whether it is an esd column):
    "a (A)" -> ("a", "a", False), "Ewe/V" -> ("ewe", "v", False),
    "capacity_mAh_g" -> ("capacity", "mah/g", False), "SoC (%)" -> ("soc", "%", False),
    "a_esd" -> ("a", None, True), "esd(a)" -> ("a", None, True)."""
    text = cell.strip().strip("\"'").strip().lower()
    if re.fullmatch(r"mah\s*(/\s*g|g\^?-1|\s+g\^?-1)", text):
        return "charge", "mah/g", False
    unit = None
    match = _UNIT_IN_BRACKETS.match(text)
    if match:
        text, unit = f"{match.group('before')} {match.group('after')}", match.group("unit").strip()
    elif "/" in text:
        text, unit = (part.strip() for part in text.split("/", 1))
    words = [word for word in re.split(r"[^0-9a-zåσ%^³]+", text.replace("%", " % ")) if word]
    words = [word for word in words if word not in _FILLER_WORDS]
    error = any(word in _ERROR_WORDS for word in words) or unit in _ERROR_WORDS  # "a_esd", "a (esd)"
    words = [word for word in words if word not in _ERROR_WORDS]
    if unit in _ERROR_WORDS:
        unit = None
    if not words and unit in ("a", "c"):  # "esd(a)"
        words, unit = [unit], None
    if unit is None:  # units written as the last words: "a_angstrom", "capacity_mAh_g", "time_h"
        tail = []
        while len(words) > 1 and words[-1] in _UNIT_TOKENS:
            tail.insert(0, words.pop())
        unit = "/".join(tail) or None
    return " ".join(words), unit, error


def _key_of(cell: str) -> tuple[str | None, str | None]:
    """The key a header cell names (one of KEYS, or None) and its unit (or None)."""
    name, unit, error = _read_header_cell(cell)
    if error:
        return {"a": "a_err", "c": "c_err"}.get(name), unit
    if name == "v" and unit is not None and _voltage_scale(unit) is not None:
        return "voltage", unit
    for key, names in _NAMES.items():
        if name in names:
            return key, unit
    return None, unit


# ---- units -----------------------------------------------------------------------------

def _compact(unit: str | None) -> str:
    """A unit without spaces, brackets, dots and stars, lower case ("mAh g-1" -> "mahg-1")."""
    return re.sub(r"[\s()\[\]{}.*·]", "", (unit or "").lower())


def _voltage_scale(unit: str) -> float | None:
    u = _compact(unit)
    if u == "v" or u.startswith("vvs"):
        return 1.0
    if u == "mv" or u.startswith("mvvs"):
        return 1e-3
    return None


_LENGTH_UNITS = {"": 1.0, "a": 1.0, "å": 1.0, "ang": 1.0, "angstrom": 1.0, "angstroms": 1.0, "ångström": 1.0,
                 "nm": 10.0}
_VOLUME_UNITS = {"": 1.0, "a3": 1.0, "å3": 1.0, "a^3": 1.0, "å^3": 1.0, "a³": 1.0, "å³": 1.0, "ang3": 1.0,
                 "ang^3": 1.0, "angstrom3": 1.0, "angstrom^3": 1.0, "nm3": 1000.0, "nm^3": 1000.0, "nm³": 1000.0}
_CHARGE_UNITS = {"": 1.0, "mah/g": 1.0, "mahg-1": 1.0, "mahg^-1": 1.0, "mahg⁻¹": 1.0, "ah/kg": 1.0, "ahkg-1": 1.0,
                 "ahkg^-1": 1.0}
_TIME_UNITS = {"": 1.0, "h": 1.0, "hr": 1.0, "hrs": 1.0, "hour": 1.0, "hours": 1.0,
               "min": 1 / 60, "mins": 1 / 60, "minute": 1 / 60, "minutes": 1 / 60,
               "s": 1 / 3600, "sec": 1 / 3600, "secs": 1 / 3600, "second": 1 / 3600, "seconds": 1 / 3600}
_SOC_UNITS = {"": 1.0, "1": 1.0, "-": 1.0, "fraction": 1.0, "frac": 1.0, "%": 0.01, "pct": 0.01, "percent": 0.01}
_ALLOWED_UNITS = {
    "charge": "mAh/g (or Ah/kg)", "time": "h, min or s", "soc": "a fraction or %", "voltage": "V or mV",
    "a": "A, Å, Angstrom or nm", "c": "A, Å, Angstrom or nm", "a_err": "A, Å, Angstrom or nm",
    "c_err": "A, Å, Angstrom or nm", "volume": "A^3, Å^3 or nm^3",
}


def _scale_of(key: str, unit: str | None, path: Path, where: str) -> float:
    """Factor from the column's unit to the project unit of `key`; a ReadError naming the
    column when the unit is not one allowed for it."""
    u = _compact(unit)
    if key == "voltage":
        scale = 1.0 if not u else _voltage_scale(u)
    else:
        table = {"charge": _CHARGE_UNITS, "time": _TIME_UNITS, "soc": _SOC_UNITS, "volume": _VOLUME_UNITS}.get(
            key, _LENGTH_UNITS)
        scale = table.get(u)
    if scale is None:
        hint = " (a charge must be specific, per gram of active material)" if key == "charge" and u in (
            "mah", "ah", "c") else ""
        raise ReadError(f"{path}: {where}: unit {unit!r} is not one allowed for {key.replace('_', ' ')} "
                        f"({_ALLOWED_UNITS[key]}){hint}; or give the columns with --lattice-columns")
    return scale


# ---- reading -------------------------------------------------------------------------------

def _separator(line: str) -> str:
    """The separator of a data line: tab, semicolon, comma, else whitespace (" ")."""
    for candidate in ("\t", ";", ","):
        if candidate in line:
            return candidate
    return " "


def _cells(line: str, separator: str) -> list[str]:
    if separator == " ":
        return line.split()
    return [cell.strip().strip("\"'") for cell in line.split(separator)]


def _is_number(cell: str, decimal_comma: bool) -> bool:
    try:
        float(cell.replace(",", ".") if decimal_comma else cell)
    except ValueError:
        return False
    return True


def _is_data_line(line: str) -> bool:
    """More than half of the line's non-empty cells are numbers."""
    separator = _separator(line)
    cells = [cell for cell in _cells(line, separator) if cell]
    numbers = sum(_is_number(cell, separator in "\t;") for cell in cells)
    return 2 * numbers > len(cells)


def _header_cells(line: str, separator: str) -> list[str]:
    """The cells of a header row, split like the data; with whitespace separation the
    words of one name are joined back: "a (A)", "t / h", "lattice a", "state of charge"."""
    if separator != " ":
        return _cells(line, separator)
    merged: list[str] = []
    for word in line.split():
        if merged and (word[0] in "([/" or merged[-1].endswith("/") or
                       merged[-1].split()[-1].lower() in _JOINING_WORDS):
            merged[-1] += " " + word
        else:
            merged.append(word)
    return merged


@dataclass
class _Layout:
    """What the lines before the data say: the separator, whether commas are decimal
    commas, the column count of the first data line, the header row (line, cells) if any,
    and the first data line (number, text)."""

    separator: str
    decimal_comma: bool
    width: int
    header_line: int | None
    header: list[str] | None
    first: tuple[int, str]


def _read_layout(path: Path, handle) -> _Layout:
    """Read up to and including the first data line (module docstring)."""
    texts, comments = [], []  # (line number, text) of the header lines
    number = 0
    for line in iter(handle.readline, ""):
        number += 1
        _check_text(path, line)
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith(_COMMENT_STARTS):
            comments.append((number, stripped))
            continue
        if not _is_data_line(stripped):
            texts.append((number, stripped))
            comments.clear()  # a comment counts as the header only after the last text line
            continue
        separator = _separator(stripped)
        width = len(_cells(stripped, separator))
        header_line, header = None, None
        if texts:
            header_line, text = texts[-1]
            header = _header_cells(text, separator)
        elif comments:
            candidate_line, text = comments[-1]
            cells = _header_cells(text.lstrip("".join(_COMMENT_STARTS)).strip(), separator)
            if separator != " " and len(cells) != width:
                cells = _header_cells(text.lstrip("".join(_COMMENT_STARTS)).strip(), " ")
            if len(cells) == width:
                header_line, header = candidate_line, cells
        return _Layout(separator, separator in "\t;" and "," in stripped, width, header_line, header, (number, line))
    if number == 0 or not (texts or comments):
        raise ReadError(f"{path}: the file is empty; expected a table of lattice parameters "
                        "(an axis column, a and c)")
    raise ReadError(f"{path}: no data lines (rows of numbers) in its {number} lines; expected a table of "
                    "lattice parameters (an axis column, a and c)")


def _columns_from_header(path: Path, layout: _Layout) -> tuple[dict[str, int], dict[str, str], dict[str, str | None]]:
    """{key: column}, {key: how found}, {key: unit} from the header row (module docstring)."""
    if layout.header is None:
        raise ReadError(f"{path}: no header row naming the columns; give them with --lattice-columns, "
                        f"e.g. {COLUMN_MAP_EXAMPLE} (0-based column indices)")
    if len(layout.header) != layout.width:
        raise ReadError(f"{path}, line {layout.header_line}: the header row names {len(layout.header)} columns, "
                        f"the data lines have {layout.width}; separate the names like the numbers "
                        "(commas or tabs), or give the columns with --lattice-columns")
    candidates: dict[str, list[tuple[int, str | None]]] = {}
    for index, cell in enumerate(layout.header):
        key, unit = _key_of(cell)
        if key is not None:
            candidates.setdefault(key, []).append((index, unit))
    seen = ", ".join(repr(cell) for cell in layout.header)
    axes = [key for key in AXES if key in candidates]
    if not axes:
        raise ReadError(f"{path}, line {layout.header_line}: no axis column found among the headers {seen} "
                        "(charge [mAh/g], time [h], SoC or voltage [V]); give the columns with --lattice-columns, "
                        f"e.g. {COLUMN_MAP_EXAMPLE}")
    for key in ("a", "c"):
        if key not in candidates:
            raise ReadError(f"{path}, line {layout.header_line}: no column for {key} among the headers {seen}; "
                            f"name it {key!r}, '{key} (A)' or the like, or give the columns with --lattice-columns")
    used = [axes[0]] + [key for key in LATTICE_KEYS if key in candidates]
    columns, found, units = {}, {}, {}
    for key in used:
        if len(candidates[key]) > 1:
            names = " and ".join(f"{index} {layout.header[index]!r}" for index, _ in candidates[key])
            raise ReadError(f"{path}, line {layout.header_line}: columns {names} both read as "
                            f"{key.replace('_', ' ')}; give the columns with --lattice-columns, "
                            f"e.g. {COLUMN_MAP_EXAMPLE}")
        index, unit = candidates[key][0]
        columns[key], found[key], units[key] = index, f"header {layout.header[index]!r}", unit
    return columns, found, units


def _read_rows(path: Path, handle, layout: _Layout, usecols: list[int], header: list[str] | None):
    """The used columns of every data line from the first one on, as a float array
    (rows, len(usecols)) in the order of usecols, and the line number of each row. Read in
    blocks of BLOCK_CHARS characters (whole lines), each parsed by pandas' C parser."""
    number, text = layout.first
    blocks, numbers = [], []
    separator = r"\s+" if layout.separator == " " else layout.separator
    while True:
        text += handle.read(BLOCK_CHARS)
        if not text:
            break
        text += handle.readline()  # end the block at the end of a line
        _check_text(path, text)
        data, lines = [], []
        for offset, line in enumerate(text.split("\n")):
            stripped = line.strip()
            if not stripped or stripped.startswith(_COMMENT_STARTS):
                continue
            count = len(_cells(stripped, layout.separator))
            if count != layout.width:
                raise ReadError(f"{path}, line {number + offset}: {count} columns, expected {layout.width} like "
                                f"the first data line (line {layout.first[0]})")
            data.append(stripped)
            lines.append(number + offset)
        number += text.count("\n") + (not text.endswith("\n"))
        if data:
            try:
                values = pandas.read_csv(io.StringIO("\n".join(data)), sep=separator, header=None, usecols=usecols,
                                         dtype=float, engine="c", decimal="," if layout.decimal_comma else ".",
                                         skipinitialspace=layout.separator != " ").to_numpy()
            except ValueError as exc:  # a cell that is not a number: find and name it
                _raise_bad_cell(path, data, lines, layout, usecols, header)
                raise ReadError(f"{path}: lines {lines[0]}-{lines[-1]}: columns {usecols} cannot be read as "
                                f"numbers ({str(exc).splitlines()[0]})") from None
            order = np.argsort(np.argsort(usecols))  # pandas returns the columns in file order
            blocks.append(values[:, order])
            numbers.append(np.asarray(lines, dtype=int))
        del data, lines
        text = ""
    if not blocks:
        return np.empty((0, len(usecols))), np.empty(0, int)
    return np.concatenate(blocks), np.concatenate(numbers)


def _raise_bad_cell(path: Path, data: list[str], lines: list[int], layout: _Layout, usecols: list[int],
                    header: list[str] | None) -> None:
    """Raise the ReadError naming the first used cell of `data` that is not a number."""
    for line, number in zip(data, lines):
        cells = _cells(line, layout.separator)
        for index in usecols:
            cell = cells[index]
            if cell and not _is_number(cell, layout.decimal_comma) and cell.lower() not in ("nan", "inf", "-inf"):
                name = f" ({header[index]!r})" if header and index < len(header) else ""
                raise ReadError(f"{path}, line {number}, column {index}{name}: {cell[:40]!r} is not a number")


def read_lattice_table(path: str | Path, columns: str | None = None) -> LatticeTable:
    """Read a refined lattice table (module docstring: layouts, header names, units,
    checks). `columns`, a column map "charge=0,a=2,c=4" (parse_column_map), names the
    columns instead of the header; its values are then in the project units (charge
    mAh/g, time h, SoC fraction or %, voltage V, a and c Angstrom, volume Angstrom^3).
    Returns a LatticeTable in project units; every malformed input is a one-line
    ReadError naming the file and the line or column."""
    path = Path(path)
    if path.is_dir():
        raise ReadError(f"{path}: is a directory; give the lattice table file (CSV, TSV or whitespace columns)")
    mapping = parse_column_map(columns) if columns is not None else None
    with _open_text(path) as handle:
        try:
            layout = _read_layout(path, handle)
            if layout.width < 3:
                plural = "s" if layout.width > 1 else ""
                raise ReadError(f"{path}, line {layout.first[0]}: {layout.width} column{plural}; "
                                "a lattice table needs at least an axis column and a and c (is this a powder pattern?)")
            if mapping is not None:
                beyond = [f"{key}={index}" for key, index in mapping.items() if index >= layout.width]
                if beyond:
                    raise ReadError(f"{path}: --lattice-columns {', '.join(beyond)}: the file has {layout.width} "
                                    f"columns (0-{layout.width - 1}, counted on line {layout.first[0]})")
                found = {key: "--lattice-columns" for key in mapping}
                units: dict[str, str | None] = {key: None for key in mapping}
                column_of = dict(mapping)
            else:
                column_of, found, units = _columns_from_header(path, layout)
            header = layout.header if layout.header is not None and len(layout.header) == layout.width else None
            keys = list(column_of)
            values, lines = _read_rows(path, handle, layout, [column_of[key] for key in keys], header)
        except OSError as exc:
            raise ReadError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    where = {key: f"column {column_of[key]}" + (f" {header[column_of[key]]!r}" if header else "") for key in keys}
    data = {key: values[:, i] for i, key in enumerate(keys)}
    axis = next(key for key in keys if key in AXIS_UNITS)
    notes = []
    if mapping is None:
        others = [key for key in AXES if key != axis and any(_key_of(cell)[0] == key for cell in layout.header)]
        if others:
            notes.append(f"also present, not used as the axis: {', '.join(others)} (the axis is the first of "
                         f"{', '.join(AXES)})")

    # rows with NaN/inf in a used column
    finite = np.isfinite(values).all(axis=1)
    if not finite.all():
        dropped = lines[~finite]
        where_dropped = f"line{'s' if dropped.size > 1 else ''} {line_ranges(dropped)}"
        if finite.sum() < MIN_ROWS:
            raise ReadError(f"{path}: {int(finite.sum())} of {finite.size} rows are finite ({where_dropped} hold "
                            f"NaN/inf or empty cells); a lattice table needs at least {MIN_ROWS}")
        warnings.warn(f"{path}: {dropped.size} row{'s' if dropped.size > 1 else ''} with NaN/inf or empty cells "
                      f"dropped ({where_dropped})", stacklevel=2)
        data = {key: column[finite] for key, column in data.items()}
        lines = lines[finite]
    if lines.size < MIN_ROWS:
        raise ReadError(f"{path}: {lines.size} data row{'s' if lines.size != 1 else ''}; a lattice table needs at "
                        f"least {MIN_ROWS}")

    # units to the project units
    for key in keys:
        scale = _scale_of(key, units[key], path, where[key])
        if key == "soc" and not _compact(units[key]) and np.max(data[key]) > 1.5:
            scale = 0.01
            warnings.warn(f"{path}: {where[key]}: SoC values up to {np.max(data[key]):g} read as % (no unit stated)",
                          stacklevel=2)
            notes.append(f"SoC read as % (values up to {np.max(data[key]):g}, no unit stated) and divided by 100")
        elif scale != 1.0:
            notes.append(f"{key.replace('_', ' ')} in {units[key]} ({where[key]}), converted to {KEY_UNITS[key]}")
        data[key] = data[key] * scale
    stated = [_compact(units[key]) for key in ("a", "c")]
    if not any(stated) and np.max(data["a"]) < 1.0 and np.max(data["c"]) < 2.0:
        for key in ("a", "c", "a_err", "c_err"):
            if key in data:
                data[key] = data[key] * 10.0
        if "volume" in data and not _compact(units["volume"]):
            data["volume"] = data["volume"] * 1000.0
        warnings.warn(f"{path}: every a < 1 and c < 2 with no unit stated: a and c read as nm and converted to "
                      "Angstrom", stacklevel=2)
        notes.append("a and c read as nm (every a < 1, c < 2, no unit stated), converted to Angstrom")

    # plausible ranges
    checks = [("a", A_RANGE_A, "A"), ("c", C_RANGE_A, "A"), ("volume", VOLUME_RANGE_A3, "A^3")]
    for key, (low, high), unit in checks:
        if key not in data:
            continue
        outside = np.flatnonzero((data[key] < low) | (data[key] > high))
        if outside.size:
            i = outside[0]
            raise ReadError(f"{path}, line {lines[i]}: {key} = {data[key][i]:g} {unit} ({where[key]}) is outside "
                            f"{low:g}-{high:g} {unit}; lattice parameters must be in Angstrom (or nm, stated in the "
                            f"header: '{key} (nm)')")
    for key in ("a_err", "c_err"):
        if key in data and np.any(data[key] < 0):
            i = int(np.flatnonzero(data[key] < 0)[0])
            raise ReadError(f"{path}, line {lines[i]}: esd of {key[0]} = {data[key][i]:g} A ({where[key]}) is "
                            "negative; an esd must be >= 0")

    return LatticeTable(axis=axis, axis_values=data[axis], a=data["a"], c=data["c"], a_err=data.get("a_err"),
                        c_err=data.get("c_err"), volume=data.get("volume"), lines=lines, columns=column_of,
                        found=found, notes=notes, path=str(path))


# ---- writing -------------------------------------------------------------------------------

def write_lattice_table(path: str | Path, axis: str, axis_values, a, c, a_err=None, c_err=None, volume=None,
                        comment: str = "") -> Path:
    """Write a lattice table that read_lattice_table reads back exactly: '#' comment
    lines, a header row "charge (mAh/g),a (A),c (A)[,a_err (A),c_err (A),volume (A^3)]"
    and one row per point, numbers with 17 significant digits; values in project units
    (axis: AXIS_UNITS; a, c, esds Angstrom; volume Angstrom^3). Written to a temporary
    name, then renamed."""
    if axis not in AXIS_UNITS:
        raise ValueError(f"axis {axis!r}: one of {', '.join(AXIS_UNITS)}")
    axis_header = {"charge": "charge (mAh/g)", "time": "time (h)", "soc": "SoC (fraction)", "voltage": "voltage (V)"}
    columns = [(axis_header[axis], axis_values), ("a (A)", a), ("c (A)", c)]
    columns += [(name, values) for name, values in (("a_err (A)", a_err), ("c_err (A)", c_err),
                                                   ("volume (A^3)", volume)) if values is not None]
    table = np.column_stack([np.asarray(values, dtype=float) for _, values in columns])
    lines = [f"# {line}" for line in comment.splitlines()]
    lines.append(",".join(name for name, _ in columns))
    buffer = io.StringIO()
    np.savetxt(buffer, table, fmt="%.17g", delimiter=",")
    text = "\n".join(lines) + "\n" + buffer.getvalue()
    return write_file_atomic(path, lambda temporary: temporary.write_text(text))
