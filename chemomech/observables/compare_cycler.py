"""A run against a cycler file: capacities, coulombic efficiency, voltage curves and dQ/dV
of each cycle present in both (`chemomech compare RUN --cycler FILE`).

Both sides are cut alike (analysis.curves.voltage_capacity_curves; io.cycler.cycler_branches
for the file): per cycle a charge and a discharge branch, capacity q passed within the
branch [mAh/g] from 0 and voltage V [V]; CV holds stay in the charge branch, rests are left
out. The measured capacity is the file's net charge Q [mAh] over the mass of active
material m: q = Q / m [mAh/g] (m from the file, or mass_mg).

Cycle pairing: by cycle number when the run's and the file's first cycles have the same
number (both count from 1), otherwise in order (the i-th cycle of the file with the i-th of
the run; EC-Lab counts from 0). metrics["cycle_pairing"] says which.

Figures of merit per paired cycle:
- charge and discharge capacity of both [mAh/g] (the run's `charge_capacity` and
  `discharge_capacity`; the file's from io.cycler.cycler_cycles, counted the same way) and
  their differences (simulated - measured); coulombic efficiency CE = discharge / charge.
- RMS voltage difference of each branch over the capacity range both cover,
      [q_lo, q_hi] = [max(q_sim[0], q_meas[0]), min(q_sim[-1], q_meas[-1])],
      dV_rms = sqrt(mean_j (V_sim(q_j) - V_meas(q_j))^2)       [V]
  on GRID_POINTS evenly spaced q_j, each curve linearly interpolated (q made non-decreasing
  by its running maximum first: noise in a measured counter); also the mean (signed) and
  the largest |difference|.
- dQ/dV of both (analysis.differential_capacity.dqdv, constant-current samples only, as
  run_dqdv does for a run), the labelled phase-transition peaks of both and, per label
  found in both, the voltage difference (simulated - measured) [V].
Over all paired cycles: capacity retention, last / first discharge capacity, of both when
at least two paired cycles have a discharge.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chemomech.errors import ChemomechError

GRID_POINTS = 1000    # capacity points of the RMS voltage difference
FIGURE_CURVES = 12    # paired cycles whose voltage curves the figure keeps
FIGURE_POINTS = 2000  # points kept per branch for the figure
PAIRINGS = ("auto", "number", "order")


def compare_cycler(ds, data, mass_mg: float | None = None, pairing: str = "auto",
                   columns: str | dict | None = None) -> tuple[dict, dict]:
    """A run (cm.simulate result or an opened result.nc) against a cycler file (CyclerData
    or its path, read with io.cycler.read_cycler and the column map `columns`): the figures
    of merit of the module docstring for each cycle present in both. `mass_mg` [mg], the
    mass of active material, wins over the file's; without either, a one-line error asks
    for --cycler-mass-mg. pairing: "auto" (module docstring), "number" or "order".
    Returns (metrics for JSON, arrays for plotting.compare_cycler.plot_cycler_comparison)."""
    from chemomech.analysis.curves import voltage_capacity_curves
    from chemomech.analysis.differential_capacity import run_dqdv
    from chemomech.io.cycler import CyclerData, cycler_branches, cycler_cycles, read_cycler, specific_capacity

    if pairing not in PAIRINGS:
        raise ChemomechError(f"pairing = {pairing!r}; allowed: {', '.join(PAIRINGS)}")
    if not isinstance(data, CyclerData):
        data = read_cycler(data, columns=columns, mass_mg=mass_mg)
    for name in ("voltage", "capacity", "current_density", "step_index", "cycle_index"):
        if name not in ds:
            raise ChemomechError(f"the run has no {name!r} time series; pass a cm.simulate result or a run's result.nc")
    _, mass_g, mass_origin = specific_capacity(data, mass_mg)

    simulated_curves = {c["cycle"]: c for c in voltage_capacity_curves(ds)
                        if c["charge"] is not None or c["discharge"] is not None}
    simulated_table = _run_cycle_table(ds)
    measured_curves = {c["cycle"]: c for c in cycler_branches(data, mass_mg)}
    measured_table = {row["cycle"]: row for row in cycler_cycles(data, mass_mg)}
    run_cycles = sorted(simulated_curves)
    file_cycles = sorted(measured_curves)
    if not run_cycles or not file_cycles:
        side = "the run" if not run_cycles else f"{data.path}"
        raise ChemomechError(f"{side} has no charge or discharge to compare")
    pairs, pairing_text = pair_cycles(run_cycles, file_cycles, pairing)
    if not pairs:
        raise ChemomechError(f"no cycle is in both the run (cycles {_span(run_cycles)}) and {data.path} (cycles "
                             f"{_span(file_cycles)}); use pairing='order'")

    simulated_dqdv = {entry["cycle"]: entry for entry in run_dqdv(ds, cycles=[r for r, _ in pairs])}
    measured_cc = {c["cycle"]: c for c in cycler_branches(data, mass_mg, constant_current_only=True)}

    per_cycle = []
    for run_cycle, file_cycle in pairs:
        sim, meas = simulated_table[run_cycle], measured_table[file_cycle]
        entry = {"run_cycle": run_cycle, "file_cycle": file_cycle}
        for name in ("charge_capacity", "discharge_capacity", "coulombic_efficiency"):
            entry[name] = _both(sim[name], meas[name])
        entry["charge_capacity"]["units"] = entry["discharge_capacity"]["units"] = "mAh/g"
        entry["voltage_difference"] = {}
        entry["dqdv_peaks"] = {}
        measured_dqdv = _branch_dqdv(measured_cc.get(file_cycle))
        for direction in ("charge", "discharge"):
            entry["voltage_difference"][direction] = voltage_difference(
                simulated_curves[run_cycle][direction], measured_curves[file_cycle][direction])
            simulated_peaks = simulated_dqdv.get(run_cycle, {}).get(direction)
            entry["dqdv_peaks"][direction] = _peak_comparison(simulated_peaks, measured_dqdv[direction])
        per_cycle.append(entry)

    metrics = {
        "file": data.path,
        "source": data.source,
        "columns": data.columns,
        "notes": data.notes,
        "mass_mg": None if mass_g is None else mass_g * 1e3,
        "mass_origin": mass_origin,
        "cycle_pairing": pairing_text,
        "run_cycles": run_cycles,
        "file_cycles": file_cycles,
        "cycles": per_cycle,
        "retention": _retention(per_cycle),
        "rms_voltage_difference_max_V": _largest([e["voltage_difference"][d]["rms_V"] for e in per_cycle
                                                  for d in ("charge", "discharge")]),
    }
    figure = _figure(data, pairs, per_cycle, simulated_curves, measured_curves, simulated_dqdv, measured_cc,
                     pairing_text)
    return metrics, figure


def pair_cycles(run_cycles: list[int], file_cycles: list[int], pairing: str = "auto") -> tuple[list, str]:
    """[(run cycle, file cycle)] and a sentence saying how they were paired: "number"
    (the cycles in both), "order" (i-th with i-th), "auto" (by number when the first
    cycles have the same number, else in order)."""
    if pairing == "auto":
        pairing = "number" if run_cycles[0] == file_cycles[0] else "order"
        reason = (f"the first cycles of both are numbered {run_cycles[0]}" if pairing == "number" else
                  f"the file's cycles start at {file_cycles[0]}, the run's at {run_cycles[0]}")
    else:
        reason = "as asked"
    if pairing == "number":
        common = sorted(set(run_cycles) & set(file_cycles))
        return [(c, c) for c in common], f"by cycle number ({reason}): {len(common)} cycles in both"
    pairs = list(zip(run_cycles, file_cycles))
    text = (f"in order ({reason}): the file's cycle {file_cycles[0]} with the run's cycle {run_cycles[0]}, ..., "
            f"{len(pairs)} pairs")
    return pairs, text


def voltage_difference(simulated, measured, points: int = GRID_POINTS) -> dict:
    """RMS, mean (simulated - measured) and largest |difference| of two branches (q, V)
    [mAh/g, V] over the capacity range both cover (module docstring); all None when a
    branch is missing or the ranges do not overlap."""
    empty = {"rms_V": None, "mean_V": None, "max_abs_V": None, "capacity_range_mAh_g": None, "points": 0}
    if simulated is None or measured is None:
        return empty
    (q_s, v_s), (q_m, v_m) = simulated, measured
    q_s, q_m = np.maximum.accumulate(q_s), np.maximum.accumulate(q_m)
    low, high = max(q_s[0], q_m[0]), min(q_s[-1], q_m[-1])
    if not high > low:
        return empty
    grid = np.linspace(low, high, points)
    difference = np.interp(grid, q_s, v_s) - np.interp(grid, q_m, v_m)
    return {"rms_V": float(np.sqrt(np.mean(difference ** 2))), "mean_V": float(difference.mean()),
            "max_abs_V": float(np.max(np.abs(difference))), "capacity_range_mAh_g": [float(low), float(high)],
            "points": points}


def _run_cycle_table(ds) -> dict:
    """{cycle: {"charge_capacity", "discharge_capacity", "coulombic_efficiency"}} of the
    run: its per-cycle variables when it has them, else counted from its time series as
    io.cycler.cycler_cycles counts a file (charge steps' increments of `capacity`)."""
    if "cycle" in ds.dims and "charge_capacity" in ds:
        charge = ds["charge_capacity"].values
        discharge = ds["discharge_capacity"].values
        efficiency = (ds["coulombic_efficiency"].values if "coulombic_efficiency" in ds
                      else np.where(charge > 0, discharge / np.where(charge > 0, charge, 1.0), np.nan))
        return {int(c): {"charge_capacity": float(q), "discharge_capacity": float(d),
                         "coulombic_efficiency": float(e) if np.isfinite(e) else None}
                for c, q, d, e in zip(ds["cycle"].values, charge, discharge, efficiency)}
    from chemomech.analysis.curves import _step_direction

    direction = _step_direction(ds)
    q = ds["capacity"].values
    increment = np.diff(q, prepend=q[0])
    table = {}
    for cycle in np.unique(ds["cycle_index"].values):
        inside = ds["cycle_index"].values == cycle
        charge = float(increment[inside & (direction > 0)].sum())
        discharge = float(-increment[inside & (direction < 0)].sum())
        table[int(cycle)] = {"charge_capacity": charge, "discharge_capacity": discharge,
                             "coulombic_efficiency": discharge / charge if charge > 0 else None}
    return table


def _both(simulated, measured) -> dict:
    difference = None if simulated is None or measured is None else simulated - measured
    return {"simulated": simulated, "measured": measured, "difference": difference}


def _branch_dqdv(curve) -> dict:
    """dQ/dV of the constant-current branches of one cycle of the file, with the guard of
    run_dqdv (at least 3 samples over 3 voltage bins)."""
    from chemomech.analysis.differential_capacity import BIN_V, dqdv

    out = {"charge": None, "discharge": None}
    if curve is None:
        return out
    for direction in out:
        branch = curve[direction]
        if branch is not None and branch[1].size >= 3 and np.ptp(branch[1]) >= 3 * BIN_V:
            q, v = branch
            out[direction] = dqdv(v, q, direction)
    return out


def _peaks(curve) -> list[dict]:
    return [{"label": p.label, "voltage_V": p.voltage, "height_mAh_g_V": p.height} for p in curve.peaks]


def _peak_comparison(simulated, measured) -> dict:
    """Peaks of both dQ/dV curves and, per transition label found in both, the voltage
    difference simulated - measured [V]."""
    out = {"simulated": _peaks(simulated) if simulated is not None else None,
           "measured": _peaks(measured) if measured is not None else None, "difference_V": {}}
    if simulated is None or measured is None:
        return out
    labelled = {p.label: p.voltage for p in measured.peaks if p.label}
    for peak in simulated.peaks:
        if peak.label and peak.label in labelled:
            out["difference_V"][peak.label] = peak.voltage - labelled[peak.label]
    return out


def _retention(per_cycle: list[dict]) -> dict | None:
    """Last / first discharge capacity over the paired cycles with a discharge in both."""
    with_discharge = [e for e in per_cycle if (e["discharge_capacity"]["simulated"] or 0) > 0
                      and (e["discharge_capacity"]["measured"] or 0) > 0]
    if len(with_discharge) < 2:
        return None
    first, last = with_discharge[0], with_discharge[-1]
    simulated = last["discharge_capacity"]["simulated"] / first["discharge_capacity"]["simulated"]
    measured = last["discharge_capacity"]["measured"] / first["discharge_capacity"]["measured"]
    return {"first_run_cycle": first["run_cycle"], "last_run_cycle": last["run_cycle"],
            "first_file_cycle": first["file_cycle"], "last_file_cycle": last["file_cycle"],
            **_both(simulated, measured)}


def _largest(values: list) -> float | None:
    finite = [v for v in values if v is not None]
    return max(finite) if finite else None


def _span(cycles: list[int]) -> str:
    return f"{cycles[0]}-{cycles[-1]}" if len(cycles) > 1 else f"{cycles[0]}"


def _figure_indices(count: int, limit: int = FIGURE_CURVES) -> list[int]:
    """Which paired cycles the figure draws: all up to `limit`, else the first three and
    evenly spaced ones up to the last."""
    if count <= limit:
        return list(range(count))
    rest = np.linspace(3, count - 1, limit - 3).round().astype(int)
    return sorted({0, 1, 2, *rest.tolist()})


def _thin(branch):
    if branch is None:
        return None
    q, v = branch
    if q.size <= FIGURE_POINTS:
        return np.asarray(q), np.asarray(v)
    keep = np.linspace(0, q.size - 1, FIGURE_POINTS).round().astype(int)
    return np.asarray(q)[keep], np.asarray(v)[keep]


def _figure(data, pairs, per_cycle, simulated_curves, measured_curves, simulated_dqdv, measured_cc,
            pairing_text) -> dict:
    """The arrays plot_cycler_comparison draws (curves of at most FIGURE_CURVES paired
    cycles, FIGURE_POINTS points a branch; the cycle table; dQ/dV of the first paired cycle
    with a dQ/dV on both sides)."""
    curves = []
    for i in _figure_indices(len(pairs)):
        run_cycle, file_cycle = pairs[i]
        curves.append({"run_cycle": run_cycle, "file_cycle": file_cycle,
                       "simulated": {d: _thin(simulated_curves[run_cycle][d]) for d in ("charge", "discharge")},
                       "measured": {d: _thin(measured_curves[file_cycle][d]) for d in ("charge", "discharge")}})
    table = {name: [] for name in ("run_cycle", "file_cycle", "simulated_charge", "measured_charge",
                                   "simulated_discharge", "measured_discharge", "simulated_ce", "measured_ce")}
    for entry in per_cycle:
        table["run_cycle"].append(entry["run_cycle"])
        table["file_cycle"].append(entry["file_cycle"])
        for side in ("simulated", "measured"):
            table[f"{side}_charge"].append(entry["charge_capacity"][side])
            table[f"{side}_discharge"].append(entry["discharge_capacity"][side])
            table[f"{side}_ce"].append(entry["coulombic_efficiency"][side])
    table = {name: np.array([np.nan if v is None else v for v in values], dtype=float)
             for name, values in table.items()}
    dqdv = None
    for run_cycle, file_cycle in pairs:
        simulated = simulated_dqdv.get(run_cycle, {"charge": None, "discharge": None})
        measured = _branch_dqdv(measured_cc.get(file_cycle))
        if any(simulated.get(d) is not None and measured[d] is not None for d in ("charge", "discharge")):
            dqdv = {"run_cycle": run_cycle, "file_cycle": file_cycle,
                    "simulated": {d: simulated.get(d) for d in ("charge", "discharge")}, "measured": measured}
            break
    return {"file": Path(data.path).name, "pairing": pairing_text, "curves": curves, "table": table, "dqdv": dqdv}
