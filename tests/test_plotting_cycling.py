"""Figures of cycling runs (chemomech.plotting.cycling) on hand-built results.

Reference values: the synthetic results are analytic. Cycle n charges by CHARGE[n] mAh/g
along V = 3.6 + 0.6 q/Q (N_CC samples, the first at q = 0), cycle 2 adds a CV hold at
4.2 V worth HOLD mAh/g (N_HOLD samples, the current decaying to exactly 0), then rests
(N_REST samples at zero current) and discharges by DISCHARGE[n] along V = 4.1 - 0.6 q/Q.
So each branch's largest q equals the capacity put in by construction (to rounding, 1e-9),
and the branch lengths are the sample counts above, the rests excluded.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from chemomech.errors import ChemomechError
from chemomech.io.results import rate_label
from chemomech.plotting.cycling import (
    cycles_to_draw,
    is_cycling_run,
    plot_cycling,
    plot_rate_test,
    voltage_capacity_curves,
)

CHARGE = {1: 200.0, 2: 190.0, 3: 185.0}  # mAh/g, constant-current part
DISCHARGE = {1: 180.0, 2: 178.0, 3: 176.0}  # mAh/g
HOLD = 4.0  # mAh/g, CV hold in cycle 2 only
N_CC, N_HOLD, N_REST = 21, 6, 5
CURRENT = 10.0  # A/m2 on the constant-current steps


def _cycling_result(charge=CHARGE, discharge=DISCHARGE, hold_cycle=2, discharge_rates=None):
    """A cycling Dataset: per cycle charge (+ CV hold in `hold_cycle`), rest, discharge, rest."""
    segments = []  # (capacity, voltage, current, cycle) per step
    capacity = 0.0
    for cycle in charge:
        q = np.linspace(0.0, charge[cycle], N_CC)
        segments.append((capacity + q, 3.6 + 0.6 * q / charge[cycle], np.full(N_CC, CURRENT), cycle))
        capacity += charge[cycle]
        if cycle == hold_cycle:
            q = HOLD * np.linspace(0.0, 1.0, N_HOLD + 1)[1:]
            segments.append((capacity + q, np.full(N_HOLD, 4.2), np.linspace(CURRENT / 2, 0.0, N_HOLD), cycle))
            capacity += HOLD
        segments.append((np.full(N_REST, capacity), np.full(N_REST, 4.15), np.zeros(N_REST), cycle))
        if cycle in discharge:
            q = np.linspace(0.0, discharge[cycle], N_CC)
            segments.append((capacity - q, 4.1 - 0.6 * q / discharge[cycle], np.full(N_CC, -CURRENT), cycle))
            capacity -= discharge[cycle]
            segments.append((np.full(N_REST, capacity), np.full(N_REST, 3.55), np.zeros(N_REST), cycle))
    sizes = [len(s[0]) for s in segments]
    cycles = np.array(list(charge))
    charge_total = np.array([charge[c] + (HOLD if c == hold_cycle else 0.0) for c in cycles])
    discharge_total = np.array([discharge.get(c, 0.0) for c in cycles])
    rates = discharge_rates or {c: (0.5 if c in discharge else np.nan) for c in cycles}
    return xr.Dataset(
        {
            "voltage": ("time", np.concatenate([s[1] for s in segments]), {"units": "V"}),
            "capacity": ("time", np.concatenate([s[0] for s in segments]), {"units": "mAh/g"}),
            "current_density": ("time", np.concatenate([s[2] for s in segments]), {"units": "A/m2"}),
            "step_index": ("time", np.repeat(np.arange(len(segments)), sizes)),
            "cycle_index": ("time", np.repeat([s[3] for s in segments], sizes)),
            "charge_capacity": ("cycle", charge_total, {"units": "mAh/g"}),
            "discharge_capacity": ("cycle", discharge_total, {"units": "mAh/g"}),
            "coulombic_efficiency": ("cycle", discharge_total / charge_total, {"units": "1"}),
            "cycle_discharge_c_rate": ("cycle", np.array([rates[c] for c in cycles]), {"units": "1/h"}),
        },
        coords={"time": ("time", np.arange(sum(sizes), dtype=float) * 60.0, {"units": "s"}),
                "cycle": ("cycle", cycles)},
        attrs={"material": "NC91"},
    )


def test_branches_hold_the_constructed_capacities():
    curves = voltage_capacity_curves(_cycling_result())
    assert [c["cycle"] for c in curves] == [1, 2, 3]
    for curve in curves:
        n = curve["cycle"]
        q_charge, v_charge = curve["charge"]
        q_discharge, v_discharge = curve["discharge"]
        hold = HOLD if n == 2 else 0.0
        assert len(q_charge) == len(v_charge) == N_CC + (N_HOLD if n == 2 else 0)
        assert len(q_discharge) == len(v_discharge) == N_CC
        assert q_charge[0] == pytest.approx(0.0, abs=1e-9)
        assert q_discharge[0] == pytest.approx(0.0, abs=1e-9)
        assert q_charge.max() == pytest.approx(CHARGE[n] + hold, abs=1e-9)
        assert q_discharge.max() == pytest.approx(DISCHARGE[n], abs=1e-9)
        np.testing.assert_allclose(v_charge[:N_CC], 3.6 + 0.6 * q_charge[:N_CC] / CHARGE[n], atol=1e-12)
        np.testing.assert_allclose(v_discharge, 4.1 - 0.6 * q_discharge / DISCHARGE[n], atol=1e-12)


def test_rests_are_left_out_and_the_hold_kept():
    ds = _cycling_result()
    curves = voltage_capacity_curves(ds)
    in_branches = sum(len(c[b][0]) for c in curves for b in ("charge", "discharge"))
    rest_samples = 6 * N_REST  # two rests per cycle
    assert in_branches == ds.sizes["time"] - rest_samples
    q_charge, v_charge = curves[1]["charge"]
    assert np.all(v_charge[N_CC:] == 4.2)  # the hold, its last sample at zero current included
    assert np.all(np.diff(q_charge) > 0)


def test_charge_only_cycle_has_no_discharge_branch():
    curves = voltage_capacity_curves(_cycling_result(charge={1: 200.0}, discharge={}))
    assert curves[0]["discharge"] is None
    assert curves[0]["charge"][0].max() == pytest.approx(200.0)


def test_is_cycling_run():
    assert is_cycling_run(_cycling_result())
    assert is_cycling_run(_cycling_result(charge={1: 200.0}, discharge={1: 180.0}))
    assert not is_cycling_run(_cycling_result(charge={1: 200.0}, discharge={}))
    assert not is_cycling_run(xr.Dataset({"voltage": ("time", [3.7, 3.8])}))


@pytest.mark.parametrize("suffix", [".png", ".pdf", ".svg"])
def test_plot_cycling_writes_a_file(tmp_path, suffix):
    path = plot_cycling(_cycling_result(), tmp_path / "figures" / f"cycling{suffix}")
    assert path == tmp_path / "figures" / f"cycling{suffix}"
    assert path.stat().st_size > 1000


def test_plot_cycling_of_many_cycles(tmp_path):
    n = 30
    charge = {c: 200.0 - 0.5 * c for c in range(1, n + 1)}
    discharge = {c: 0.99 * charge[c] for c in charge}
    ds = _cycling_result(charge=charge, discharge=discharge)
    path = plot_cycling(ds, tmp_path / "many.png", title="NC91, 30 cycles")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cycles_to_draw_thins_long_runs():
    assert cycles_to_draw([1, 2, 3]) == ([1, 2, 3], None)
    drawn, note = cycles_to_draw(list(range(1, 101)))
    assert drawn == [1, 2, 3, 20, 40, 60, 80, 100]
    assert "8 of 100" in note
    drawn, _ = cycles_to_draw(list(range(1, 14)))
    assert drawn[:3] == [1, 2, 3] and drawn[-1] == 13 and len(drawn) <= 12


def test_plot_rate_test_writes_a_file(tmp_path):
    rates = {1: 0.1, 2: 0.33, 3: 1.0, 4: 2.0, 5: 0.1}
    charge = {c: 200.0 for c in rates}
    discharge = {1: 195.0, 2: 188.0, 3: 170.0, 4: 150.0, 5: 193.0}
    ds = _cycling_result(charge=charge, discharge=discharge, discharge_rates=rates)
    path = plot_rate_test(ds, tmp_path / "rate.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_rate_test(ds, tmp_path / "rate.pdf").stat().st_size > 1000


def test_plot_rate_test_of_a_run_without_discharges(tmp_path):
    with pytest.raises(ChemomechError, match="discharge C-rate"):
        plot_rate_test(_cycling_result(charge={1: 200.0}, discharge={}), tmp_path / "rate.png")


@pytest.mark.parametrize("rate, label", [(0.1, "C/10"), (0.33, "C/3"), (1.0, "1C"), (2.0, "2C"),
                                         (0.5, "C/2"), (0.05, "C/20"), (1.5, "1.5C")])
def test_rate_label(rate, label):
    assert rate_label(rate) == label
