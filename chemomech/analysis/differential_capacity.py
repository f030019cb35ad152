"""Differential capacity dQ/dV of charge and discharge curves, simulated or measured, and
the phase-transition peaks of Ni-rich layered oxides.

Voltage binning. A curve is samples (V_k, q_k): voltage [V] and capacity passed in the
branch [mAh/g]. The charge of each sample interval, dq_k = q_(k+1) - q_k, is spread evenly
over the voltages the interval crosses, [min(V_k, V_(k+1)), max(...)] (an interval at one
voltage, as a CV hold, puts all of it at that voltage). With Q(v) the charge so assigned
below v,

    (dQ/dV)_j = (Q(v_j + dv/2) - Q(v_j - dv/2)) / dv        [mAh/(g V)]

on bins of width dv centred on v_j. The integral of dQ/dV over V is the capacity of the
curve exactly, whatever the sampling, and noisy voltages that step back and forth only
spread their charge over the voltages they visit (no division by a small dV).

Smoothing that keeps peak positions. The binned dQ/dV is smoothed with a Savitzky-Golay
filter (local least-squares polynomial of degree 2 over a window of `smooth_V` volts;
Savitzky & Golay, Anal. Chem. 36, 1627 (1964)): its weights are symmetric, so the
smoothed curve of a peak that is symmetric about v_p is symmetric about v_p too, and the
peak stays at v_p; degree 2 keeps the area and the second moment of the peak, so a peak
wider than the window keeps its height and width to first order. Peak voltages are refined
below the bin width by the vertex of the parabola through the highest bin and its
neighbours.

Peaks. scipy.signal.find_peaks on the smoothed curve (prominence above `prominence` times
the curve's maximum); each of the three phase transitions of Ni-rich LiNi_(1-y)M_yO2 on
charge is the most prominent peak in its voltage window (PEAK_WINDOWS_V; Li, Reimers & Dahn,
Solid State Ionics 67, 123 (1993) for LiNiO2; Ryu et al., Chem. Mater. 30, 1155 (2018)
for Ni-rich NCM): H1-M about 3.6-3.7 V, M-H2 about 4.0 V, H2-H3 about 4.2 V; on discharge
the reverse transitions sit a few tens of mV lower (DISCHARGE_SHIFT_V).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BIN_V = 0.002    # default bin width [V]
SMOOTH_V = 0.02  # default Savitzky-Golay window [V]
PEAK_WINDOWS_V = {"H1-M": (3.55, 3.80), "M-H2": (3.90, 4.10), "H2-H3": (4.12, 4.30)}  # on charge [V]
DISCHARGE_SHIFT_V = -0.03  # the discharge windows are the charge windows shifted by this [V]
PROMINENCE = 0.05  # smallest peak prominence, as a fraction of the curve's maximum


@dataclass
class Peak:
    label: str        # "H1-M", "M-H2", "H2-H3", or "" for a peak outside the windows
    voltage: float    # [V], refined below the bin width
    height: float     # smoothed dQ/dV at the peak [mAh/(g V)]


@dataclass
class DifferentialCapacity:
    """dQ/dV of one branch on voltage bins (module docstring)."""
    voltage: np.ndarray   # bin centres [V]
    dqdv: np.ndarray      # smoothed dQ/dV [mAh/(g V)], >= 0 in the branch's own direction
    raw: np.ndarray       # binned dQ/dV before smoothing [mAh/(g V)]
    direction: str        # "charge" or "discharge"
    bin_V: float
    smooth_V: float
    peaks: list[Peak] = field(default_factory=list)


def charge_below(edges: np.ndarray, voltage: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Q(v) at each voltage of `edges`: the charge of every sample interval spread evenly
    over the voltages it crosses, summed below v (module docstring). For an interval from
    a to b > a with charge dq, its part below v is dq clip((v - a)/(b - a), 0, 1) =
    s ((v - a)+ - (v - b)+), s = dq/(b - a); sums of s (v - c)+ over sorted corners c are
    cumulative sums, so the cost is O((K + E) log K) for K intervals and E edges."""
    v0, v1 = voltage[:-1], voltage[1:]
    dq = np.diff(capacity)
    low, high = np.minimum(v0, v1), np.maximum(v0, v1)
    flat = high - low <= 1e-12 * np.maximum(1.0, np.abs(high))
    out = np.zeros(edges.size)
    if np.any(flat):  # all the charge at one voltage: a step in Q
        order = np.argsort(low[flat])
        at, charge = low[flat][order], np.cumsum(dq[flat][order])
        index = np.searchsorted(at, edges, side="left")
        out += np.where(index > 0, charge[np.maximum(index - 1, 0)], 0.0)
    ramps = ~flat
    slope = dq[ramps] / (high[ramps] - low[ramps])
    corners = np.concatenate([low[ramps], high[ramps]])
    weights = np.concatenate([slope, -slope])
    order = np.argsort(corners)
    corners, weights = corners[order], weights[order]
    s1, s2 = np.cumsum(weights), np.cumsum(weights * corners)
    index = np.searchsorted(corners, edges, side="left")
    below = index > 0
    out[below] += edges[below] * s1[index[below] - 1] - s2[index[below] - 1]
    return out


