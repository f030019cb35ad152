"""DIR/summary.nc: the summary.json figures of every point on the sweep grid.

An xarray Dataset with one dimension per axis (coordinates: the axis values; strings for
string axes such as material) holding
  - every numeric summary.json figure (float64; NaN where the point failed or is missing),
  - text figures (end_reason) as strings ("" where missing),
  - status ("ok", "failed" or "missing"), error (the error text of failed points) and
    point (the point's directory name under DIR/points/),
  - for experiment protocols, the per-cycle figures of each point's result.nc
    (discharge_capacity, coulombic_efficiency, ...; io.results.CYCLE_FIGURES) over the
    axes and `cycle` (NaN past a point's last cycle).

Units: of the figures from the naming convention of chemomech.simulation (records.run_figures and the geometry adapters) ("units
in the names": *_mAh_g -> mAh/g, *_pct -> %, *_mpa -> MPa, *_s -> s, ...) plus a table for
the names without a suffix (soc_end, voltage_end, counts); of the axis coordinates from the
bracketed unit in the key's description in chemomech.io.config.SCHEMA (protocol.c_rate
"[1/h]", particle.radius_um "[um]").
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import xarray as xr

from chemomech.errors import ReadError
from chemomech.io.atomic import write_file_atomic
from chemomech.io.results import open_cycle_table
from chemomech.sweep.points_dir import error_path, point_complete
from chemomech.sweep.sweep_file import Sweep, schema_key

SKIPPED_FIGURES = {"config_sha256"}
UNIT_SUFFIXES = (  # (name suffix, units), first match wins
    ("_mAh_g", "mAh/g"), ("_pct", "%"), ("_mpa", "MPa"), ("_deg", "deg"),
    ("_angstrom", "angstrom"), ("_um2", "um2"), ("_um", "um"), ("_s", "s"),
)
UNITS_BY_NAME = {
    "soc_end": "1", "voltage_end": "V", "steps": "1", "rejected_steps": "1",
    "li_balance_error": "1", "voxels": "1", "grains": "1", "newton_iterations": "1",
    "linear_iterations": "1", "mechanics_iterations": "1", "d_spacing_003_rel_std_end": "1",
    "gb_faces": "1",
}


def figure_units(name: str) -> str | None:
    """Units of a summary.json figure from its name (None when unknown)."""
    if name in UNITS_BY_NAME:
        return UNITS_BY_NAME[name]
    if name.startswith("x_"):
        return "1"  # Li site fractions
    for suffix, units in UNIT_SUFFIXES:
        if name.endswith(suffix):
            return units
    return None


def key_units(key: str) -> str | None:
    """Units of a config key from the "[...]" in its SCHEMA description (None if none)."""
    spec = schema_key(key)
    if spec is None:
        return None
    match = re.search(r"\[([^\]]+)\]", spec.description)
    return match.group(1) if match else None


def read_point(points_dir: Path, point) -> dict:
    """{"status": ok|failed|missing, "summary": dict, "error": str} of one point from its
    run directory and error record (only those carrying the point's current hash)."""
    folder = points_dir / point.name
    if point_complete(folder, point.config_hash):
        return {"status": "ok", "summary": json.loads((folder / "summary.json").read_text()), "error": ""}
    try:
        record = json.loads(error_path(points_dir, point.name).read_text())
        if record.get("config_sha256") == point.config_hash:
            return {"status": "failed", "summary": {}, "error": str(record.get("error", ""))}
    except (OSError, ValueError, AttributeError):
        pass
    return {"status": "missing", "summary": {}, "error": ""}


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def sweep_summary(sweep: Sweep, points_dir: str | Path) -> xr.Dataset:
    """The summary Dataset of `sweep` from the point directories under `points_dir`."""
    points_dir = Path(points_dir)
    dims = tuple(axis.name for axis in sweep.axes)
    states = [read_point(points_dir, point) for point in sweep.points]

    def on_grid(values, fill, dtype) -> np.ndarray:
        """One value per point (in sweep.points order) laid out on the grid."""
        array = np.full(sweep.shape, fill, dtype=dtype)
        for point, value in zip(sweep.points, values):
            array[point.index] = value
        return array

    def text_on_grid(values) -> np.ndarray:
        return on_grid(values, "", object).astype(str)

    figures: dict[str, str] = {}  # name -> "number" | "text", in order of first appearance
    for state in states:
        for name, value in state["summary"].items():
            if name in SKIPPED_FIGURES or name in figures:
                continue
            if _is_number(value):
                figures[name] = "number"
            elif isinstance(value, str):
                figures[name] = "text"

    data_vars = {}
    for name, kind in figures.items():
        values = [state["summary"].get(name) for state in states]
        if kind == "number":
            array = on_grid([v if _is_number(v) else np.nan for v in values], np.nan, float)
        else:
            array = text_on_grid(["" if v is None else str(v) for v in values])
        attrs = {"source": "summary.json of each point"}
        units = figure_units(name)
        if units is not None:
            attrs["units"] = units
        data_vars[name] = (dims, array, attrs)

    data_vars.update(_cycle_figures(sweep, points_dir, states, dims))
    data_vars["status"] = (dims, text_on_grid(s["status"] for s in states),
                           {"long_name": "ok, failed (see error) or missing (not run yet)"})
    data_vars["error"] = (dims, text_on_grid(s["error"] for s in states), {"long_name": "error text of a failed point"})
    data_vars["point"] = (dims, text_on_grid(p.name for p in sweep.points), {"long_name": "run directory under points/"})

    coords = {}
    if any(var[0][-1:] == ("cycle",) for var in data_vars.values()):
        count = next(var[1].shape[-1] for var in data_vars.values() if var[0][-1:] == ("cycle",))
        coords["cycle"] = ("cycle", np.arange(1, count + 1), {"units": "1", "long_name": "cycle number, from 1"})
    for axis in sweep.axes:
        labels = list(axis.labels)
        values = np.array(labels, dtype=str) if any(isinstance(v, str) for v in labels) else np.array(labels)
        attrs = {"config_key": axis.key}
        units = key_units(axis.key)
        if units is not None:
            attrs["units"] = units
        coords[axis.name] = (axis.name, values, attrs)
    return xr.Dataset(data_vars=data_vars, coords=coords,
                      attrs={"title": f"chemomech sweep {sweep.name}", "sweep": sweep.resolved_toml()})


def _cycle_figures(sweep: Sweep, points_dir: Path, states: list, dims: tuple) -> dict:
    """The per-cycle figures of the complete points over (axes..., cycle)."""
    tables = {}
    for point, state in zip(sweep.points, states):
        if state["status"] == "ok":
            table = open_cycle_table(points_dir / point.name)
            if table is not None:
                tables[point.index] = table
    if not tables:
        return {}
    count = max(table.sizes["cycle"] for table in tables.values())
    data_vars = {}
    for name in next(iter(tables.values())).data_vars:
        array = np.full((*sweep.shape, count), np.nan)
        for index, table in tables.items():
            if name in table:
                array[index][: table.sizes["cycle"]] = table[name].values
        attrs = {key: value for key, value in next(iter(tables.values()))[name].attrs.items() if key != "reference_cycle"}
        data_vars[name] = ((*dims, "cycle"), array, {**attrs, "source": "result.nc of each point"})
    return data_vars


def write_summary(ds: xr.Dataset, path: str | Path) -> Path:
    """Write the summary Dataset to netCDF (h5netcdf) atomically."""
    return write_file_atomic(path, lambda temporary: ds.to_netcdf(temporary, engine="h5netcdf"))


def open_summary(sweep_dir: str | Path) -> xr.Dataset:
    """DIR/summary.nc loaded into memory (ReadError when it is missing)."""
    path = Path(sweep_dir) / "summary.nc"
    if not path.is_file():
        raise ReadError(f"{str(sweep_dir)!r} is not a sweep directory (no summary.nc inside)")
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()
