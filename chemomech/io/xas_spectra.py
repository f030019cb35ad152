"""Readers for measured X-ray absorption spectra mu(E) (electrode-level XAS, e.g. operando
Ni K-edge scans): one Spectrum per measured mu column or HDF5 row.

Formats (recognised by content, not by suffix):
- Plain text columns: energy and one or several mu columns, separated by spaces, tabs,
  commas or semicolons; '#' comments anywhere ('!' and '%' in the header too); text lines
  before the first data line are header lines. The column names are those of the last
  header line with one name per column ("energy mu", "#  energy  xmu  bkg ...", "E, 4.2V");
  XDI's "# Column.N: name unit" lines name them too. Without names: column 1 is the energy,
  every other column a spectrum.
- Athena exports (.xmu, .nor): '#' header lines, the last one naming the
  columns, e.g. "#  energy  xmu  bkg  pre_edge  post_edge  der  sec  i0" or
  "#  energy norm nbkg flat fbkg nder nsec". Columns Athena derives (bkg, pre_edge,
  post_edge, der, sec, nbkg, fbkg, nder, nsec, ...) are not spectra.
- HDF5: a 1-D energy dataset and a 1-D (one spectrum) or 2-D (spectrum x energy, or
  energy x spectrum) mu dataset, given by path or found by name (module constants).
Which columns are spectra, by name (lower case, units in brackets ignored): those named
like mu/xmu (mu, xmu, mutrans, mu_4.2V, ...); if none, norm (norm, norm_1, ...); if none,
flat; if none and I0 and It are there, mu = ln(I0 / It); if none of these names occurs,
every column not known as something else. A column whose name carries a voltage or SoC
("4.2V", "mu_soc50") labels its spectrum.

Energies: eV, or keV when the column name or HDF5 'units' attribute says keV or, with no
unit stated, when every energy is below 100 (a Ni K-edge scan in eV starts near 8300);
Spectrum.notes says which. Each spectrum: non-finite points dropped (a warning names the
lines), sorted by energy (notes say so), repeated energies averaged (notes).

Labels (the voltage [V] or state of charge [0-1] a spectrum was measured at), first found:
the `labels` argument (one per spectrum: "4.2V", "4.2 V", "50%", "SoC 0.5", or a bare
number: 0-1 a SoC, 2-6 V a voltage), the column name, the file header ("# voltage: 4.2 V",
"# Ewe = 4.2", "# potential 4.2 V", "# SoC: 50 %", "# state of charge = 0.5"), an HDF5
attribute or dataset named voltage/potential/ewe or soc beside the mu dataset, the file name
("scan_4.2V.nor", "NC91_4p20V.xmu", "soc50.dat", "charge_75pct_soc.dat").

Every malformed input raises chemomech.errors.ReadError, one line naming the file and the
line, column or dataset, and what is allowed. Text is parsed in blocks of BLOCK_CHARS
characters (pandas' C parser), so memory stays within a few times the returned arrays.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas

from chemomech.errors import ConfigError, ReadError

BLOCK_CHARS = 1 << 22  # characters of text parsed at once
MAX_HEADER_LINES = 5000  # lines read looking for the first data line
MIN_POINTS = 10  # energies a spectrum needs (pre-edge, edge and post-edge points)
KEV_BELOW = 100.0  # energies all below this, with no unit stated, are keV
ENERGY_RANGE_EV = (100.0, 200_000.0)  # hard X-ray absorption edges lie inside
MAX_SPAN_EV = 5000.0  # an absorption scan (XANES or EXAFS) spans less
VOLTAGE_RANGE_V = (0.0, 6.0)  # plausible cell voltages for a label
_SEPARATORS = str.maketrans({",": " ", ";": " ", "\t": " ", "\r": " ", "\x0b": " ", "\x0c": " "})
_COMMENTS = ("#", "!", "%")

# column / dataset names (lower case, units removed)
ENERGY_NAMES = ("energy", "energies", "e", "en", "ene", "energy_ev", "energy_kev", "e_ev", "e_kev", "mono_energy")
MU_PATTERN = re.compile(r"^(x?mu|mutrans|mu_?trans|mu_?t|mufluor|mu_?fluor|absorption|mu_?abs)([_\-.:].*|\d.*)?$")
NORM_PATTERN = re.compile(r"^norm([_\-.:].*|\d.*)?$")
FLAT_PATTERN = re.compile(r"^flat([_\-.:].*|\d.*)?$")
I0_NAMES = ("i0", "io", "i_0", "izero")
IT_NAMES = ("it", "itrans", "i1", "i_t", "i_trans")
# parts of names of curves that are not spectra even when named like one (Athena's bkg_norm,
# der_norm, mu_ref, uncertainties), and names of detector, motor and derived channels
DERIVED_PART = re.compile(r"bkg|der|sec|pre_?edge|post_?edge|ref|err|std|sigma")
NOT_SPECTRA = re.compile(r"^(i0|io|izero|it|itrans|i1|i2|iref|ir|if|ifluor|ff|time|t|angle|theta|th|index|point|"
                         r"k|q|r|chi|window|ev|kev)$|^(sca|icr|ocr)\d*$|" + DERIVED_PART.pattern)
POWDER_NAMES = re.compile(r"(^|\s)(2th_deg|2th_rad|q_nm\^-1|q_a\^-1|2-?theta|two_?theta|tth)(\s|$)", re.IGNORECASE)
_MAGIC = {b"\x89HDF\r\n\x1a\n": "HDF5", b"II*\x00": "a TIFF image", b"MM\x00*": "a TIFF image",
          b"\x89PNG": "a PNG image", b"\x1f\x8b": "a gzip archive", b"PK\x03\x04": "a zip archive",
          b"%PDF": "a PDF document", b"CDF\x01": "a netCDF-3 file", b"CDF\x02": "a netCDF-3 file"}

_NUMBER = r"(\d+(?:[.p]\d+)?|\.\d+)"
_VOLTAGE_TEXT = re.compile(r"(?:voltage|potential|e_?we|u_?cell)\b[^0-9+\-.\n]{0,12}"
                           r"([+-]?\d+(?:\.\d*)?|[+-]?\.\d+)\s*(mv|v)?", re.IGNORECASE)
_SOC_TEXT = re.compile(r"(?:\bsoc|state[ _-]of[ _-]charge)[^0-9+\-.\n]{0,12}(\d+(?:\.\d*)?|\.\d+)\s*(%|pct)?",
                       re.IGNORECASE)
_VOLTAGE_NAME = re.compile(r"(?<![\d.a-z])" + _NUMBER + r"\s*(mv|v)(?![a-z])", re.IGNORECASE)
_SOC_NAME = (re.compile(r"(?<![a-z])soc[_\-=\s]?" + _NUMBER + r"\s*(%|pct)?", re.IGNORECASE),
             re.compile(r"(?<![\d.a-z])" + _NUMBER + r"\s*(%|pct)[_\-\s]?soc", re.IGNORECASE))


@dataclass
class Spectrum:
    """One measured spectrum: energy [eV] (increasing), mu [-] (as measured, any scale),
    its label (a voltage [V] when label_kind == "voltage", a SoC [0-1] when "soc", None
    when unknown) and where the label came from (label_origin), the file (source), the
    column or dataset it came from (column), and what was assumed or changed (notes)."""

    energy: np.ndarray
    mu: np.ndarray
    label: float | None = None
    label_kind: str | None = None
    label_origin: str = ""
    source: str = ""
    column: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """File name and column, e.g. "scan_4.2V.xmu [xmu]"."""
        return f"{Path(self.source).name} [{self.column}]" if self.column else Path(self.source).name


# ---- labels ------------------------------------------------------------------------------

def parse_label(value) -> tuple[float, str]:
    """(value, kind) of a label given by the user: "4.2V", "4.2 V", "4200 mV" -> (4.2,
    "voltage"); "50%", "50 %", "SoC 0.5", "soc=50%" -> (0.5, "soc"); a bare number 0-1 is a
    SoC, 2-6 a voltage [V]. A ConfigError for anything else."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        number = float(value)
        if 0.0 <= number <= 1.0:
            return number, "soc"
        if 2.0 <= number <= VOLTAGE_RANGE_V[1]:
            return number, "voltage"
        raise ConfigError(f"label {number:g}: a bare number must be a SoC (0-1) or a voltage (2-6 V); "
                          "write 4.2V or 50% to say which")
    text = str(value).strip()
    match = re.fullmatch(r"([+-]?\d+(?:\.\d*)?|[+-]?\.\d+)\s*(mv|v)", text, re.IGNORECASE)
    if match:
        voltage = float(match.group(1)) / (1000.0 if match.group(2).lower() == "mv" else 1.0)
        if VOLTAGE_RANGE_V[0] < voltage <= VOLTAGE_RANGE_V[1]:
            return voltage, "voltage"
        raise ConfigError(f"label {text!r}: a voltage must lie in 0-{VOLTAGE_RANGE_V[1]:g} V")
    match = re.fullmatch(r"(?:soc\s*[=:]?\s*)?(\d+(?:\.\d*)?|\.\d+)\s*(%|pct)?(?:\s*soc)?", text, re.IGNORECASE)
    if match and (match.group(2) or "soc" in text.lower()):
        soc = float(match.group(1))
        soc = soc / 100.0 if match.group(2) or soc > 1.0 else soc
        if 0.0 <= soc <= 1.0:
            return soc, "soc"
        raise ConfigError(f"label {text!r}: a SoC must lie in 0-100 %")
    try:
        return parse_label(float(text))
    except ValueError:
        raise ConfigError(f"label {text!r}: expected a voltage (4.2V), a SoC (50% or SoC 0.5) or a bare number") from None


