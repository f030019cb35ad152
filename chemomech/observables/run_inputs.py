"""What the synthetic measurements need from a run: its Dataset and its material."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import xarray as xr

from chemomech.errors import ChemomechError, ConfigError
from chemomech.materials.material import Material, load_material


def open_run(run: str | Path) -> xr.Dataset:
    """The result.nc of run directory `run`, loaded into memory."""
    result = Path(run) / "result.nc"
    if not result.is_file():
        raise ChemomechError(f"{str(run)!r} is not a run directory (no result.nc inside)")
    with xr.open_dataset(result, engine="h5netcdf") as ds:
        return ds.load()


def run_material(ds: xr.Dataset) -> Material:
    """The material of a run, rebuilt from the resolved configuration it stores
    (ds.attrs["config"]: material name or absolute path, and material_overrides)."""
    if "config" not in ds.attrs:
        raise ChemomechError("the Dataset has no 'config' attribute; pass a result of cm.simulate or a run's result.nc")
    config = tomllib.loads(ds.attrs["config"])
    return load_material(config["material"], config.get("material_overrides"))


def is_voxel_run(ds: xr.Dataset) -> bool:
    """True for single-crystal and polycrystal runs (fields over z, y, x)."""
    return "z" in ds.dims


def snapshot_index(ds: xr.Dataset, snapshot, name: str = "snapshot", run: str = "the run") -> int:
    """The index in 0..count-1 of snapshot `snapshot` (negative counts from the end) of
    `ds`; a ConfigError naming the option `name` and the `run` when it is out of range."""
    count = ds.sizes["snapshot"]
    if not isinstance(snapshot, (int, np.integer)) or not -count <= snapshot < count:
        raise ConfigError(f"{name} {snapshot!r}: {run} has snapshots 0..{count - 1} (or -1 for the last)")
    return int(snapshot) % count


def require_voxel_run(ds: xr.Dataset, purpose: str, run: str = "this") -> None:
    """A ChemomechError naming `run` unless `ds` is a voxel run; `purpose` says what
    needs one (e.g. "SXDM needs")."""
    if not is_voxel_run(ds):
        raise ChemomechError(f"{run} is a 1-D sphere run; {purpose} a voxel run (single-crystal or polycrystal)")
