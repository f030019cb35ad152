"""Run directories, written atomically.

DIR/config.toml   the resolved configuration (re-run it with `chemomech run DIR/config.toml`)
DIR/result.nc     the xarray Dataset (netCDF4/HDF5)
DIR/summary.json  the summary figures

Everything is written to a hidden temporary directory beside DIR and renamed into place at
the end, so an interrupted or failed run leaves no DIR behind; an existing DIR is replaced
only with force=True.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import tomli_w
import xarray as xr

from chemomech.errors import ConfigError


def check_output_directory(out_dir: str | Path, force: bool) -> Path:
    """Refuse an existing output directory unless force is set (checked before running)."""
    out = Path(out_dir)
    if out.exists() and not force:
        raise ConfigError(f"--out {str(out)!r} already exists; choose another directory or pass --force to replace it")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {str(out)!r} exists and is not a directory")
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _jsonable(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def write_run_directory(out_dir: str | Path, config: dict, ds: xr.Dataset, summary: dict,
                        force: bool = False) -> Path:
    """Write config.toml, result.nc and summary.json into out_dir atomically."""
    out = check_output_directory(out_dir, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        staging.chmod(0o777 & ~_umask())  # mkdtemp makes it private; results are shared
        (staging / "config.toml").write_text(tomli_w.dumps(config))
        # voxel fields are NaN outside the particle and compress well
        encoding = {name: {"zlib": True, "complevel": 1} for name, var in ds.data_vars.items() if var.ndim >= 3}
        ds.to_netcdf(staging / "result.nc", engine="h5netcdf", encoding=encoding)
        (staging / "summary.json").write_text(
            json.dumps({k: _jsonable(v) for k, v in summary.items()}, indent=2) + "\n"
        )
        if out.exists():
            retired = out.with_name(f".{out.name}.old")
            if retired.exists():
                shutil.rmtree(retired)
            out.rename(retired)
            staging.rename(out)
            shutil.rmtree(retired)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out
