"""Electrode-level Ni K-edge XAS of a run, and its comparison with measured spectra.

A bulk (electrode-level) XAS measurement sees the whole particle: its spectrum is the
volume average of the local spectra,

    mu_el(E) = sum_i V_i mu(E; E_wl,i) / sum_i V_i,

with mu(E; E_wl) the normalised model spectrum of txm_xanes.ni_k_edge_spectra (arctangent
edge + pseudo-Voigt white line, rigidly placed by the white-line energy) and
E_wl,i = material.white_line_energy(x_i) of each voxel or shell (Ni valence by charge
balance; txm_xanes module docstring). Weights V_i: equal for the voxels inside the particle
(finite x_Li); for the 1-D sphere the exact shell volumes (4 pi / 3)(r_out^3 - r_in^3) =
int 4 pi r^2 dr over each cell. Each snapshot's spectrum is normalised as Athena/Larch do
(chemomech.analysis.xas_normalisation.normalise: E0 at the steepest rise, pre-edge line,
post-edge polynomial, edge step) and its white-line energy fitted on the normalised
spectrum (txm_xanes.fit_white_line), so that simulated and measured spectra go through the
same analysis.

The sum is evaluated on a fine grid of white-line energies: each cell's weight is shared
linearly between the two nearest nodes (spacing WHITE_LINE_NODE_EV), so the spectrum is
exact where mu is linear in E_wl between nodes; the error is at most
WHITE_LINE_NODE_EV^2 / 8 max|d^2 mu / dE^2| (~5e-7 of the edge step at 0.002 eV), and the
cost no longer grows with the number of voxels.

Comparison (compare_xas): each measured spectrum's E0 and white-line energy, from the same
normalisation and fit, is placed on the run by its label (voltage or SoC, in time order:
at the first point, at or after the previous spectrum's, where the run's snapshot voltage
or SoC passes the label, linear between snapshots; a label the run does not reach from
there is placed at the nearest snapshot and flagged), or without labels spread evenly over
the run's snapshots (first at the first, last at the last). The simulated E0 and white-line
energy there (linear between snapshots) are held against the measured values: the
difference simulated - measured per spectrum, the mean difference (an energy-calibration
offset of the beamline shows up here) and the RMS difference, with and without that offset.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from chemomech.errors import ChemomechError, ConfigError

WHITE_LINE_NODE_EV = 0.002  # spacing of the white-line energy nodes of the volume average [eV]
MAX_NODES = 20_000  # the node spacing grows beyond this many nodes (a span of 40 eV at 0.002)
SPECTRA_IN_FIGURE = 4  # measured spectra shown in the figure's spectrum panel


def electrode_energies_eV() -> np.ndarray:
    """Energies [eV] of the simulated electrode spectra: a step scan across the Ni K edge
    like a bulk XANES measurement, 2 eV steps 8200-8320 eV (pre-edge, 60 points), 0.1 eV
    steps 8320-8380 eV (edge and white line, 600 points; E0 is a grid point, so this is the
    resolution of E0), 1 eV steps 8380-8650 eV (post-edge, 271 points)."""
    return np.concatenate([
        np.arange(8200.0, 8320.0, 2.0),
        8320.0 + 0.1 * np.arange(600),
        np.arange(8380.0, 8650.5, 1.0),
    ])


def _cell_weights(ds: xr.Dataset):
    """(x_Li as (snapshot, cell) array, cell weights (cell,) or None for equal voxels):
    voxel runs: every voxel, NaN outside the particle; sphere-1d: the exact shell volumes
    (4 pi / 3)(r_out^3 - r_in^3) [m^3] of cells centred on r."""
    from chemomech.io.results import is_voxel_run

    if "x_li" not in ds or "snapshot" not in ds["x_li"].dims:
        raise ConfigError("the Dataset has no x_li(snapshot, ...) field; pass a run's result (cm.simulate or open_run)")
    if is_voxel_run(ds):
        x = ds["x_li"].transpose("snapshot", "z", "y", "x").values
        return x.reshape(x.shape[0], -1), None
    from chemomech.geometry.sphere import shell_volumes_from_centres

    x = ds["x_li"].transpose("snapshot", "r").values
    return x, 4.0 * np.pi / 3.0 * shell_volumes_from_centres(ds["r"].values)  # uniform or graded mesh


def volume_average_spectrum(white_line_eV, weights, energies_eV) -> np.ndarray:
    """sum_i w_i mu(E; E_wl,i) / sum_i w_i over the cells with finite E_wl (module
    docstring: weights shared linearly between white-line nodes WHITE_LINE_NODE_EV apart).
    white_line_eV (n,) [eV]; weights (n,) or None (equal); energies_eV (m,). Returns (m,)."""
    from chemomech.observables.txm_xanes import ni_k_edge_spectra

    white_line = np.asarray(white_line_eV, dtype=float).reshape(-1)
    weight = np.ones_like(white_line) if weights is None else np.asarray(weights, dtype=float).reshape(-1)
    inside = np.isfinite(white_line) & (weight > 0)
    if not inside.any():
        return np.full(np.size(energies_eV), np.nan)
    white_line, weight = white_line[inside], weight[inside]
    low = float(white_line.min())
    spacing = max(WHITE_LINE_NODE_EV, (float(white_line.max()) - low) / MAX_NODES)
    position = (white_line - low) / spacing
    below = np.floor(position).astype(int)
    above_share = position - below
    count = int(below.max()) + 2
    node_weight = (np.bincount(below, weight * (1.0 - above_share), count)
                   + np.bincount(below + 1, weight * above_share, count))
    used = node_weight > 0
    nodes = low + spacing * np.arange(count)[used]
    spectra = ni_k_edge_spectra(nodes, energies_eV, dtype=np.float64)
    return node_weight[used] @ spectra / weight.sum()


def electrode_spectra(ds: xr.Dataset, energies_eV=None) -> xr.Dataset:
    """The electrode-averaged Ni K-edge spectrum of every snapshot of a run (charge and
    discharge alike) and its analysis (module docstring): mu (snapshot, energy) [-] on
    energies_eV (default electrode_energies_eV()), the normalised spectrum, E0, edge step and
    white-line energy per snapshot [eV], the volume-mean planted white-line energy [eV], and
    the snapshot's SoC [-] and voltage [V]."""
    from chemomech.analysis.xas_normalisation import normalise
    from chemomech.io.results import is_voxel_run, run_material

    energies = electrode_energies_eV() if energies_eV is None else np.sort(np.asarray(energies_eV, dtype=float))
    material = run_material(ds)
    x, weights = _cell_weights(ds)
    count = x.shape[0]
    mu = np.full((count, energies.size), np.nan)
    norm = np.full_like(mu, np.nan)
    e0, step, white_line, planted = (np.full(count, np.nan) for _ in range(4))
    ranges = None
    for k in range(count):
        cell_white_line = material.white_line_energy(x[k])  # eV; NaN outside the particle
        finite = np.isfinite(cell_white_line)
        if not finite.any():
            continue
        w = np.ones(finite.sum()) if weights is None else weights[finite]
        planted[k] = float(np.sum(w * cell_white_line[finite]) / w.sum())
        mu[k] = volume_average_spectrum(cell_white_line[finite], w, energies)
        result = normalise(energies, mu[k])
        norm[k], e0[k], step[k], white_line[k] = result.norm, result.e0, result.edge_step, result.white_line_eV
        ranges = (result.pre1, result.pre2, result.norm1, result.norm2, result.nnorm)

    def snapshot_values(name):
        return np.asarray(ds[name].values, dtype=float) if name in ds else np.full(count, np.nan)

    out = xr.Dataset(coords={
        "snapshot": ("snapshot", np.arange(count)),
        "energy": ("energy", energies, {"units": "eV", "long_name": "X-ray energy"}),
    })
    out["mu"] = (("snapshot", "energy"), mu, {"units": "1", "long_name": "electrode-averaged Ni K-edge absorption "
                                                                        "(model, edge step 1)"})
    out["norm"] = (("snapshot", "energy"), norm, {"units": "1", "long_name": "normalised absorption (Larch pre_edge)"})
    out["e0"] = ("snapshot", e0, {"units": "eV", "long_name": "edge energy E0 (steepest rise, Larch find_e0)"})
    out["edge_step"] = ("snapshot", step, {"units": "1", "long_name": "edge step"})
    out["white_line_energy"] = ("snapshot", white_line, {"units": "eV", "long_name": "white-line energy fitted on the "
                                                                                      "normalised spectrum"})
    out["white_line_planted_mean"] = ("snapshot", planted, {"units": "eV", "long_name": "volume-mean white-line "
                                                                                         "energy of the cells (no fit)"})
    out["soc"] = ("snapshot", snapshot_values("snapshot_soc"), {"units": "1", "long_name": "state of charge"})
    out["voltage"] = ("snapshot", snapshot_values("snapshot_voltage"), {"units": "V", "long_name": "cell voltage"})
    out["snapshot_time"] = ("snapshot", snapshot_values("snapshot_time"), {"units": "s"})
    out.attrs.update({
        "material": str(ds.attrs.get("material", "")),
        "geometry": "voxels (equal volumes)" if is_voxel_run(ds) else "sphere-1d (shell volumes)",
        "white_line_node_eV": WHITE_LINE_NODE_EV,
        "normalisation": "Larch pre_edge defaults" + (
            "" if ranges is None else
            f" (last snapshot: pre-edge {ranges[0]:g} to {ranges[1]:g} eV, post-edge {ranges[2]:g} to {ranges[3]:g} eV "
            f"from E0, degree {ranges[4]})"),
        "white_line_ni3_eV": float(material.white_line_ni3_ev),
        "white_line_shift_eV_per_valence": float(material.white_line_shift_ev),
    })
    return out


