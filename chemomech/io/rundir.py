"""Run directories, written atomically.

DIR/config.toml   the resolved configuration (re-run it with `chemomech run DIR/config.toml`)
DIR/result.nc     the xarray Dataset (netCDF4/HDF5)
DIR/summary.json  the summary figures
DIR/material.toml the blended material file, for a run of a blend (materials/blend.py;
                  the same text as result.nc's attrs material_toml): load_material reads it

Everything is written to a hidden temporary directory beside DIR and renamed into place at
the end, so an interrupted or failed run leaves no DIR behind; an existing DIR is replaced
only with force=True, and only when it is a run directory (config.toml with result.nc or
summary.json) or empty: force never deletes a folder of other files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tomli_w
import xarray as xr

from chemomech.errors import ConfigError
from chemomech.io.atomic import check_new_path, staged_directory


RUN_FILES = ("config.toml", "result.nc", "summary.json")


def is_run_directory(folder: str | Path) -> bool:
    """True when `folder` holds config.toml and result.nc or summary.json (a run directory,
    possibly of an older version) - the only non-empty folders force may replace."""
    folder = Path(folder)
    return (folder / "config.toml").is_file() and ((folder / "result.nc").is_file() or (folder / "summary.json").is_file())


def check_output_directory(out_dir: str | Path, force: bool) -> Path:
    """Refuse (ConfigError), before running: an existing output directory without force; an
    existing one with force unless it is a run directory or empty; a path that is not a
    directory; a path that cannot be written."""
    out = check_new_path(out_dir, force)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {str(out)!r} exists and is not a directory")
    if out.is_dir() and not is_run_directory(out) and any(out.iterdir()):
        raise ConfigError(f"--out {str(out)!r} is not a run directory (no config.toml with result.nc or summary.json) "
                          "and not empty; --force replaces only run directories or empty directories: choose another --out")
    return out


def _jsonable(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def write_netcdf(ds: xr.Dataset, path: Path, encoding: dict) -> None:
    """ds.to_netcdf(path, engine="h5netcdf", encoding=encoding), through xarray's h5netcdf
    store directly: to_netcdf (and the store's default write lock) first ask dask which
    scheduler is active, and that imports dask.distributed (~0.3 s of a 1-D run's ~2 s)
    for results that hold no dask arrays."""
    from xarray.backends import H5NetCDFStore
    from xarray.backends.locks import HDF5_LOCK  # the lock xarray takes for HDF5 itself

    store = H5NetCDFStore.open(str(path), mode="w", lock=HDF5_LOCK)
    try:
        ds.dump_to_store(store, encoding=encoding)
    finally:
        store.close()


def write_run_directory(out_dir: str | Path, config: dict, ds: xr.Dataset, summary: dict,
                        force: bool = False) -> Path:
    """Write config.toml, result.nc and summary.json (and material.toml for a blend) into
    out_dir atomically."""
    out = check_output_directory(out_dir, force)
    with staged_directory(out, force) as staging:
        (staging / "config.toml").write_text(tomli_w.dumps(config))
        # voxel fields are NaN outside the particle and compress well
        encoding = {name: {"zlib": True, "complevel": 1} for name, var in ds.data_vars.items() if var.ndim >= 3}
        write_netcdf(ds, staging / "result.nc", encoding)
        (staging / "summary.json").write_text(
            json.dumps({k: _jsonable(v) for k, v in summary.items()}, indent=2) + "\n"
        )
        if isinstance(config.get("material"), dict) and "material_toml" in ds.attrs:  # a blend
            (staging / "material.toml").write_text(str(ds.attrs["material_toml"]), encoding="utf-8")
    return out
