"""Readers for measured data: powder patterns (.xy, .xye, .dat, Fit2D .chi), TIFF stacks
and HDF5 datasets by path.

Every reader raises chemomech.errors.ReadError naming the file (and the line or dataset)
when a file is missing or malformed; it never lets a library traceback through.

Powder-pattern formats read here:
- two or three whitespace- (or comma-) separated columns x, I[, sigma]; lines starting with
  '#' are comments anywhere; text lines before the first data line are header lines.
- pyFAI's integrate1d/save1D output (.dat/.xy): '#' header lines including
  "# Wavelength: 1.173e-11 m" (metres; older versions omit the unit, still metres) and a
  column-header line "#  2th_deg  I  [sigma]" naming the radial unit (pyFAI unit names
  2th_deg, 2th_rad, q_nm^-1, q_A^-1; pyFAI documentation, "pyFAI-integrate --unit").
- Fit2D .chi: line 1 title, line 2 x-axis label (e.g. "2-Theta Angle (Degrees)",
  "Q (nm-1)"), line 3 y-axis label, line 4 the number of points, then the data.
The radial unit comes from the column header / x label; without one it is assumed to be
2-theta in degrees (PowderPattern.x_unit_assumed says so).
"""

from __future__ import annotations

import io
import math
import re
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas

from chemomech.errors import ReadError
from chemomech.io.atomic import write_file_atomic


def read_hdf5_dataset(path: str | Path, dataset: str) -> tuple[np.ndarray, dict]:
    """The array stored at `dataset` (e.g. "/entry/data/frames") in HDF5 file `path`,
    and the dataset's attributes as a dict."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise ReadError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as handle:
            if dataset not in handle:
                found = []
                handle.visititems(lambda name, item: found.append(name) if isinstance(item, h5py.Dataset) else None)
                raise ReadError(f"{path}: no dataset {dataset!r}; datasets in the file: {', '.join(found[:20]) or 'none'}")
            item = handle[dataset]
            if not isinstance(item, h5py.Dataset):
                raise ReadError(f"{path}: {dataset!r} is a group, not a dataset")
            return item[()], {key: _plain(value) for key, value in item.attrs.items()}
    except OSError as exc:
        raise ReadError(f"{path}: not a readable HDF5 file ({exc})") from None


def _plain(value):
    """HDF5 attribute values as plain Python/numpy values (bytes decoded)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.dtype.kind == "S":
        return value.astype(str)
    return value


# ---- powder patterns -------------------------------------------------------------------

@dataclass
class PowderPattern:
    """A 1-D powder pattern: x in x_unit ("2th_deg" [deg], "q_nm^-1" [1/nm], "q_A^-1"
    [1/Angstrom]), intensity, sigma (or None), the wavelength [Angstrom] if the file states
    it (wavelength_line, wavelength_header: the file line stating it and its text), the
    header lines, and whether the unit was assumed (no header naming it)."""

    x: np.ndarray
    intensity: np.ndarray
    sigma: np.ndarray | None
    x_unit: str
    wavelength_A: float | None
    header: list[str] = field(default_factory=list)
    path: str = ""
    x_unit_assumed: bool = False
    wavelength_line: int | None = None
    wavelength_header: str | None = None


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_COMMENT_STARTS = ("#", "!", "%")
MIN_POINTS = 2  # finite data rows a pattern needs (a pattern of one point has no x axis)
# Characters of text parsed per vectorised block: the working set of one block is a few
# times this (bytes, token masks and positions), independent of the file's length.
BLOCK_CHARS = 1 << 22
# Bytes that separate columns like spaces (commas, semicolons, tabs, CR, VT, FF).
_SEPARATORS = bytes.maketrans(b",;\t\r\x0b\x0c", b"      ")


def read_powder_pattern(path: str | Path) -> PowderPattern:
    """Read a powder pattern (.xy, .xye, .dat, .txt, .csv or Fit2D .chi; module docstring).
    Degrees of 2-theta in radians (pyFAI 2th_rad) are converted to degrees.

    Rows holding NaN or inf are dropped with a warning naming their lines (an error when
    fewer than MIN_POINTS finite rows remain); negative intensities are kept and warned
    about. The numbers are parsed in blocks of BLOCK_CHARS characters, so memory stays
    within a few times the returned arrays."""
    path = Path(path)
    with _open_text(path) as handle:
        try:
            if path.suffix.lower() == ".chi":
                return _read_chi(path, handle)
            header, first = _text_header(path, handle)
            columns = _read_columns(path, handle, first, header)
        except OSError as exc:
            raise ReadError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if columns.total == 0 and not header:
        raise ReadError(f"{path}: the file is empty; expected lines of 2 or 3 numbers (x, intensity[, sigma])")
    if columns.total < MIN_POINTS:
        raise ReadError(f"{path}: no data (expected lines of 2 or 3 numbers: x, intensity[, sigma]); "
                        f"found {columns.total} data lines")
    unit, assumed = _unit_from_header([text for _, text in header])
    return _pattern(path, columns, unit, header, assumed)


