"""cm.simulate(config) -> xarray.Dataset: the pipeline of one run.

configuration -> RunSpec (simulation.spec: resolved once) -> the geometry's adapter
(simulation.sphere.SphereRun or simulation.voxels.VoxelRun): particle -> transport under
the protocol (transport.integrator) -> snapshots of x_Li -> lattice and stress on each
snapshot -> Dataset (README "Outputs"): time series over the whole protocol, the executed
steps over `step` and per-cycle figures over `cycle` (experiment protocols; a cc-charge
run is one charge), fields over `snapshot`. A GITT run
(protocol.kind = "gitt") adds pulse_index over time (the pulse during which each row
ended, -1 at rest) and pulse_start_time, pulse_end_time, rest_end_time over `pulse`.

The result is self-contained: attrs["config"] (the resolved configuration, TOML) and
attrs["material_toml"] (the exact text of the material file) rebuild its material
(io.results.run_material).
"""

from __future__ import annotations

import time as wallclock
from pathlib import Path

import numpy as np
import tomli_w
import xarray as xr

from chemomech.io.results import material_digest
from chemomech.simulation.memory import check_run_memory
from chemomech.simulation.records import (
    cycle_table,
    fill_skipped_cycles,
    gitt_pulse_series,
    pulse_index,
    run_figures,
    snapshot_plan,
    snapshot_series,
    step_table,
    time_series,
)
from chemomech.simulation.spec import RunSpec, run_spec
from chemomech.simulation.sphere import SphereRun
from chemomech.simulation.voxels import VoxelRun

ADAPTERS = {"sphere-1d": SphereRun, "single-crystal": VoxelRun, "polycrystal": VoxelRun}


def _progress_bar(enabled: bool):
    """A tqdm bar over the whole protocol: (close(), update(fraction, label)). The bar
    opens at the first update, after the first time step, so that kernels compiled before
    it (first use) do not spoil its rate and time estimate."""
    if not enabled:
        return None, None
    from tqdm.auto import tqdm

    state = {"bar": None, "label": None}

    def update(fraction, label):
        bar = state["bar"]
        if bar is None:
            bar = state["bar"] = tqdm(total=100, unit="%", desc="running", leave=False,
                                      bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}")
        if label != state["label"]:
            state["label"] = label
            bar.set_description_str(label, refresh=False)
        done = round(100 * fraction)
        if done > bar.n:
            bar.update(done - bar.n)  # tqdm redraws at most every mininterval

    def close():
        if state["bar"] is not None:
            state["bar"].close()

    return close, update


def simulate(config: dict | str | Path | RunSpec, progress: bool = False, allow_large: bool = False) -> xr.Dataset:
    """Run one simulation described by `config` (dict, TOML path or RunSpec; see README
    "Configuration"). Returns an xarray Dataset; its attrs hold the resolved
    configuration (attrs["config"], TOML), the material file's text and the summary
    figures.

    Before anything is allocated, the run's memory is estimated
    (simulation.memory.estimate_run_memory); a run needing more than the machine has
    available raises ConfigError unless allow_large is True."""
    started = wallclock.perf_counter()
    spec = config if isinstance(config, RunSpec) else run_spec(config)
    check_run_memory(spec, allow_large)
    material = spec.material
    run = ADAPTERS[spec.geometry](spec)
    close_bar, update = _progress_bar(progress)
    try:
        solution = run.integrate(update)
    finally:
        if close_bar is not None:
            close_bar()
    history = solution.history
    plan = snapshot_plan(history, spec.snapshots, list(spec.snapshot_cycles))
    if isinstance(run, VoxelRun):
        fields, field_coords, geometry_summary = run.fields(solution, plan, progress=progress)
    else:
        fields, field_coords, geometry_summary = run.fields(solution, plan)
    cycles = cycle_table(history, spec.experiment.retention_reference())
    life = getattr(run, "cycle_life", None)
    if life is not None:  # a cycle-life run: skipped cycles interpolated, the damage per cycle
        cycles = {**fill_skipped_cycles(cycles, life.simulated, spec.experiment.retention_reference()),
                  **run.cycle_damage()}
    snapshots, t_snap = snapshot_series(material, history, plan)
    data_vars = {**time_series(material, history), **snapshots, **fields}
    coords = {
        "time": ("time", history.time, {"units": "s"}),
        "snapshot": ("snapshot", np.arange(len(plan)), {"units": "1", "long_name": "snapshot index, 0 = initial state"}),
        "snapshot_time": ("snapshot", t_snap, {"units": "s"}),
        **field_coords,
    }
    if spec.protocol_kind == "experiment":  # the executed steps and the per-cycle figures
        data_vars.update({**step_table(history), **cycles})
        coords["step"] = ("step", np.arange(len(history.steps)), {"units": "1", "long_name": "executed protocol step, from 0"})
        coords["cycle"] = ("cycle", np.arange(1, cycles["discharge_capacity"][1].size + 1),
                           {"units": "1", "long_name": "cycle number, from 1"})
    ds = xr.Dataset(data_vars=data_vars, coords=coords)
    summary = {**run_figures(material, solution, cycles), **geometry_summary}
    if spec.protocol_kind == "gitt":
        pulse = pulse_index(history)
        pulse_vars = gitt_pulse_series(history.time, pulse)
        count = pulse_vars["pulse_start_time"][1].size
        ds = ds.assign({"pulse_index": ("time", pulse, {"units": "1", "long_name": "GITT pulse during which the step ended, -1 at rest"}),
                        **pulse_vars})
        ds = ds.assign_coords(pulse=("pulse", np.arange(count), {"units": "1", "long_name": "GITT pulse number"}))
        summary["pulses"] = int(ds.sizes["pulse"])
    if life is not None:
        summary.update({
            "degradation": ", ".join(spec.degradation.mechanisms),
            "cycles_simulated": int(life.simulated.sum()),
            "jumps_accepted": life.accepted_jumps,
            "jumps_rejected": life.rejected_jumps,
            "active_fraction_end": float(cycles["active_fraction_mean"][1][-1]),
            "rock_salt_thickness_end_nm": float(cycles["rock_salt_thickness_cycle"][1][-1] * 1e9),
        })
    if not spec.physics.fickian:  # the coupling options switched on ([physics])
        summary["physics"] = ", ".join(spec.physics.switched_on())
        summary["material_calibration"] = spec.calibration
    summary["wall_s"] = wallclock.perf_counter() - started
    ds.attrs.update({
        "title": f"chemomech {spec.geometry} {spec.protocol_kind} of {material.name}",
        "material": material.name,
        "geometry": spec.geometry,
        "config": tomli_w.dumps(spec.config),
        "material_toml": spec.material_text,
        "material_sha256": material_digest(spec.material_text),
        **summary,
    })
    return ds


def summary_of(ds: xr.Dataset) -> dict:
    """The summary figures stored in a result's attrs (everything except text blocks)."""
    skip = {"title", "config", "material", "geometry", "material_toml", "material_sha256"}
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in ds.attrs.items() if k not in skip}
