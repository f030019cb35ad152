"""Differential capacity dQ/dV (chemomech/analysis/differential_capacity.py) and its figure.

Reference values: a curve made of logistic steps Q(V) = A / (1 + exp(-(V - V0)/w)) has
dQ/dV = A / (4 w) at its maximum, at V = V0 exactly; a Gaussian dQ/dV integrates to an
error-function Q(V) and peaks at its centre. The binned dQ/dV integrates to the curve's
capacity exactly (charge conservation of the binning), and a symmetric smoothing of a
symmetric peak leaves its maximum in place (the Savitzky-Golay weights are symmetric).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import chemomech as cm
from chemomech.analysis.differential_capacity import charge_below, dqdv


def logistic(v, amplitude, centre, width):
    return amplitude / (1.0 + np.exp(-(v - centre) / width))


def two_plateau_charge(samples: int = 4000):
    """A Ni-rich-like charge: the H1-M step at 3.68 V (100 mAh/g, w = 10 mV) and the H2-H3
    step at 4.205 V (40 mAh/g, w = 12 mV) on a sloping background (30 mAh/g per V)."""
    v = np.linspace(3.4, 4.4, samples)
    q = logistic(v, 100.0, 3.68, 0.010) + logistic(v, 40.0, 4.205, 0.012) + 30.0 * (v - 3.4)
    return v, q - q[0]


def test_two_plateau_peaks_at_the_right_voltages_and_heights():
    v, q = two_plateau_charge()
    curve = dqdv(v, q, "charge", bin_V=0.002, smooth_V=0.02)
    labelled = {p.label: p for p in curve.peaks if p.label}
    assert set(labelled) == {"H1-M", "H2-H3"}
    assert labelled["H1-M"].voltage == pytest.approx(3.68, abs=1e-3)
    assert labelled["H2-H3"].voltage == pytest.approx(4.205, abs=1e-3)
    # heights A/(4w) plus the background 30, lowered a little by the 20 mV window
    assert labelled["H1-M"].height == pytest.approx(100.0 / 0.04 + 30.0, rel=0.03)
    assert labelled["H2-H3"].height == pytest.approx(40.0 / 0.048 + 30.0, rel=0.03)


def test_binning_conserves_the_charge_whatever_the_sampling():
    """sum(raw) * bin = q_end - q_start to round-off, for fine, coarse and uneven sampling."""
    rng = np.random.default_rng(1)
    for samples in (50, 400, 20_000):
        v, q = two_plateau_charge(samples)
        if samples == 400:  # uneven: drop a random half of the samples
            keep = np.sort(np.concatenate([[0, samples - 1], rng.choice(np.arange(1, samples - 1), 200, replace=False)]))
            v, q = v[keep], q[keep]
        curve = dqdv(v, q, smooth_V=0.0)
        assert curve.raw.sum() * curve.bin_V == pytest.approx(q[-1] - q[0], rel=1e-12)


def test_charge_below_against_a_hand_computed_case():
    """Two intervals: 2 mAh/g from 3.0 to 3.2 V (spread evenly), then 1 mAh/g at 3.2 V
    (a hold: all at one voltage)."""
    v = np.array([3.0, 3.2, 3.2])
    q = np.array([0.0, 2.0, 3.0])
    edges = np.array([2.9, 3.0, 3.1, 3.19, 3.2, 3.21])
    np.testing.assert_allclose(charge_below(edges, v, q), [0.0, 0.0, 1.0, 1.9, 2.0, 3.0], atol=1e-12)


def test_smoothing_keeps_the_position_of_a_symmetric_peak():
    """A Gaussian dQ/dV of sigma 15 mV centred off the bin grid (4.2037 V): the smoothed
    peak (20 and 40 mV windows) sits at 4.2037 V within 0.3 mV, and so does the raw one."""
    centre, sigma, area = 4.2037, 0.015, 50.0
    v = np.linspace(3.9, 4.5, 6001)
    q = 0.5 * area * (1.0 + np.vectorize(math.erf)((v - centre) / (sigma * math.sqrt(2.0))))
    for smooth in (0.0, 0.02, 0.04):
        curve = dqdv(v, q, smooth_V=smooth)
        peak = max(curve.peaks, key=lambda p: p.height)
        assert peak.voltage == pytest.approx(centre, abs=3e-4), smooth
        assert peak.label == "H2-H3"


def test_noisy_measured_voltages_keep_the_peaks():
    """Voltage noise of 1 mV (samples step back and forth) on the two-plateau curve: the
    labelled peaks stay within 3 mV of 3.68 and 4.205 V."""
    v, q = two_plateau_charge(20_000)
    noisy = v + np.random.default_rng(7).normal(0.0, 0.001, v.size)
    curve = dqdv(noisy, q, smooth_V=0.03)
    labelled = {p.label: p.voltage for p in curve.peaks if p.label}
    assert labelled["H1-M"] == pytest.approx(3.68, abs=3e-3)
    assert labelled["H2-H3"] == pytest.approx(4.205, abs=3e-3)


def test_discharge_peaks_are_labelled_in_the_shifted_windows():
    """The same steps 20 mV lower, passed downward in voltage as a discharge: positive
    dQ/dV magnitudes, peaks at 3.66 and 4.185 V labelled H1-M and H2-H3."""
    v, q = two_plateau_charge()
    down = (v - 0.02)[::-1]
    passed = (q[-1] - q)[::-1]
    curve = dqdv(down, passed, "discharge")
    labelled = {p.label: p.voltage for p in curve.peaks if p.label}
    assert labelled["H1-M"] == pytest.approx(3.66, abs=1e-3)
    assert labelled["H2-H3"] == pytest.approx(4.185, abs=1e-3)
    assert (curve.dqdv > -1.0).all()


def test_too_short_a_curve_is_a_clear_error():
    with pytest.raises(ValueError, match="needs at least 3 samples spanning 3 bins"):
        dqdv([4.0, 4.001], [0.0, 1.0])
    with pytest.raises(ValueError, match="direction = 'up'"):
        dqdv([3.0, 3.5, 4.0], [0.0, 1.0, 2.0], "up")


def test_run_dqdv_leaves_out_the_cv_hold_and_the_plot(tmp_path):
    """A 1-D charge at 1C to 4.3 V with a CV hold, then a discharge: the charge branch of
    dQ/dV holds only the constant-current charge (its integral = the CC step's capacity,
    not the hold's); `chemomech plot RUN --dqdv` writes the figure."""
    from chemomech.cli.main import main
    from chemomech.io.rundir import write_run_directory
    from chemomech.simulation.run import summary_of

    config = {"material": "nc91", "particle": {"geometry": "sphere-1d", "radius_um": 1.0, "cells": 30},
              "protocol": {"kind": "experiment", "blocks": [{"repeat": 1, "steps": [
                  "Charge at 1C until 4.3 V", "Hold at 4.3 V until C/20", "Discharge at 1C until 3.0 V"]}]},
              "output": {"snapshots": 2}}
    ds = cm.simulate(config)
    (curve,) = cm.analysis.run_dqdv(ds)
    charge = curve["charge"]
    steps = ds["step_index"].values
    cc_capacity = ds["capacity"].values[steps == 0].max()
    assert charge.raw.sum() * charge.bin_V == pytest.approx(cc_capacity, rel=1e-9)
    assert ds["capacity"].values[steps == 1].max() > cc_capacity + 1.0  # the hold passed charge, left out
    assert curve["discharge"] is not None and curve["discharge"].raw.sum() > 0
    write_run_directory(tmp_path / "run", config, ds, summary_of(ds))
    assert main(["plot", str(tmp_path / "run"), "--dqdv", "--out", str(tmp_path / "dqdv.png")]) == 0
    assert (tmp_path / "dqdv.png").read_bytes()[:4] == b"\x89PNG"
