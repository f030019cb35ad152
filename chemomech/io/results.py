"""Results of runs, opened in one place: the Dataset, its configuration and its material.

A result is self-contained: cm.simulate stores in ds.attrs
    config          the resolved configuration (TOML text)
    material_toml   the exact text of the material file the run used (before overrides;
                    the overrides are in the config's [material_overrides])
    material_sha256 the SHA-256 of that text
so `run_material(ds)` rebuilds the very material of the run, whatever has happened to the
files under models/ since. Every command and analysis that needs the material of a run
(cli, analysis, plotting, observables, sweeps) goes through this module.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import numpy as np
import xarray as xr

from chemomech.errors import ChemomechError, ConfigError, MaterialError
from chemomech.materials.material import Material, apply_overrides, build_material, load_material
from chemomech.materials.recalibration import apply_recalibration
from chemomech.transport.coupling import physics_options


def open_run(run: str | Path) -> xr.Dataset:
    """The result.nc of run directory `run`, loaded into memory."""
    result = Path(run) / "result.nc"
    if not result.is_file():
        raise ChemomechError(f"{str(run)!r} is not a run directory (no result.nc inside)")
    with xr.open_dataset(result, engine="h5netcdf") as ds:
        return ds.load()


CYCLE_FIGURES = ("charge_capacity", "discharge_capacity", "coulombic_efficiency", "charge_energy",
                 "discharge_energy", "mean_charge_voltage", "mean_discharge_voltage", "capacity_retention",
                 # cycle-life runs ([degradation]): the damage per cycle
                 "cycle_simulated", "active_fraction_mean", "rock_salt_thickness_cycle", "cracked_boundary_fraction",
                 "wired_lattice_fraction", "isolated_grain_fraction")


def open_cycle_table(run: str | Path) -> xr.Dataset | None:
    """The per-cycle figures (over `cycle`) of run directory `run`, read without loading
    its fields; None for runs without cycles (cc-charge, GITT)."""
    result = Path(run) / "result.nc"
    if not result.is_file():
        raise ChemomechError(f"{str(run)!r} is not a run directory (no result.nc inside)")
    with xr.open_dataset(result, engine="h5netcdf") as ds:
        if "cycle" not in ds.dims:
            return None
        return ds[[name for name in CYCLE_FIGURES if name in ds]].load()


def run_config(ds: xr.Dataset) -> dict:
    """The resolved configuration of a run (ds.attrs["config"])."""
    if "config" not in ds.attrs:
        raise ChemomechError("the Dataset has no 'config' attribute; pass a result of cm.simulate or a run's result.nc")
    return tomllib.loads(ds.attrs["config"])


def material_digest(text: str) -> str:
    """SHA-256 (hex) of a material file's text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def material_from_text(text: str, overrides: dict | None, origin: str, options=()) -> Material:
    """A Material from the text of a material file and dotted-key overrides; with coupling
    `options` switched on (names, in [physics] order), the file's tables re-fitted under
    them where it has them (materials/recalibration.py), before the overrides."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MaterialError(f"{origin}: malformed TOML ({exc})") from None
    raw, _ = apply_recalibration(raw, options, origin)
    if overrides:
        raw = apply_overrides(raw, overrides, origin)
    return build_material(raw, origin)


def run_material(ds: xr.Dataset) -> Material:
    """The material of a run, rebuilt from the material text and overrides the run stores
    (results written before the material text was stored: from the config's material
    name or path)."""
    config = run_config(ds)
    overrides = config.get("material_overrides")
    text = ds.attrs.get("material_toml")
    if text is None:
        return load_material(config["material"], overrides)
    options = physics_options(config.get("physics")).switched_on()
    return material_from_text(str(text), overrides, f"material stored in the run ({config['material']})", options)


def run_c_rate(ds: xr.Dataset) -> float:
    """The C-rate of a run's first current step [1/h] (its charge rate for cc-charge and
    GITT runs)."""
    if "step_c_rate" in ds:
        rates = np.asarray(ds["step_c_rate"].values, dtype=float)
        rates = rates[rates > 0]
        if rates.size:
            return float(rates[0])
    return float(run_config(ds)["protocol"].get("c_rate", np.nan))


def rate_label(c_rate: float) -> str:
    """Cycler notation of a C-rate [1/h]: 0.1 -> "C/10", 0.33 -> "C/3", 1 -> "1C", 2 -> "2C"."""
    if not np.isfinite(c_rate) or c_rate <= 0:
        return "?"
    if c_rate >= 1:
        return f"{c_rate:g}C"
    hours = 1.0 / c_rate
    if abs(hours - round(hours)) <= 0.02 * hours:
        return f"C/{round(hours)}"
    return f"C/{hours:.2g}"


def run_label(ds: xr.Dataset) -> str:
    """Legend label of a run: material and C-rate, e.g. "NC91 C/10"."""
    return f"{ds.attrs['material']} {rate_label(run_c_rate(ds))}"


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