def write_powder_pattern(path: str | Path, two_theta_deg: np.ndarray, intensity: np.ndarray,
                         wavelength_A: float, comment: str = "") -> Path:
    """Write a pattern the way pyFAI's save1D does (read back by read_powder_pattern):
    '#' header lines with "# Wavelength: <metres> m" and the column line "#  2th_deg  I",
    then two columns. Written to a temporary name, then renamed."""
    lines = [f"# {line}" for line in comment.splitlines()]
    lines += [f"# Wavelength: {wavelength_A * 1e-10:.10e} m", "#  2th_deg  I"]
    lines += [f"{t:.6f} {i:.8e}" for t, i in zip(np.asarray(two_theta_deg, dtype=float),
                                                  np.asarray(intensity, dtype=float))]
    text = "\n".join(lines) + "\n"
    return write_file_atomic(path, lambda temporary: temporary.write_text(text))


def two_theta_deg(pattern: PowderPattern, wavelength_A: float | None = None) -> np.ndarray:
    """The pattern's x as 2-theta [deg]; Q patterns converted with
    2 theta = 2 asin(Q lambda / (4 pi)) (Q in 1/Angstrom, lambda in Angstrom), lambda =
    wavelength_A or else the file's wavelength."""
    if pattern.x_unit == "2th_deg":
        return np.asarray(pattern.x, dtype=float)
    wavelength = wavelength_A if wavelength_A is not None else pattern.wavelength_A
    if wavelength is None:
        raise ReadError(f"{pattern.path or 'pattern'}: x is {pattern.x_unit} and the file states no wavelength; "
                        "give wavelength_A to convert to 2-theta")
    if not wavelength > 0:
        raise ReadError(f"{pattern.path or 'pattern'}: wavelength_A = {wavelength} must be > 0")
    q_per_A = np.asarray(pattern.x, dtype=float) / (10.0 if pattern.x_unit == "q_nm^-1" else 1.0)
    argument = q_per_A * wavelength / (4 * math.pi)
    if np.any(np.abs(argument) > 1):
        raise ReadError(f"{pattern.path or 'pattern'}: Q up to {np.max(q_per_A):.4g} 1/A is beyond 4 pi / lambda "
                        f"at lambda = {wavelength} A; wrong wavelength or unit?")
    return np.degrees(2 * np.arcsin(argument))


