"""Charge and discharge branches of a run's time series, as a cycler would cut them.

A result holds, over `time` [s]: `voltage` [V], `capacity` [mAh/g] (net charge passed since
the start, positive on charge = delithiation), `current_density` [A/m2], `step_index` and
`cycle_index` (from 1). The figures of cycling runs (plotting.cycling) and the differential
capacity (analysis.differential_capacity) read their curves from here.
"""

from __future__ import annotations

import numpy as np
import xarray as xr


def voltage_capacity_curves(ds: xr.Dataset, samples: np.ndarray | None = None) -> list[dict]:
    """Charge and discharge branches of each cycle, as capacity passed within the branch
    [mAh/g] from 0 and voltage [V]:
        charge:    q = Q(t) - Q_start,   discharge:  q = Q_start - Q(t)
    where Q is the net `capacity` and Q_start its value just before the branch's first
    sample. A sample belongs to the branch of its step's direction (sign of the step's
    summed current), so a CV hold stays in the charge branch; rest steps are left out.
    `samples` (time indices, ascending) keeps only those samples (default: all).
    Returns [{"cycle": n, "charge": (q, v) or None, "discharge": (q, v) or None}]."""
    capacity = ds["capacity"].values
    voltage = ds["voltage"].values
    direction = _step_direction(ds)
    cycle_index = ds["cycle_index"].values
    chosen = np.arange(capacity.size) if samples is None else np.asarray(samples)
    order = chosen[np.argsort(cycle_index[chosen], kind="stable")]  # time order kept within each cycle
    cycles, starts = np.unique(cycle_index[order], return_index=True)
    curves = []
    for cycle, members in zip(cycles, np.split(order, starts[1:])):
        charge = _branch(capacity, voltage, members[direction[members] > 0], sign=1.0)
        discharge = _branch(capacity, voltage, members[direction[members] < 0], sign=-1.0)
        curves.append({"cycle": int(cycle), "charge": charge, "discharge": discharge})
    return curves


def _step_direction(ds: xr.Dataset) -> np.ndarray:
    """+1, -1 or 0 per time sample: the sign of the summed current of the sample's step."""
    steps, step_of_sample = np.unique(ds["step_index"].values, return_inverse=True)
    step_current = np.bincount(step_of_sample, weights=ds["current_density"].values, minlength=steps.size)
    return np.sign(step_current)[step_of_sample]


def _branch(capacity: np.ndarray, voltage: np.ndarray,
            samples: np.ndarray, sign: float) -> tuple[np.ndarray, np.ndarray] | None:
    """(q, v) at the time indices `samples`, q = sign * (capacity - capacity just before the
    first of them)."""
    if samples.size == 0:
        return None
    start = capacity[max(samples[0] - 1, 0)]
    return sign * (capacity[samples] - start), voltage[samples]


def constant_current_samples(ds: xr.Dataset, relative: float = 1e-6) -> np.ndarray:
    """Time indices of the samples in constant-current steps: steps whose current density
    varies by at most `relative` of its largest magnitude (CV holds, whose current decays,
    and rests, at zero current, are left out). The initial state (t = 0, no current yet)
    belongs to the first step and does not count against it."""
    current = ds["current_density"].values
    steps, step_of_sample = np.unique(ds["step_index"].values, return_inverse=True)
    counted = np.ones(current.size, dtype=bool)
    counted[0] = False  # the initial state at t = 0, recorded before any current flows
    top = np.zeros(steps.size)
    np.maximum.at(top, step_of_sample[counted], np.abs(current[counted]))
    low = np.full(steps.size, np.inf)
    high = np.full(steps.size, -np.inf)
    np.minimum.at(low, step_of_sample[counted], current[counted])
    np.maximum.at(high, step_of_sample[counted], current[counted])
    constant = (top > 0) & (high - low <= relative * top)
    return np.nonzero(constant[step_of_sample])[0]
