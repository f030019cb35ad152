"""Simulated vs measured lattice parameters: a run against a refined lattice table
(chemomech.io.lattice_table), the figures of merit of `chemomech compare RUN --lattice FILE`.

Simulated a, c per snapshot [Angstrom], from the first source that applies
(metrics["simulated_source"] says which):
1. RUN/xrd/lattice.nc, written by `chemomech xrd`: the a, c refined from the synthetic
   patterns, averaged over the phases with the weights phase_weight (each phase's share
   of the fitted intensity), one pattern per snapshot - the same analysis as a measured
   sequential refinement;
2. 1-D runs: the volume mean over the shells of lattice_a, lattice_c (each shell's
   stress-free a(x), c(x)), with the exact shell volumes (r_out^3 - r_in^3)/3 as weights;
3. voxel runs: the mean over the particle's voxels (all of one volume) of a(x), c(x) of the
   material rebuilt from the run (chemomech.io.results.run_material); the elastic strain
   is ignored (in a single crystal with a free surface the mean stress, hence the mean
   elastic strain of its uniform stiffness, is zero; in a polycrystal it is not exactly).

The run on the table's axis, per snapshot:
    charge [mAh/g]  = snapshot_soc x capacity_nominal (the run's SoC basis, 270 mAh/g)
    time [h]        = snapshot_time [s] / 3600
    soc [-]         = snapshot_soc
    voltage [V]     = snapshot_voltage
The snapshots are used up to the first one whose axis value does not increase (a CV hold
ends the curve on the voltage axis, a rest on the charge axis); those left out are warned
about and counted in metrics. The table's axis must increase down its rows. Measured rows
outside the run's axis range are dropped with a warning and counted in metrics.

Common range: [first, last] measured axis value kept. The simulated curve over it is its
snapshots inside the range plus its values interpolated linearly at the two ends.
Normalisation: each data set by its own first point of the common range - a/a0, c/c0,
V/V0 with a0, c0, V0 the measured first row kept, and the simulated curve at that axis
value.

Figures of merit, for the measured table and for the simulated curve:
    axis at c max      axis value of the largest c (the first if tied)    [axis unit]
    c max rise         100 (c_max - c0) / c0                              [%]
    c drop from max    100 (c_max - c_end) / c0                           [%]
    a change           100 (a_end - a0) / a0                              [%]
    c change           100 (c_end - c0) / c0                              [%]
    volume change      100 (V_end - V0) / V0                              [%]
with V = sqrt(3)/2 a^2 c [Angstrom^3] (the hexagonal cell; the simulated V always, the
measured V unless the table gives the volume), and their differences (simulated minus
measured). On the measured points: the RMS and the largest |difference| of c/c0 and of
a/a0 [-], the simulated curve interpolated linearly at the measured axis values
(unweighted; the esds are drawn, not used).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from chemomech.errors import ChemomechError, ReadError
from chemomech.io.lattice_table import AXIS_LABELS, AXIS_UNITS, LatticeTable, read_lattice_table
from chemomech.io.readers import line_ranges
from chemomech.io.results import is_voxel_run, run_config, run_label, run_material

FIGURES = ("axis_at_c_max", "c_max_rise_pct", "c_drop_from_max_pct", "a_change_pct", "c_change_pct",
           "volume_change_pct")


def hexagonal_volume(a, c):
    """Volume of the hexagonal cell sqrt(3)/2 a^2 c [Angstrom^3] from a, c [Angstrom]."""
    return np.sqrt(3.0) / 2.0 * np.asarray(a, dtype=float) ** 2 * np.asarray(c, dtype=float)


def lattice_figures(axis_values, a, c, volume) -> dict:
    """The figures of merit of one lattice curve (module docstring) from its points in
    order along the axis: axis values, a, c [Angstrom], volume [Angstrom^3]; the first
    point is the reference (a0, c0, V0)."""
    x, a, c, volume = (np.asarray(v, dtype=float) for v in (axis_values, a, c, volume))
    a0, c0, v0 = a[0], c[0], volume[0]
    k = int(np.argmax(c))
    return {
        "axis_at_c_max": float(x[k]),
        "c_max_rise_pct": float(100.0 * (c[k] - c0) / c0),
        "c_drop_from_max_pct": float(100.0 * (c[k] - c[-1]) / c0),
        "a_change_pct": float(100.0 * (a[-1] - a0) / a0),
        "c_change_pct": float(100.0 * (c[-1] - c0) / c0),
        "volume_change_pct": float(100.0 * (volume[-1] - v0) / v0),
        "a0_A": float(a0),
        "c0_A": float(c0),
        "volume0_A3": float(v0),
    }


# ---- the run's lattice and axis ------------------------------------------------------------

def xrd_lattice_file(ds, run=None) -> Path | None:
    """RUN/xrd/lattice.nc if it exists, RUN being `run` or, when None, the folder of the
    result.nc that `ds` was opened from (ds.encoding["source"]); else None."""
    if run is None:
        source = ds.encoding.get("source")
        if not source:
            return None
        run = Path(source).parent
    path = Path(run) / "xrd" / "lattice.nc"
    return path if path.is_file() else None


def simulated_lattice(ds, run=None) -> tuple[np.ndarray, np.ndarray, str]:
    """(a, c) per snapshot [Angstrom] of the run and a sentence naming their source
    (module docstring: RUN/xrd/lattice.nc, else the volume mean of the run's lattice)."""
    import xarray as xr

    count = ds.sizes["snapshot"]
    not_used = ""
    lattice_file = xrd_lattice_file(ds, run)
    if lattice_file is not None:
        with xr.open_dataset(lattice_file, engine="h5netcdf") as refined:
            refined = refined.load()
        matches = refined.sizes.get("pattern") == count
        if matches and "snapshot_time" in refined.coords:  # one pattern per snapshot, at its time [s]
            matches = np.allclose(refined["snapshot_time"].values, ds["snapshot_time"].values, rtol=1e-9, atol=1e-6)
        if matches:
            weight = np.nan_to_num(refined["phase_weight"].values)
            total = weight.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                a = (np.nan_to_num(refined["a"].values) * weight).sum(axis=1) / total
                c = (np.nan_to_num(refined["c"].values) * weight).sum(axis=1) / total
            if np.all(np.isfinite(a)) and np.all(np.isfinite(c)):
                return a, c, (f"{lattice_file}: a, c refined from the synthetic patterns (chemomech xrd), "
                              "mean over the phases weighted by phase_weight")
            not_used = f" ({lattice_file} not used: a pattern without refined a, c)"
        else:
            not_used = (f" ({lattice_file} not used: its {refined.sizes.get('pattern')} patterns are not the "
                        f"run's {count} snapshots)")
    if is_voxel_run(ds):
        material = run_material(ds)
        a, c = np.empty(count), np.empty(count)
        for k in range(count):  # one snapshot at a time
            x = ds["x_li"].values[k]
            x = x[np.isfinite(x)].astype(float)
            a[k], c[k] = float(np.mean(material.lattice_a(x))), float(np.mean(material.lattice_c(x)))
        return a, c, ("mean over the voxels of a(x), c(x) of the run's material (elastic strain ignored)"
                      + not_used)
    from chemomech.geometry.sphere import SphereMesh

    particle = run_config(ds)["particle"]
    mesh = SphereMesh(radius=float(particle["radius_um"]) * 1e-6, cells=int(particle["cells"]),
                      surface_cell=float(particle.get("surface_cell_nm", 0.0)) * 1e-9 or None)
    if mesh.cells != ds.sizes["r"] or not np.allclose(mesh.centres, ds["r"].values, rtol=1e-9):
        raise ChemomechError(f"the run's r grid ({ds.sizes['r']} cells) does not match its configuration "
                             f"(radius_um = {particle['radius_um']}, cells = {particle['cells']})")
    a = mesh.volume_average(ds["lattice_a"].values)
    c = mesh.volume_average(ds["lattice_c"].values)
    return a, c, ("volume mean over the shells of lattice_a, lattice_c (stress-free a(x), c(x); weights "
                  "(r_out^3 - r_in^3)/3)" + not_used)


def simulated_axis(ds, axis: str) -> np.ndarray:
    """The run's snapshots on `axis` (module docstring): charge [mAh/g], time [h], soc [-]
    or voltage [V]."""
    if axis == "charge":
        return ds["snapshot_soc"].values.astype(float) * run_material(ds).capacity_nominal
    if axis == "time":
        return ds["snapshot_time"].values.astype(float) / 3600.0
    if axis == "soc":
        return ds["snapshot_soc"].values.astype(float)
    if axis == "voltage":
        return ds["snapshot_voltage"].values.astype(float)
    raise ValueError(f"axis {axis!r}: one of {', '.join(AXIS_UNITS)}")


# ---- the comparison --------------------------------------------------------------------------

def compare_lattice(ds, table: LatticeTable | str | Path, run: str | Path | None = None) -> tuple[dict, dict]:
    """A run (`ds`: open_run's Dataset or a cm.simulate result) against a refined lattice
    table (a LatticeTable or the path of one, read by read_lattice_table) on the table's
    axis; `run`, the run directory, for RUN/xrd/lattice.nc (default: where ds was opened
    from). Module docstring: sources, axis, common range, normalisation and figures.
    Returns (metrics for JSON, arrays for plotting.compare_lattice.plot_lattice_comparison)."""
    if not isinstance(table, LatticeTable):
        table = read_lattice_table(table)
    axis, unit = table.axis, AXIS_UNITS[table.axis]
    unit_text = "" if unit == "1" else f" {unit}"  # in sentences: "charge 120 mAh/g", "soc 0.5"
    sim_a, sim_c, source = simulated_lattice(ds, run)
    sim_x = simulated_axis(ds, axis)

    # the run: its snapshots up to the first one whose axis value does not increase
    count = sim_x.size
    rising = np.diff(sim_x) > 0
    used = count if rising.all() else int(np.argmin(rising)) + 1
    if used < 2:
        raise ChemomechError(f"the run's {axis} does not increase from its first snapshot to the next; "
                             "compare on another axis (time, for instance)")
    if used < count:
        left_out = f"snapshot {used} is" if used == count - 1 else f"snapshots {used}-{count - 1} are"
        warnings.warn(f"the run's {axis} stops increasing after snapshot {used - 1}: {left_out} left out of the "
                      "lattice comparison", stacklevel=2)
    sim_x, sim_a, sim_c = sim_x[:used], sim_a[:used], sim_c[:used]

    # the table: increasing axis, rows within the run's range
    x = table.axis_values
    back = np.flatnonzero(np.diff(x) < 0)
    if back.size:
        i = int(back[0]) + 1
        raise ReadError(f"{table.path}, line {table.lines[i]}: {axis} {x[i]:g}{unit_text} is below the previous row's "
                        f"{x[i - 1]:g}; the comparison needs the axis to increase down the table")
    low, high = float(sim_x[0]), float(sim_x[-1])
    tolerance = 1e-9 * (high - low)  # rounding of the axis values in the file
    inside = (x >= low - tolerance) & (x <= high + tolerance)
    outside_lines = table.lines[~inside]
    if outside_lines.size:
        warnings.warn(f"{table.path}: {outside_lines.size} row{'s' if outside_lines.size > 1 else ''} outside the "
                      f"run's {axis} range {low:.6g}-{high:.6g}{unit_text} dropped (line"
                      f"{'s' if outside_lines.size > 1 else ''} {line_ranges(outside_lines)})", stacklevel=2)
    if inside.sum() < 2:
        raise ChemomechError(f"{table.path}: {int(inside.sum())} of {x.size} rows lie within the run's {axis} range "
                             f"{low:.6g}-{high:.6g}{unit_text}; the comparison needs at least 2")
    mx = np.clip(x[inside], low, high)
    ma, mc = table.a[inside], table.c[inside]
    mv = table.volume[inside] if table.volume is not None else hexagonal_volume(ma, mc)
    if not mx[-1] > mx[0]:
        raise ChemomechError(f"{table.path}: the rows within the run's {axis} range all lie at {mx[0]:g}{unit_text}; "
                             "the comparison needs an interval")

    # the simulated curve over the common range [mx[0], mx[-1]]
    within = (sim_x > mx[0]) & (sim_x < mx[-1])
    cx = np.concatenate(([mx[0]], sim_x[within], [mx[-1]]))
    ca, cc = np.interp(cx, sim_x, sim_a), np.interp(cx, sim_x, sim_c)
    measured = lattice_figures(mx, ma, mc, mv)
    simulated = lattice_figures(cx, ca, cc, hexagonal_volume(ca, cc))
    difference = {name: simulated[name] - measured[name] for name in FIGURES}

    # c/c0 and a/a0 on the measured points
    sim_a_rel = np.interp(mx, sim_x, sim_a) / ca[0]
    sim_c_rel = np.interp(mx, sim_x, sim_c) / cc[0]
    meas_a_rel, meas_c_rel = ma / ma[0], mc / mc[0]
    first_line = int(table.lines[inside][0])
    volume_text = ("table column" if table.volume is not None else "sqrt(3)/2 a^2 c of the table's a, c")
    metrics = {
        "table": table.path,
        "axis": axis,
        "axis_unit": unit,
        "columns": {key: {"column": index, "found": table.found[key]} for key, index in table.columns.items()},
        "table_notes": list(table.notes),
        "simulated_source": source,
        "volume": f"measured: {volume_text}; simulated: sqrt(3)/2 a^2 c of the mean cell [Angstrom^3]",
        "normalisation": (f"each data set by its own first point of the common range: measured by its row on line "
                          f"{first_line} ({axis} = {mx[0]:.6g}{unit_text}), simulated by its curve at that {axis}; "
                          "a/a0, c/c0, V/V0"),
        "common_range": [float(mx[0]), float(mx[-1])],
        "simulated_range": [low, high],
        "points_compared": int(mx.size),
        "points_outside_run": int(outside_lines.size),
        "points_outside_run_lines": line_ranges(outside_lines) if outside_lines.size else "",
        "snapshots_used": int(used),
        "snapshots_left_out": int(count - used),
        "measured": measured,
        "simulated": simulated,
        "difference": difference,
        "rms_c_rel": float(np.sqrt(np.mean((sim_c_rel - meas_c_rel) ** 2))),
        "rms_a_rel": float(np.sqrt(np.mean((sim_a_rel - meas_a_rel) ** 2))),
        "max_abs_c_rel": float(np.max(np.abs(sim_c_rel - meas_c_rel))),
        "max_abs_a_rel": float(np.max(np.abs(sim_a_rel - meas_a_rel))),
        "units": {"axis_at_c_max": unit, "c_max_rise_pct": "%", "c_drop_from_max_pct": "%", "a_change_pct": "%",
                  "c_change_pct": "%", "volume_change_pct": "%", "a0_A": "Angstrom", "c0_A": "Angstrom",
                  "volume0_A3": "Angstrom^3", "rms_c_rel": "1", "rms_a_rel": "1", "max_abs_c_rel": "1",
                  "max_abs_a_rel": "1", "difference": "simulated minus measured"},
    }
    k_sim, k_meas = int(np.argmax(cc)), int(np.argmax(mc))
    figure = {
        "axis": axis,
        "axis_label": AXIS_LABELS[axis],
        "axis_unit": unit,
        "simulated_x": sim_x,
        "simulated_a_rel": sim_a / ca[0],
        "simulated_c_rel": sim_c / cc[0],
        "measured_x": mx,
        "measured_a_rel": meas_a_rel,
        "measured_c_rel": meas_c_rel,
        "measured_a_err_rel": table.a_err[inside] / ma[0] if table.a_err is not None else None,
        "measured_c_err_rel": table.c_err[inside] / mc[0] if table.c_err is not None else None,
        "simulated_c_max": (float(cx[k_sim]), float(cc[k_sim] / cc[0])),
        "measured_c_max": (float(mx[k_meas]), float(mc[k_meas] / mc[0])),
        "simulated_label": f"simulated ({_label(ds)})",
        "measured_label": f"measured ({Path(table.path).name})",
        "rms_c_rel": metrics["rms_c_rel"],
        "rms_a_rel": metrics["rms_a_rel"],
    }
    return metrics, figure


def _label(ds) -> str:
    """The run's legend label ("NC91 1C"), or "run" when its attributes do not say."""
    try:
        return run_label(ds)
    except (KeyError, ChemomechError):
        return "run"