def _open_text(path: Path):
    """The file opened as text (UTF-8, undecodable bytes replaced; \\r, \\r\\n and \\n all
    end a line)."""
    if not path.is_file():
        raise ReadError(f"{path}: no such file")
    try:
        return open(path, encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ReadError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _check_text(path: Path, text: str) -> None:
    if "\x00" in text:
        raise ReadError(f"{path}: binary data, expected a text file of columns")


def _text_header(path: Path, handle) -> tuple[list[tuple[int, str]], tuple[int, str]]:
    """Read up to the first data line: comment lines ('#', '!', '%') and text lines before
    it are the header. Returns ([(line number, text)], (line number, the first data line))
    (("", ...) at the end of the file)."""
    header = []
    number = 0
    for line in iter(handle.readline, ""):
        number += 1
        _check_text(path, line)
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith(_COMMENT_STARTS) or _parse_numbers(stripped) is None:
            header.append((number, stripped))
            continue
        return header, (number, line)
    return header, (number + 1, "")


def _parse_numbers(line: str) -> list[float] | None:
    parts = line.replace(",", " ").replace(";", " ").split()
    try:
        values = [float(part) for part in parts]
    except ValueError:
        return None
    return values if values else None


def _unit_from_header(header: list[str]) -> tuple[str, bool]:
    """The radial unit named in the last header line that names one (pyFAI column header
    or a generic "2theta"/"q" label); ("2th_deg", True) if none does."""
    for line in reversed(header):
        unit = _unit_from_label(line.lstrip("#!% "))
        if unit is not None:
            return unit, False
    return "2th_deg", True


def _unit_from_label(label: str) -> str | None:
    text = label.strip()
    lowered = text.lower()
    for name in ("2th_deg", "2th_rad", "q_nm^-1", "q_a^-1"):
        if re.search(r"(^|\s)" + re.escape(name) + r"(\s|$)", lowered):
            return {"q_a^-1": "q_A^-1"}.get(name, name)
    if re.search(r"2[-_ ]?theta|two[-_ ]?theta|2th\b|tth\b|2θ", lowered):
        return "2th_rad" if "rad" in lowered else "2th_deg"
    if re.match(r"^q\b|^q\s*\(|^q_|^q\s*\[|^q$", lowered) or lowered.startswith("q "):
        return "q_nm^-1" if "nm" in lowered else "q_A^-1"  # Q without "nm": 1/Angstrom
    return None


# "wavelength", "wave length", "lambda" or "λ", an optional unit (wavelength_nm,
# "Wavelength (A)", "Wavelength [m]"), an optional ':' or '=', the value and an optional unit.
_WAVELENGTH = re.compile(
    r"(?<![a-z])(?:wave[-_ ]?length|lambda|λ)"
    r"(?:_(?P<suffix>a|å|angstrom|nm|pm|m)(?![a-z]))?\s*"
    r"(?:[\[(]\s*(?P<bracket>[a-zå]+)\s*[\])])?\s*(?:[:=]\s*)?"
    r"(?P<value>" + _NUMBER + r")"
    r"(?:\s*[\[(]?\s*(?P<unit>[a-zå]+))?",
    re.IGNORECASE,
)
_TO_ANGSTROM = {"m": 1e10, "meter": 1e10, "metre": 1e10, "meters": 1e10, "metres": 1e10, "nm": 10.0, "pm": 0.01,
                "a": 1.0, "å": 1.0, "ang": 1.0, "angstrom": 1.0, "angstroms": 1.0, "ångström": 1.0}
WAVELENGTH_RANGE_A = (0.005, 20.0)  # X-ray and neutron powder diffraction


def _wavelength_from_header(header: list[tuple[int, str]], path: Path) -> tuple[float | None, int | None, str | None]:
    """Wavelength [Angstrom], its line number and text from the first header line stating one:
    "# Wavelength: 1.173e-11 m" (pyFAI, metres), "# wavelength 0.1173", "#lambda = 0.1173 A",
    "# Wavelength (nm): 0.01173", units m, nm, pm, A/Angstrom; without a unit values below
    1e-6 are metres (older pyFAI), others Angstrom. A value outside WAVELENGTH_RANGE_A is
    an error naming the line."""
    for number, line in header:
        match = _WAVELENGTH.search(line)
        if not match:
            continue
        value = float(match.group("value"))
        unit = (match.group("suffix") or match.group("bracket") or match.group("unit") or "").lower()
        if unit in _TO_ANGSTROM:
            wavelength = value * _TO_ANGSTROM[unit]
        else:
            wavelength = value * 1e10 if 0 < value < 1e-6 else value
        low, high = WAVELENGTH_RANGE_A
        if not low <= wavelength <= high:
            raise ReadError(f"{path}, line {number}: wavelength {wavelength:.4g} A (from {line[:60]!r}) is outside "
                            f"{low:g}-{high:g} A; state the unit (A, nm or m) after the value")
        return wavelength, number, line
    return None, None, None


def _read_chi(path: Path, handle) -> PowderPattern:
    """Fit2D .chi: title, x label, y label, point count, then x I [sigma] lines."""
    header = []
    for line in iter(handle.readline, ""):
        _check_text(path, line)
        header.append(line.strip())
        if len(header) == 4:
            break
    first = handle.readline()
    if len(header) < 4 or not first:
        raise ReadError(f"{path}: a Fit2D .chi file needs 4 header lines (title, x label, y label, point count) "
                        f"and data; found {len(header) + bool(first)} lines")
    try:
        count = int(float(header[3].split()[0]))
    except (ValueError, IndexError):
        raise ReadError(f"{path}, line 4: expected the number of points (Fit2D .chi), found {header[3][:60]!r}") from None
    unit = _unit_from_label(header[1])
    assumed = unit is None
    unit = unit or "2th_deg"
    numbered = list(enumerate(header, start=1))
    columns = _read_columns(path, handle, (5, first), numbered)
    if columns.total != count:
        raise ReadError(f"{path}, line 4: the header announces {count} points, the file has {columns.total} data lines")
    if count < MIN_POINTS:
        raise ReadError(f"{path}: fewer than {MIN_POINTS} data points")
    return _pattern(path, columns, unit, numbered, assumed)


@dataclass
class _Columns:
    """Parsed data rows: the finite rows (n, 2 or 3), the number of data rows in the file,
    the lines of the rows dropped for NaN/inf, and the negative intensities (count, lowest
    value, first line)."""

    data: np.ndarray
    total: int
    dropped_lines: np.ndarray
    negative: int
    negative_lowest: float
    negative_first_line: int | None


def _read_columns(path: Path, handle, first: tuple[int, str], header: list[tuple[int, str]]) -> _Columns:
    """Parse the data lines from `first` (line number, text) to the end of `handle`, in
    blocks of BLOCK_CHARS characters (whole lines). Comment lines among them are appended
    to `header`. Rows with NaN/inf are left out (their lines kept for the message)."""
    number, text = first
    columns = None
    blocks, dropped = [], []
    total = negative = 0
    lowest, negative_first = math.inf, None
    while True:
        text += handle.read(BLOCK_CHARS)
        if not text:
            break
        text += handle.readline()  # end the block at the end of a line
        _check_text(path, text)
        rows, lines, comments, columns = _parse_block(path, text, number, columns)
        header.extend(comments)
        number += text.count("\n") + (not text.endswith("\n"))
        total += rows.shape[0]
        finite = np.isfinite(rows).all(axis=1)
        if not finite.all():
            dropped.append(lines[~finite])
            rows, lines = rows[finite], lines[finite]
        below = rows[:, 1] < 0
        if below.any():
            negative += int(below.sum())
            lowest = min(lowest, float(rows[below, 1].min()))
            negative_first = negative_first or int(lines[np.argmax(below)])
        blocks.append(rows)
        text = ""
    data = np.concatenate(blocks) if len(blocks) > 1 else (blocks[0] if blocks else np.empty((0, 2)))
    return _Columns(data=data, total=total, dropped_lines=np.concatenate(dropped) if dropped else np.empty(0, int),
                    negative=negative, negative_lowest=lowest, negative_first_line=negative_first)


def _parse_block(path: Path, text: str, first_line: int, columns: int | None):
    """Vectorised parse of whole lines `text` (file line number first_line first): lines of
    `columns` (or, when None, 2 or 3 like the first data line) numbers separated by
    whitespace, commas or semicolons; '#', '!', '%' lines are comments; blank lines skipped.
    Any other line sends the block to _parse_lines, which names the first bad line.
    Returns (rows (n, columns), their line numbers, [(line number, comment)], columns)."""
    raw = text.encode("utf-8")
    if not raw.endswith(b"\n"):
        raw += b"\n"
    blanked = raw.translate(_SEPARATORS)
    byte = np.frombuffer(blanked, dtype=np.uint8)
    ends = np.flatnonzero(byte == 10)  # each line's '\n'
    token = (byte != 32) & (byte != 10)
    starts = np.flatnonzero(token & ~np.concatenate(([False], token[:-1])))  # first byte of each token
    del token
    line_of = np.searchsorted(ends, starts)  # index within the block of each token's line
    counts = np.bincount(line_of, minlength=ends.size)
    leading = starts[np.flatnonzero(np.concatenate(([True], line_of[1:] != line_of[:-1])))]
    del starts, line_of
    filled = np.flatnonzero(counts)  # lines with a token, in order; `leading` holds their first tokens
    is_comment = np.isin(byte[leading], np.frombuffer("".join(_COMMENT_STARTS).encode(), dtype=np.uint8))
    data_lines = filled[~is_comment]
    comments = []
    if is_comment.any():
        byte = byte.copy()
        for i in filled[is_comment]:
            begin = int(ends[i - 1]) + 1 if i else 0
            comments.append((first_line + int(i), raw[begin:int(ends[i])].decode("utf-8", "replace").strip()))
            byte[begin:int(ends[i])] = 32
        blanked = byte.tobytes()
    if data_lines.size == 0:
        return np.empty((0, columns or 2)), np.empty(0, int), comments, columns
    found = counts[data_lines]
    width = int(found[0]) if columns is None else columns
    values = None
    if width in (2, 3) and np.all(found == width):
        try:  # pandas' C parser: ~2.5x faster than numpy.fromstring or numpy.loadtxt on such columns
            values = pandas.read_csv(io.BytesIO(blanked), sep=r"\s+", header=None, dtype=float, engine="c").to_numpy()
        except ValueError:  # a token that is not a number
            values = None
    if values is None or values.shape != (data_lines.size, width):
        return _parse_lines(path, text, first_line, columns)
    return values, first_line + data_lines, comments, width


def _parse_lines(path: Path, text: str, first_line: int, columns: int | None):
    """Line-by-line form of _parse_block (same result), which stops at the first line that
    is not 2 or 3 numbers like the first data line with a ReadError naming it."""
    rows, lines, comments = [], [], []
    for number, line in enumerate(text.split("\n"), start=first_line):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith(_COMMENT_STARTS):
            comments.append((number, stripped))
            continue
        values = _parse_numbers(stripped)
        if values is None:
            expected = "2 or 3 numbers (x, intensity[, sigma])" if columns is None else (
                "3 numbers (x, intensity, sigma)" if columns == 3 else "2 numbers (x, intensity)")
            raise ReadError(f"{path}, line {number}: expected {expected}, found {stripped[:60]!r}")
        if columns is None:
            if len(values) not in (2, 3):
                raise ReadError(f"{path}, line {number}: expected 2 or 3 columns (x, intensity[, sigma]), found {len(values)}")
            columns = len(values)
        elif len(values) != columns:
            raise ReadError(f"{path}, line {number}: expected {columns} columns like the first data line, found {len(values)}")
        rows.append(values)
        lines.append(number)
    return np.asarray(rows, dtype=float).reshape(-1, columns or 2), np.asarray(lines, dtype=int), comments, columns


def line_ranges(lines, limit: int = 5) -> str:
    """Sorted line numbers as ranges, "10-12, 15", the first `limit` ranges then ", ..."."""
    lines = np.asarray(lines, dtype=int)
    breaks = np.flatnonzero(np.diff(lines) != 1)
    firsts = np.concatenate(([0], breaks + 1))
    lasts = np.concatenate((breaks, [lines.size - 1]))
    parts = [f"{lines[a]}" if a == b else f"{lines[a]}-{lines[b]}" for a, b in zip(firsts[:limit], lasts[:limit])]
    return ", ".join(parts) + (", ..." if firsts.size > limit else "")


def _pattern(path: Path, columns: _Columns, unit: str, header: list[tuple[int, str]], assumed: bool) -> PowderPattern:
    """PowderPattern from parsed columns (NaN/inf rows dropped, negative intensities
    warned about); 2-theta in radians converted to degrees."""
    data = columns.data
    dropped = columns.dropped_lines.size
    if dropped:
        where = f"line{'s' if dropped > 1 else ''} {line_ranges(columns.dropped_lines)}"
        if data.shape[0] < MIN_POINTS:
            raise ReadError(f"{path}: {data.shape[0]} of {columns.total} data rows are finite ({where} hold NaN/inf); "
                            f"a pattern needs at least {MIN_POINTS}")
        warnings.warn(f"{path}: {dropped} row{'s' if dropped > 1 else ''} with NaN/inf dropped ({where})", stacklevel=3)
    if columns.negative:
        warnings.warn(f"{path}: {columns.negative} of {data.shape[0]} intensities are negative (lowest "
                      f"{columns.negative_lowest:.4g}, first on line {columns.negative_first_line}); kept as measured",
                      stacklevel=3)
    x = data[:, 0]
    if unit == "2th_rad":
        x, unit = np.degrees(x), "2th_deg"
    wavelength, wavelength_line, wavelength_header = _wavelength_from_header(header, path)
    return PowderPattern(x=x, intensity=data[:, 1], sigma=data[:, 2] if data.shape[1] == 3 else None, x_unit=unit,
                         wavelength_A=wavelength, header=[text for _, text in header], path=str(path),
                         x_unit_assumed=assumed, wavelength_line=wavelength_line,
                         wavelength_header=wavelength_header)


# ---- TIFF stacks -------------------------------------------------------------------------

def read_tiff_stack(path: str | Path) -> np.ndarray:
    """All pages of a (multi-page) TIFF as one array, pages along the first axis; a file
    written by tifffile with its shape metadata comes back in that shape (e.g.
    [energy, z, y, x])."""
    import tifffile

    path = Path(path)
    if not path.is_file():
        raise ReadError(f"{path}: no such file")
    try:
        array = tifffile.imread(path)
    except (tifffile.TiffFileError, ValueError, KeyError, IndexError, struct.error) as exc:
        raise ReadError(f"{path}: not a readable TIFF file ({exc})") from None
    except OSError as exc:
        raise ReadError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    array = np.asarray(array)
    if array.size == 0:
        raise ReadError(f"{path}: the TIFF holds no image data")
    return array