# ---- comparison with measured spectra ----------------------------------------------------

def _place_by_label(values: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Fractional snapshot positions t_i of labels (in time order) along the snapshot series
    `values` (SoC or voltage per snapshot, linear between snapshots): the first t at or
    after t_(i-1) where values(t) equals the label; if there is none, the snapshot at or
    after t_(i-1) nearest in value. Returns (t, placement note per label)."""
    positions, notes = [], []
    previous = 0.0
    for label in labels:
        found = None
        for k in range(int(np.floor(previous)), values.size - 1):
            a, b = values[k], values[k + 1]
            if min(a, b) <= label <= max(a, b):
                t = k + (0.0 if a == b else (label - a) / (b - a))
                if t >= previous:
                    found = t
                    break
        if found is None:
            start = int(np.ceil(previous))
            k = start + int(np.argmin(np.abs(values[start:] - label)))
            found = float(k)
            notes.append(f"label outside the run's range (after the previous spectrum): placed at the nearest "
                         f"snapshot, {k}")
        else:
            notes.append("placed by its label")
        positions.append(found)
        previous = found
    return np.asarray(positions), notes


def _at(series: np.ndarray, t: np.ndarray) -> np.ndarray:
    """series (snapshot,) linearly interpolated at fractional snapshot positions t."""
    return np.interp(t, np.arange(series.size), series)


def _plain_float(value) -> float | None:
    return float(value) if np.isfinite(value) else None


def _differences(simulated: np.ndarray, measured: np.ndarray) -> dict:
    """Mean and RMS of simulated - measured [eV] over the finite pairs, and the RMS after
    removing the mean (a calibration offset)."""
    d = simulated - measured
    d = d[np.isfinite(d)]
    if d.size == 0:
        return {"count": 0, "mean_difference_eV": None, "rms_difference_eV": None, "rms_after_offset_eV": None}
    return {"count": int(d.size), "mean_difference_eV": float(d.mean()),
            "rms_difference_eV": float(np.sqrt(np.mean(d**2))),
            "rms_after_offset_eV": float(np.sqrt(np.mean((d - d.mean()) ** 2)))}


def compare_xas(ds: xr.Dataset, spectra, energies_eV=None) -> tuple[dict, dict]:
    """Measured electrode spectra (xas_spectra.Spectrum, or file paths read with
    read_xas_spectra; in time order) against the run's electrode spectra on energies_eV
    (default electrode_energies_eV()), both normalised with Larch's defaults (module
    docstring). Returns (metrics for JSON: per spectrum its placement, SoC, voltage, E0 and
    white-line energy measured and simulated [eV] and their difference, simulated -
    measured; over all spectra the mean and RMS difference [eV]; figure data for
    plotting.compare_xas.plot_xas_comparison)."""
    from chemomech.analysis.xas_normalisation import normalise
    from chemomech.io.xas_spectra import read_xas_spectra

    items, spectra = [spectra] if isinstance(spectra, (str, Path)) else list(spectra), []
    for item in items:
        spectra.extend([item] if hasattr(item, "mu") else read_xas_spectra(item))
    if not spectra:
        raise ChemomechError("no measured XAS spectra given")
    simulated = electrode_spectra(ds, energies_eV)
    kinds = {s.label_kind for s in spectra}
    count = simulated.sizes["snapshot"]
    if kinds == {None}:
        axis = "soc"
        t = np.linspace(0.0, count - 1.0, len(spectra)) if len(spectra) > 1 else np.zeros(1)
        notes = ["no label: spread evenly over the run's snapshots"] * len(spectra)
        placement = "no labels: the spectra spread evenly over the run's snapshots (first at the first, last at the last)"
    elif None in kinds or len(kinds) > 1:
        unlabelled = [s.name for s in spectra if s.label_kind is None]
        raise ConfigError("label every spectrum, all by voltage or all by SoC; "
                          + (f"without a label: {', '.join(unlabelled[:4])}" if unlabelled else "both kinds given"))
    else:
        axis = kinds.pop()
        values = simulated["voltage" if axis == "voltage" else "soc"].values
        if not np.isfinite(values).all():
            raise ChemomechError(f"the run has no snapshot {axis}; label the spectra by "
                                 f"{'SoC' if axis == 'voltage' else 'voltage'} or give no labels")
        t, notes = _place_by_label(values, np.array([s.label for s in spectra], dtype=float))
        placement = (f"by {'voltage' if axis == 'voltage' else 'SoC'} label, in time order "
                     "(the first point where the run passes each label after the previous spectrum's)")

    sim_e0 = _at(simulated["e0"].values, t)
    sim_wl = _at(simulated["white_line_energy"].values, t)
    sim_soc = _at(simulated["soc"].values, t)
    sim_voltage = _at(simulated["voltage"].values, t)
    per_spectrum, measured_norm = [], []
    meas_e0, meas_wl = np.full(len(spectra), np.nan), np.full(len(spectra), np.nan)
    for i, spectrum in enumerate(spectra):
        result = normalise(spectrum.energy, spectrum.mu)
        meas_e0[i], meas_wl[i] = result.e0, result.white_line_eV
        measured_norm.append((result.energy, result.norm))
        per_spectrum.append({
            "file": spectrum.source, "column": spectrum.column, "notes": list(spectrum.notes),
            "label": spectrum.label, "label_kind": spectrum.label_kind, "label_origin": spectrum.label_origin,
            "placement": notes[i], "snapshot_position": float(t[i]),
            "soc": _plain_float(sim_soc[i]), "voltage_V": _plain_float(sim_voltage[i]),
            "measured_e0_eV": result.e0, "simulated_e0_eV": _plain_float(sim_e0[i]),
            "e0_difference_eV": _plain_float(sim_e0[i] - result.e0),
            "measured_white_line_eV": _plain_float(result.white_line_eV),
            "simulated_white_line_eV": _plain_float(sim_wl[i]),
            "white_line_difference_eV": _plain_float(sim_wl[i] - result.white_line_eV),
            "white_line_note": result.white_line_note,
            "measured_edge_step": result.edge_step,
            "normalisation": {"pre1_eV": result.pre1, "pre2_eV": result.pre2, "norm1_eV": result.norm1,
                              "norm2_eV": result.norm2, "nnorm": result.nnorm},
        })
    metrics = {
        "axis": axis, "placement": placement, "spectra": per_spectrum,
        "e0": _differences(sim_e0, meas_e0), "white_line": _differences(sim_wl, meas_wl),
        "difference": "simulated - measured", "units": "eV",
        "simulated_energies_eV": [float(simulated["energy"].values[0]), float(simulated["energy"].values[-1]),
                                  int(simulated.sizes["energy"])],
        "normalisation": "Larch pre_edge defaults (chemomech.analysis.xas_normalisation)",
    }
    shown = np.unique(np.linspace(0, len(spectra) - 1, min(len(spectra), SPECTRA_IN_FIGURE)).round().astype(int))
    figure = {
        "axis": axis,
        "simulated": {"soc": simulated["soc"].values, "voltage": simulated["voltage"].values,
                      "e0": simulated["e0"].values, "white_line": simulated["white_line_energy"].values},
        "measured": {"soc": sim_soc, "voltage": sim_voltage, "label": np.array([np.nan if s.label is None else s.label
                                                                             for s in spectra], dtype=float),
                     "e0": meas_e0, "white_line": meas_wl, "name": [s.name for s in spectra]},
        "spectra": [{"name": spectra[i].name, "e0": float(meas_e0[i]),
                     "measured_energy": measured_norm[i][0], "measured_norm": measured_norm[i][1],
                     "snapshot": int(round(t[i])), "simulated_energy": simulated["energy"].values,
                     "simulated_norm": simulated["norm"].values[int(round(t[i]))]} for i in shown],
    }
    return metrics, figure