def _label_in_text(text: str, patterns) -> tuple[float, str] | None:
    """A voltage or SoC written in `text` (a header line: (voltage pattern, SoC pattern); a
    file or column name: (name pattern, SoC name patterns)); None if none is plausible."""
    voltage_pattern, soc_patterns = patterns
    for match in voltage_pattern.finditer(text):
        number = float(match.group(1).replace("p", ".").replace("P", "."))
        unit = (match.group(2) or "v").lower()
        voltage = number / 1000.0 if unit == "mv" else number
        if VOLTAGE_RANGE_V[0] < voltage <= VOLTAGE_RANGE_V[1]:
            return voltage, "voltage"
    for pattern in soc_patterns:
        for match in pattern.finditer(text):
            soc = float(match.group(1).replace("p", ".").replace("P", "."))
            soc = soc / 100.0 if match.group(2) or soc > 1.0 else soc
            if 0.0 <= soc <= 1.0:
                return soc, "soc"
    return None


_IN_HEADER = (_VOLTAGE_TEXT, (_SOC_TEXT,))
_IN_NAME = (_VOLTAGE_NAME, _SOC_NAME)


# ---- the public reader -------------------------------------------------------------------

def read_xas_spectra(paths, labels=None, energy_dataset: str | None = None,
                     mu_dataset: str | None = None) -> list[Spectrum]:
    """The spectra of one or several files (module docstring), in file order and column
    order within a file. labels: one per spectrum (parse_label), overriding the labels found
    in the files. energy_dataset, mu_dataset: HDF5 dataset paths (default: found by name)."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    spectra = []
    for path in paths:
        spectra.extend(_read_file(Path(path), energy_dataset, mu_dataset))
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(spectra):
            counts = ", ".join(f"{Path(p).name}: {sum(s.source == str(Path(p)) for s in spectra)}" for p in paths)
            raise ConfigError(f"{len(labels)} labels for {len(spectra)} spectra ({counts}); give one label per spectrum")
        for spectrum, label in zip(spectra, labels):
            spectrum.label, spectrum.label_kind = parse_label(label)
            spectrum.label_origin = "given"
    return spectra


def _read_file(path: Path, energy_dataset, mu_dataset) -> list[Spectrum]:
    if not path.is_file():
        raise ReadError(f"{path}: no such file")
    try:
        with open(path, "rb") as handle:
            start = handle.read(4096)
    except OSError as exc:
        raise ReadError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not start:
        raise ReadError(f"{path}: the file is empty; expected columns of energy and mu, or HDF5")
    kind = next((name for magic, name in _MAGIC.items() if start.startswith(magic)), None)
    if kind == "HDF5":
        return _read_hdf5(path, energy_dataset, mu_dataset)
    if kind is not None or b"\x00" in start:
        hint = " (a TXM-XANES energy stack? give it to --xanes)" if "TIFF" in (kind or "") else ""
        raise ReadError(f"{path}: this is {kind or 'binary data'}{hint}, not an XAS spectrum; "
                        "allowed: text columns (energy, mu ...), Athena .xmu/.nor exports, HDF5")
    try:
        return _read_text(path)
    except OSError as exc:
        raise ReadError(f"{path}: cannot be read ({exc.strerror or exc})") from None


# ---- text files --------------------------------------------------------------------------

def _numbers(line: str) -> list[float] | None:
    """The numbers of a line (separators: spaces, tabs, commas, semicolons), or None if a
    token is not a number."""
    parts = line.translate(_SEPARATORS).split()
    try:
        values = [float(part) for part in parts]
    except ValueError:
        return None
    return values or None


def _read_text(path: Path) -> list[Spectrum]:
    """Header lines up to the first line of 2 or more numbers, then the columns."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        header, number, first = [], 0, None
        for line in iter(handle.readline, ""):
            number += 1
            stripped = line.strip()
            if not stripped:
                continue
            values = None if stripped.startswith(_COMMENTS) else _numbers(stripped)
            if values is None:
                header.append((number, stripped))
                if len(header) >= MAX_HEADER_LINES:
                    raise ReadError(f"{path}: no line of numbers in the first {number} lines; "
                                    "expected columns of energy and mu (an XAS text file)")
                continue
            _refuse_powder(path, header)
            if len(values) < 2:
                raise ReadError(f"{path}, line {number}: expected 2 or more numbers (energy, mu ...), found 1")
            first = (number, line, len(values))
            break
        _refuse_powder(path, header)
        if first is None:
            raise ReadError(f"{path}: no data lines; expected columns of energy and mu ('#' comments allowed)")
        data, lines = _read_rows(path, handle, *first)
    names, units, names_line = _column_names(header, data.shape[1])
    return _spectra_from_columns(path, data, lines, names, units, names_line, header)