def dqdv(voltage, capacity, direction: str = "charge", bin_V: float = BIN_V, smooth_V: float = SMOOTH_V,
         prominence: float = PROMINENCE) -> DifferentialCapacity:
    """dQ/dV [mAh/(g V)] of one branch: `voltage` [V] and `capacity` [mAh/g] passed in it
    (counted up from 0 on charge and on discharge), in time order; bins of `bin_V` volts,
    Savitzky-Golay window `smooth_V` volts (0: no smoothing), with the labelled peaks."""
    from scipy.signal import savgol_filter

    voltage = np.asarray(voltage, dtype=float)
    capacity = np.asarray(capacity, dtype=float)
    if direction not in ("charge", "discharge"):
        raise ValueError(f"direction = {direction!r}; allowed: 'charge', 'discharge'")
    if voltage.shape != capacity.shape or voltage.ndim != 1:
        raise ValueError(f"voltage and capacity must be 1-D arrays of one length (got {voltage.shape}, {capacity.shape})")
    keep = np.isfinite(voltage) & np.isfinite(capacity)
    voltage, capacity = voltage[keep], capacity[keep]
    if voltage.size < 3 or np.ptp(voltage) < 3 * bin_V:
        raise ValueError(f"a dQ/dV needs at least 3 samples spanning 3 bins of {bin_V:g} V "
                         f"(got {voltage.size} samples over {np.ptp(voltage) if voltage.size else 0.0:.4f} V)")
    first = np.floor(voltage.min() / bin_V) * bin_V
    count = int(np.ceil((voltage.max() - first) / bin_V - 1e-9)) + 1
    edges = first + bin_V * np.arange(count + 1) - 0.5 * bin_V
    raw = np.diff(charge_below(edges, voltage, capacity)) / bin_V
    centres = 0.5 * (edges[1:] + edges[:-1])
    window = int(round(smooth_V / bin_V)) | 1  # odd
    smooth = raw.copy()
    if smooth_V > 0 and window >= 5 and window <= raw.size:
        smooth = savgol_filter(raw, window, 2, mode="interp")
    curve = DifferentialCapacity(centres, smooth, raw, direction, float(bin_V), float(smooth_V))
    curve.peaks = transition_peaks(curve, prominence)
    return curve


def transition_peaks(curve: DifferentialCapacity, prominence: float = PROMINENCE) -> list[Peak]:
    """The peaks of a dQ/dV curve above `prominence` x its maximum, in voltage order, each
    labelled with the transition whose window (PEAK_WINDOWS_V, shifted on discharge) holds
    it when it is the most prominent peak there ("" otherwise)."""
    from scipy.signal import find_peaks

    y = curve.dqdv
    top = float(np.max(y)) if y.size else 0.0
    if not top > 0:
        return []
    index, properties = find_peaks(y, prominence=prominence * top)
    shift = DISCHARGE_SHIFT_V if curve.direction == "discharge" else 0.0
    peaks = [Peak("", _vertex(curve.voltage, y, i), float(y[i])) for i in index]
    for label, (low, high) in PEAK_WINDOWS_V.items():
        inside = [k for k, peak in enumerate(peaks) if low + shift <= peak.voltage < high + shift]
        if inside:
            best = max(inside, key=lambda k: properties["prominences"][k])
            peaks[best].label = label
    return peaks


def _vertex(v: np.ndarray, y: np.ndarray, i: int) -> float:
    """Voltage of the vertex of the parabola through (v, y) at i - 1, i, i + 1 (the bin
    centre at the ends of the curve)."""
    if i == 0 or i == y.size - 1:
        return float(v[i])
    a, b, c = y[i - 1], y[i], y[i + 1]
    denominator = a - 2.0 * b + c
    if denominator >= 0.0:
        return float(v[i])
    return float(v[i] + 0.5 * (a - c) / denominator * (v[i + 1] - v[i]))


def run_dqdv(ds, cycles=None, bin_V: float = BIN_V, smooth_V: float = SMOOTH_V) -> list[dict]:
    """dQ/dV of a run (a cm.simulate result or an opened result.nc): for each cycle (all,
    or those in `cycles`) {"cycle": n, "charge": DifferentialCapacity or None,
    "discharge": ...} from the constant-current samples of its branches
    (analysis.curves.voltage_capacity_curves; constant-voltage holds and rests left out:
    their charge at one voltage is not a feature of the material)."""
    from chemomech.analysis.curves import constant_current_samples, voltage_capacity_curves

    curves = voltage_capacity_curves(ds, samples=constant_current_samples(ds))
    out = []
    for curve in curves:
        if cycles is not None and curve["cycle"] not in cycles:
            continue
        entry = {"cycle": curve["cycle"], "charge": None, "discharge": None}
        for direction in ("charge", "discharge"):
            branch = curve[direction]
            if branch is not None and branch[1].size >= 3 and np.ptp(branch[1]) >= 3 * bin_V:
                q, v = branch
                entry[direction] = dqdv(v, q, direction, bin_V, smooth_V)
        out.append(entry)
    return out
