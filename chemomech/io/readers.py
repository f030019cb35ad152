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

import math
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

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
    it, the header lines, and whether the unit was assumed (no header naming it)."""

    x: np.ndarray
    intensity: np.ndarray
    sigma: np.ndarray | None
    x_unit: str
    wavelength_A: float | None
    header: list[str] = field(default_factory=list)
    path: str = ""
    x_unit_assumed: bool = False


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def read_powder_pattern(path: str | Path) -> PowderPattern:
    """Read a powder pattern (.xy, .xye, .dat, .txt, .csv or Fit2D .chi; module docstring).
    Degrees of 2-theta in radians (pyFAI 2th_rad) are converted to degrees."""
    path = Path(path)
    lines = _text_lines(path)
    if path.suffix.lower() == ".chi":
        return _read_chi(path, lines)
    header, data = _numeric_rows(path, lines, first_line=1, text_header=True)
    if len(data) < 2:
        raise ReadError(f"{path}: no data (expected lines of 2 or 3 numbers: x, intensity[, sigma]); found {len(data)} data lines")
    unit, assumed = _unit_from_header(header)
    return _pattern(path, data, unit, header, assumed)


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


def _text_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise ReadError(f"{path}: no such file")
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError as exc:
        raise ReadError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if "\x00" in text:
        raise ReadError(f"{path}: binary data, expected a text file of columns")
    if not text.strip():
        raise ReadError(f"{path}: the file is empty; expected lines of 2 or 3 numbers (x, intensity[, sigma])")
    return text.splitlines()


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


def _wavelength_from_header(header: list[str], path: Path) -> float | None:
    """Wavelength [Angstrom] from a "Wavelength: value [unit]" header line (pyFAI writes
    metres; unit m, nm, A/Angstrom; without a unit values below 1e-6 are metres, others
    Angstrom)."""
    for line in header:
        match = re.search(r"wavelength\s*(?:\[(\w+)\]|\((\w+)\))?\s*[:=]\s*(" + _NUMBER + r")\s*([a-zA-ZÅ]*)", line, re.IGNORECASE)
        if not match:
            continue
        value = float(match.group(3))
        unit = (match.group(1) or match.group(2) or match.group(4) or "").lower()
        if unit in ("m", "meter", "metre", "meters", "metres"):
            return value * 1e10
        if unit == "nm":
            return value * 10.0
        if unit in ("a", "å", "angstrom", "angstroms", "ang"):
            return value
        return value * 1e10 if value < 1e-6 else value
    return None


def _read_chi(path: Path, lines: list[str]) -> PowderPattern:
    """Fit2D .chi: title, x label, y label, point count, then x I [sigma] lines."""
    if len(lines) < 5:
        raise ReadError(f"{path}: a Fit2D .chi file needs 4 header lines (title, x label, y label, point count) "
                        f"and data; found {len(lines)} lines")
    header = [line.strip() for line in lines[:4]]
    try:
        count = int(float(header[3].split()[0]))
    except (ValueError, IndexError):
        raise ReadError(f"{path}, line 4: expected the number of points (Fit2D .chi), found {header[3][:60]!r}") from None
    unit = _unit_from_label(header[1])
    assumed = unit is None
    unit = unit or "2th_deg"
    _, data = _numeric_rows(path, lines[4:], first_line=5, text_header=False)
    if len(data) != count:
        raise ReadError(f"{path}, line 4: the header announces {count} points, the file has {len(data)} data lines")
    if count < 2:
        raise ReadError(f"{path}: fewer than 2 data points")
    return _pattern(path, data, unit, header, assumed)


def _numeric_rows(path: Path, lines: list[str], first_line: int, text_header: bool) -> tuple[list[str], np.ndarray]:
    """Parse lines of 2 or 3 numbers (x, intensity[, sigma]), all with the same count;
    '#', '!', '%' lines are comments (kept as header); with text_header, text lines before
    the first data line are header too. first_line: the file line number of lines[0].
    Returns (header lines, data array (n, columns))."""
    header: list[str] = []
    rows: list[list[float]] = []
    columns = None
    for number, line in enumerate(lines, start=first_line):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith(("#", "!", "%")):
            header.append(stripped)
            continue
        values = _parse_numbers(stripped)
        if values is None:
            if text_header and not rows:
                header.append(stripped)
                continue
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
    return header, np.asarray(rows, dtype=float).reshape(-1, columns or 2)


def _pattern(path: Path, data: np.ndarray, unit: str, header: list[str], assumed: bool) -> PowderPattern:
    """PowderPattern from parsed columns; 2-theta in radians converted to degrees."""
    x = data[:, 0]
    if unit == "2th_rad":
        x, unit = np.degrees(x), "2th_deg"
    return PowderPattern(x=x, intensity=data[:, 1], sigma=data[:, 2] if data.shape[1] == 3 else None, x_unit=unit,
                         wavelength_A=_wavelength_from_header(header, path), header=header, path=str(path),
                         x_unit_assumed=assumed)


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