def _refuse_powder(path: Path, header: list[tuple[int, str]]) -> None:
    """A ReadError when the header is that of a powder pattern (pyFAI column names, Fit2D
    x-axis labels)."""
    for number, text in header:
        body = text.lstrip("#!% ")
        if POWDER_NAMES.search(body) or re.search(r"2-theta angle|^q \((nm|a)", body, re.IGNORECASE):
            raise ReadError(f"{path}, line {number}: {text[:50]!r} is the header of a powder diffraction pattern "
                            "(2-theta or Q), not an XAS spectrum; give it to --xrd")


def _read_rows(path: Path, handle, first_line: int, first_text: str, columns: int):
    """All data rows from the first data line on, parsed in blocks of whole lines. Returns
    (rows (n, columns) float, the file line of each row)."""
    blocks, line_blocks = [], []
    text, number = first_text, first_line
    while True:
        text += handle.read(BLOCK_CHARS)
        if not text:
            break
        text += handle.readline()  # end the block at the end of a line
        if "\x00" in text:
            raise ReadError(f"{path}, line {number}: binary data inside a text file of columns")
        rows, lines = _parse_block(path, text, number, columns)
        blocks.append(rows)
        line_blocks.append(lines)
        number += text.count("\n") + (not text.endswith("\n"))
        text = ""
    return np.concatenate(blocks), np.concatenate(line_blocks)


