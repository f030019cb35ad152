"""What the synthetic measurements need from a run: its Dataset and its material."""

from __future__ import annotations

import tomllib
from pathlib import Path

import xarray as xr

from chemomech.errors import ChemomechError
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