def _data_lines(text: str) -> np.ndarray:
    """Indices (within `text`) of the lines that are neither blank nor '#' comments,
    found on the bytes without a Python loop over lines."""
    raw = text.encode("utf-8")
    if not raw.endswith(b"\n"):
        raw += b"\n"
    byte = np.frombuffer(raw, dtype=np.uint8)
    ends = np.flatnonzero(byte == 10)
    token = (byte != 32) & (byte != 10)
    starts = np.flatnonzero(token & ~np.concatenate(([False], token[:-1])))  # first byte of each token
    line_of = np.searchsorted(ends, starts)
    first = np.concatenate(([True], line_of[1:] != line_of[:-1]))  # the first token of its line
    lines, leading = line_of[first], starts[first]
    return lines[byte[leading] != ord("#")]


def _parse_block(path: Path, text: str, first_line: int, columns: int):
    """Vectorised parse (pandas' C parser) of whole lines of `columns` numbers; a block with
    a bad line (or a NaN, which may be a short line) goes to the line-by-line check, which
    names the first bad line. Returns (rows, file line of each row)."""
    cleaned = text.translate(_SEPARATORS)
    try:
        rows = pandas.read_csv(io.StringIO(cleaned), sep=r"\s+", header=None, comment="#", dtype=float,
                               engine="c", names=range(columns)).to_numpy()
    except (ValueError, pandas.errors.ParserError, pandas.errors.EmptyDataError):
        rows = None
    if rows is None or not np.isfinite(rows).all():
        return _parse_lines(path, text, first_line, columns)
    lines = _data_lines(cleaned)
    if lines.size != rows.shape[0]:
        return _parse_lines(path, text, first_line, columns)
    return rows, first_line + lines


def _parse_lines(path: Path, text: str, first_line: int, columns: int):
    """Line-by-line form of _parse_block (same result, NaN and inf kept): a ReadError at
    the first line that is not `columns` numbers."""
    rows, lines = [], []
    for number, line in enumerate(text.split("\n"), start=first_line):
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        values = _numbers(stripped)
        if values is None:
            raise ReadError(f"{path}, line {number}: expected {columns} numbers like the first data line, "
                            f"found {stripped[:60]!r}")
        if len(values) != columns:
            raise ReadError(f"{path}, line {number}: expected {columns} columns like the first data line, found {len(values)}")
        rows.append(values)
        lines.append(number)
    return np.asarray(rows, dtype=float).reshape(-1, columns), np.asarray(lines, dtype=int)


# a column name with an optional unit: "energy", "energy(keV)", "Energy [eV]", "E/keV"
_NAME_TOKEN = re.compile(r"([^\s,;()\[\]]+)(?:\s*[(\[]([^)\]]*)[)\]])?")


def _split_name(token: str, unit: str | None) -> tuple[str, str]:
    """(name, unit) of a column token: "E/keV" -> ("E", "keV")."""
    if not unit and "/" in token and not token.lower().startswith(("ln", "log")):
        token, unit = token.split("/", 1)
    return token, unit or ""


def _column_names(header: list[tuple[int, str]], columns: int):
    """(names, units, (line number, text)) of the columns: the last header line with one name
    per column (not all numbers, not "key: value"), else XDI "Column.N: name unit" lines
    naming every column; (None, None, None) if none does."""
    for number, text in reversed(header):
        body = text.lstrip("#!% ").strip()
        tokens = _NAME_TOKEN.findall(body)
        if len(tokens) != columns or _numbers(" ".join(t for t, _ in tokens)) is not None:
            continue
        if re.match(r"^[\w .]+[:=]", body) and columns <= 2:  # "key: value", not names
            continue
        pairs = [_split_name(token, unit) for token, unit in tokens]
        return [name for name, _ in pairs], [unit for _, unit in pairs], (number, text)
    xdi = {}
    for number, text in header:
        match = re.match(r"^[#!%]?\s*column\.(\d+)\s*:\s*(\S+)\s*(\S*)", text, re.IGNORECASE)
        if match:
            xdi[int(match.group(1))] = (match.group(2), match.group(3), number, text)
    if xdi and set(xdi) >= set(range(1, columns + 1)):
        return ([xdi[k][0] for k in range(1, columns + 1)], [xdi[k][1] for k in range(1, columns + 1)],
                (xdi[1][2], xdi[1][3]))
    return None, None, None


def _plain_name(name: str) -> str:
    return re.sub(r"\s*[(\[][^)\]]*[)\]]", "", name).strip().lower()


def _energy_unit(path: Path, unit_text: str, energy: np.ndarray, where: str) -> tuple[float, str]:
    """(factor to eV, note) for energies whose name or unit is `unit_text` (column header,
    XDI line or HDF5 'units' attribute): keV when it says keV, eV when it says eV, else keV
    when every energy is below KEV_BELOW."""
    text = unit_text.lower()
    finite = energy[np.isfinite(energy)]
    top = float(finite.max()) if finite.size else math.nan
    if "kev" in text:
        return 1000.0, f"energies in keV ({where}) converted to eV"
    if re.search(r"(^|[^a-z])ev($|[^a-z])", text):
        if top < KEV_BELOW:
            raise ReadError(f"{path}: energies up to {top:g} are stated in eV ({where}), but hard X-ray edges lie "
                            f"far above {KEV_BELOW:g} eV; give absolute energies in eV or keV")
        return 1.0, ""
    if top < KEV_BELOW:
        return 1000.0, f"energies below {KEV_BELOW:g} with no unit stated read as keV and converted to eV"
    return 1.0, ""


def _header_label(header: list[tuple[int, str]]):
    """(value, kind, origin) from the first header line stating a voltage or SoC, or None."""
    for number, text in header:
        found = _label_in_text(text, _IN_HEADER)
        if found:
            return found[0], found[1], f"header line {number}"
    return None


def _spectra_from_columns(path: Path, data, lines, names, units, names_line, header) -> list[Spectrum]:
    """Spectra from parsed columns (module docstring: which columns are spectra) with their
    labels (column name, else header, else file name)."""
    if names is None:
        energy_col, unit_text, where = 0, "", ""
        picks = [(data[:, k], f"column {k + 1}", None) for k in range(1, data.shape[1])]
    else:
        plain = [_plain_name(name) for name in names]
        energy_col = next((k for k, n in enumerate(plain) if n in ENERGY_NAMES or n.startswith("energy")), 0)
        unit_text = f"{plain[energy_col]} {units[energy_col]}"
        where = f"line {names_line[0]}"
        picks = _pick_columns(path, data, names, plain, energy_col, where)
    factor, unit_note = _energy_unit(path, unit_text, data[:, energy_col], f"column header {where}".strip())
    energy = data[:, energy_col] * factor
    header_label = _header_label(header)
    file_label = _label_in_text(path.stem, _IN_NAME)
    spectra = []
    for mu, column, column_label in picks:
        spectrum = _make_spectrum(path, energy, mu, lines, column, "line")
        if unit_note:
            spectrum.notes.append(unit_note)
        if column_label:
            spectrum.label, spectrum.label_kind = column_label
            spectrum.label_origin = f"column name {column!r}"
        elif header_label:
            spectrum.label, spectrum.label_kind, spectrum.label_origin = header_label
        elif file_label:
            spectrum.label, spectrum.label_kind = file_label
            spectrum.label_origin = "file name"
        spectra.append(spectrum)
    return spectra


def _pick_columns(path: Path, data, names, plain, energy_col, where):
    """[(mu, column description, label or None)] of the spectra among named columns, in the
    order of the module docstring."""
    others = [k for k in range(len(names)) if k != energy_col]
    for pattern in (MU_PATTERN, NORM_PATTERN, FLAT_PATTERN):
        chosen = [k for k in others if pattern.match(plain[k]) and not DERIVED_PART.search(plain[k])]
        if chosen:
            return [(data[:, k], names[k], _label_in_text(names[k], _IN_NAME)) for k in chosen]
    labelled = [k for k in others if _label_in_text(names[k], _IN_NAME)]
    if labelled:
        return [(data[:, k], names[k], _label_in_text(names[k], _IN_NAME)) for k in labelled]
    i0 = next((k for k in others if plain[k] in I0_NAMES), None)
    it = next((k for k in others if plain[k] in IT_NAMES), None)
    if i0 is not None and it is not None:
        return [(_transmission(data[:, i0], data[:, it]), f"ln({names[i0]}/{names[it]})", None)]
    unknown = [k for k in others if not NOT_SPECTRA.search(plain[k])]
    if unknown:
        return [(data[:, k], names[k], None) for k in unknown]
    raise ReadError(f"{path}, {where}: no mu column among {', '.join(names)}; allowed names: mu, xmu, norm, "
                    "flat (and variants such as mu_4.2V), I0 with It (mu = ln(I0/It)), or unnamed columns")


def _transmission(i0: np.ndarray, it: np.ndarray) -> np.ndarray:
    """mu = ln(I0 / It); NaN where either is not positive (dropped later, with a warning)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((i0 > 0) & (it > 0), np.log(i0 / it), np.nan)


def _make_spectrum(path: Path, energy: np.ndarray, mu: np.ndarray, positions: np.ndarray, column: str,
                   position_word: str) -> Spectrum:
    """A Spectrum from one energy and one mu column: non-finite points dropped (a warning
    naming the lines or indices), sorted, repeats averaged, checked."""
    from chemomech.io.readers import line_ranges

    notes = []
    finite = np.isfinite(energy) & np.isfinite(mu)
    if not finite.all():
        bad = positions[~finite]
        where = f"{position_word}{'s' if bad.size > 1 else ''} {line_ranges(bad)}"
        if finite.sum() >= MIN_POINTS:
            warnings.warn(f"{path} [{column}]: {bad.size} point{'s' if bad.size > 1 else ''} with NaN/inf "
                          f"(or I0, It <= 0) dropped ({where})", stacklevel=5)
        notes.append(f"{bad.size} non-finite points dropped ({where})")
        energy, mu = energy[finite], mu[finite]
    if energy.size < MIN_POINTS:
        raise ReadError(f"{path} [{column}]: {energy.size} finite points; a spectrum needs at least {MIN_POINTS}")
    low, high = float(energy.min()), float(energy.max())
    if not (ENERGY_RANGE_EV[0] <= low and high <= ENERGY_RANGE_EV[1]):
        raise ReadError(f"{path} [{column}]: energies {low:g}-{high:g} eV lie outside "
                        f"{ENERGY_RANGE_EV[0]:g}-{ENERGY_RANGE_EV[1]:g} eV; the first column must be the X-ray energy "
                        f"(eV, or keV below {KEV_BELOW:g})")
    if high - low > MAX_SPAN_EV:
        raise ReadError(f"{path} [{column}]: the energies span {high - low:.0f} eV, more than an absorption scan "
                        f"({MAX_SPAN_EV:g} eV at most); is this an XAS spectrum (energy in eV or keV, then mu)?")
    steps = np.diff(energy)
    if np.any(steps < 0):
        order = np.argsort(energy, kind="stable")
        energy, mu = energy[order], mu[order]
        notes.append("sorted by energy (the scan ran downwards)" if np.all(steps <= 0) else "sorted by energy")
    unique, inverse, counts = np.unique(energy, return_inverse=True, return_counts=True)
    if unique.size < energy.size:
        notes.append(f"{energy.size - unique.size} repeated energies: their mu averaged")
        mu = np.bincount(inverse, weights=mu) / counts
        energy = unique
        if energy.size < MIN_POINTS:
            raise ReadError(f"{path} [{column}]: {energy.size} distinct energies; a spectrum needs at least {MIN_POINTS}")
    return Spectrum(energy=np.ascontiguousarray(energy, dtype=float), mu=np.ascontiguousarray(mu, dtype=float),
                    source=str(path), column=column, notes=notes)


# ---- HDF5 --------------------------------------------------------------------------------

def _is_energy_name(name: str) -> bool:
    return name in ENERGY_NAMES or name.startswith("energy")


def _is_spectrum_name(pattern):
    return lambda name: bool(pattern.match(name)) and not DERIVED_PART.search(name)


def _find_dataset(path: Path, datasets: list[str], test, what: str) -> str | None:
    """The one dataset whose last name component (lower case) passes `test`; None if none
    does, a ReadError if several do."""
    matches = [name for name in datasets if test(_plain_name(name.rsplit("/", 1)[-1]))]
    if len(matches) > 1:
        raise ReadError(f"{path}: several datasets could be the {what} ({', '.join(matches[:6])}); give its path")
    return matches[0] if matches else None


def _read_hdf5(path: Path, energy_dataset: str | None, mu_dataset: str | None) -> list[Spectrum]:
    """Spectra of an HDF5 file: energies and mu (1-D or 2-D), or I0 and It (module docstring)."""
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise ReadError(f"{path}: not a readable HDF5 file ({exc})") from None
    with handle:
        datasets = []
        handle.visititems(lambda name, item: datasets.append("/" + name) if isinstance(item, h5py.Dataset) else None)
        listing = f"datasets in the file: {', '.join(datasets[:20]) or 'none'}"
        for given in (energy_dataset, mu_dataset):
            if given is not None and not (given in handle and isinstance(handle[given], h5py.Dataset)):
                raise ReadError(f"{path}: no dataset {given!r}; {listing}")
        energy_path = energy_dataset or _find_dataset(path, datasets, _is_energy_name, "energy")
        if energy_path is None:
            raise ReadError(f"{path}: no energy dataset (a name starting with 'energy', or 'E'); {listing}; give its path")
        mu_path = mu_dataset
        for pattern in (MU_PATTERN, NORM_PATTERN, FLAT_PATTERN):
            mu_path = mu_path or _find_dataset(path, datasets, _is_spectrum_name(pattern), "mu")
        energy = _numeric(path, handle[energy_path], energy_path)
        unit_text = str(_attribute(handle[energy_path], ("units", "unit")) or "")
        if energy.ndim != 1 and not (energy.ndim == 2 and 1 in energy.shape):
            raise ReadError(f"{path}: {energy_path} has shape {energy.shape}; the energies must be 1-D")
        energy = energy.reshape(-1)
        if mu_path is not None:
            mu, described, labelled = _numeric(path, handle[mu_path], mu_path), mu_path, mu_path
        else:
            i0_path = _find_dataset(path, datasets, lambda n: n in I0_NAMES, "I0")
            it_path = _find_dataset(path, datasets, lambda n: n in IT_NAMES, "It")
            if i0_path is None or it_path is None:
                raise ReadError(f"{path}: no mu dataset (named mu, xmu, norm or flat, or I0 and It); {listing}; "
                                "give its path")
            i0, it = _numeric(path, handle[i0_path], i0_path), _numeric(path, handle[it_path], it_path)
            if i0.shape != it.shape:
                raise ReadError(f"{path}: {i0_path} has shape {i0.shape}, {it_path} {it.shape}; they must match")
            mu, described, labelled = _transmission(i0, it), f"ln({i0_path}/{it_path})", i0_path
        rows = _spectra_rows(path, mu, energy.size, described)
        labels = _hdf5_labels(path, handle, labelled, rows.shape[0])
    factor, unit_note = _energy_unit(path, unit_text, energy, f"'units' of {energy_path}" if unit_text else "")
    energy = energy * factor
    file_label = _label_in_text(path.stem, _IN_NAME)
    spectra = []
    for k, row in enumerate(rows):
        column = described if rows.shape[0] == 1 else f"{described}[{k}]"
        spectrum = _make_spectrum(path, energy, row, np.arange(energy.size), column, "index")
        if unit_note:
            spectrum.notes.append(unit_note)
        if labels is not None:
            spectrum.label, spectrum.label_kind, spectrum.label_origin = float(labels[0][k]), labels[1], labels[2]
        elif file_label is not None and rows.shape[0] == 1:
            spectrum.label, spectrum.label_kind = file_label
            spectrum.label_origin = "file name"
        spectra.append(spectrum)
    return spectra


def _numeric(path: Path, item, name: str) -> np.ndarray:
    values = np.asarray(item[()])
    if values.dtype.kind not in "fiu":
        raise ReadError(f"{path}: {name} holds {values.dtype} data; expected numbers")
    return values.astype(float)


def _attribute(item, names):
    for name in names:
        if name in item.attrs:
            value = item.attrs[name]
            return value.decode() if isinstance(value, bytes) else value
    return None


def _spectra_rows(path: Path, mu: np.ndarray, n_energy: int, described: str) -> np.ndarray:
    """mu as (spectrum, energy) rows: 1-D is one spectrum; 2-D is (spectrum, energy) when its
    second axis matches the energies, else (energy, spectrum) when its first does."""
    if mu.ndim == 1 and mu.size == n_energy:
        return mu.reshape(1, -1)
    if mu.ndim == 2 and mu.shape[1] == n_energy:
        return mu
    if mu.ndim == 2 and mu.shape[0] == n_energy:
        return mu.T
    raise ReadError(f"{path}: {described} has shape {mu.shape} for {n_energy} energies; expected ({n_energy},), "
                    f"(spectra, {n_energy}) or ({n_energy}, spectra)")


def _hdf5_labels(path: Path, handle, mu_path: str, count: int):
    """(values, kind, origin) from an attribute voltage/potential/ewe/soc of the mu dataset
    or a dataset of that name in its group with one value per spectrum (or one for all)."""
    item = handle[mu_path]
    group = item.parent
    for kind, names in (("voltage", ("voltage", "potential", "ewe", "voltage_v")), ("soc", ("soc", "state_of_charge"))):
        for name in names:
            value, origin = None, None
            if name in item.attrs:
                value, origin = item.attrs[name], f"attribute {name!r} of {mu_path}"
            elif name in group and hasattr(group[name], "shape"):
                value, origin = group[name][()], f"dataset {group[name].name}"
            if value is None:
                continue
            try:
                values = np.asarray(value, dtype=float).reshape(-1)
            except (TypeError, ValueError):
                raise ReadError(f"{path}: {origin} is {value!r}; expected numbers (V or SoC)") from None
            if values.size == 1:
                values = np.repeat(values, count)
            if values.size != count:
                raise ReadError(f"{path}: {origin} has {values.size} values for {count} spectra; give one per spectrum")
            if kind == "soc" and np.nanmax(values) > 1.0:
                values = values / 100.0
            return values, kind, origin
    return None
