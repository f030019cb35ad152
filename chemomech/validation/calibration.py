"""Calibration rows: the shipped material files against the study's numbers.

The particle is the brief's calibration particle: a 2 um radius sphere, 100 radial cells,
charged at constant current from x_initial to 4.5 V (models/README.md "The calibration").
Targets and tolerances are the study's rows (../shared/physics-brief.md "Calibration
inputs"; README "Materials and calibration"):

    SoC at 4.5 V, C/10 and 1C             NC91 0.91 / 0.78, NM91 0.85 / 0.66   (+-0.02)
    c drop from its maximum to the end     NC91 6.0 %, NM91 3.6 % of c0 (C/10)  (+-0.6 %)
    unit-cell volume shrinkage at the end  NC91 7.8 %, NM91 5.9 % (C/10)        (+-0.8 %)
    D(NC91) / D(NM91) at 85 % SoC          > 4 (the study's GITT, end of charge)
    D(NC91) / D(NM91) at 40 % SoC          0.67-1.5 (alike before NM91's fall at ~50 % SoC)

Lattice figures are volume averages of a(x), c(x) over the sphere (powder XRD averages
over particles); c0 and V0 are the pristine values. validation/calibrate.py uses these
functions for the fit (`--fit`) and prints the same rows.
"""

from __future__ import annotations

from functools import lru_cache

from chemomech.geometry.sphere import SphereMesh
from chemomech.simulation.sphere import particle_lattice
from chemomech.protocol import cc_charge
from chemomech.transport.coupling import PhysicsOptions
from chemomech.transport.sphere_transport import run_sphere
from chemomech.validation.core import Outcome, between, new_figure, within

RADIUS = 2e-6  # m, the brief's calibration particle
CELLS = 100
V_MAX = 4.5  # V, the study's upper cutoff
STUDY = "the study (physics-brief 'Calibration inputs')"

TARGETS = {
    "nc91": {"soc_c10": 0.91, "soc_1c": 0.78, "c_drop_pct": 6.0, "volume_shrink_pct": 7.8},
    "nm91": {"soc_c10": 0.85, "soc_1c": 0.66, "c_drop_pct": 3.6, "volume_shrink_pct": 5.9},
}
TOLERANCE = {"soc_c10": 0.02, "soc_1c": 0.02, "c_drop_pct": 0.6, "volume_shrink_pct": 0.8}
SOURCE = {
    "soc_c10": "SoC at 4.5 V, C/10 (the study)",
    "soc_1c": "SoC at 4.5 V, 1C (the study)",
    "c_drop_pct": "c drop, H2 max to end of charge, C/10 [% of c0] (the study)",
    "volume_shrink_pct": "unit-cell volume shrinkage at end of C/10 charge [%] (the study)",
}
QUANTITY = {
    "soc_c10": "SoC at 4.5 V, C/10",
    "soc_1c": "SoC at 4.5 V, 1C",
    "c_drop_pct": "c drop max -> end, C/10 [% of c0]",
    "volume_shrink_pct": "cell volume shrinkage, C/10 [%]",
}
RATIO_END = (0.85, 4.0)  # SoC, lower bound of D(NC91)/D(NM91)
RATIO_MID = (0.40, 0.67, 1.5)  # SoC, bounds


def charge(material, c_rate, physics: PhysicsOptions = PhysicsOptions()):
    """CC charge of the calibration sphere to 4.5 V (a SphereSolution), with the coupling
    options `physics` (default: none, the Fickian model)."""
    return run_sphere(material, SphereMesh(RADIUS, CELLS), cc_charge(c_rate=c_rate, v_max=V_MAX),
                      physics=physics)


def soc_end(material, solution) -> float:
    """Nominal SoC at the end: charge removed [C/kg] / 3600 / nominal capacity [mAh/g]."""
    return solution.charge_passed[-1] / 3600.0 / material.capacity_nominal


def lattice_figures(material, solution) -> tuple[float, float]:
    """(c drop from the maximum to the end [% of c0], volume shrinkage [%]) of the
    volume-averaged lattice over the charge."""
    lattice = particle_lattice(material, solution.mesh, solution.states)
    c0, v0 = lattice["c"][0], lattice["volume"][0]
    return (
        100.0 * (lattice["c"].max() - lattice["c"][-1]) / c0,
        100.0 * (v0 - lattice["volume"][-1]) / v0,
    )


def model_figures(material, slow=None, fast=None, physics: PhysicsOptions = PhysicsOptions()) -> dict:
    """The four per-material figures from a C/10 and a 1C charge (run here, with the
    coupling options `physics`, if not given)."""
    slow = charge(material, 0.1, physics) if slow is None else slow
    fast = charge(material, 1.0, physics) if fast is None else fast
    c_drop, shrink = lattice_figures(material, slow)
    return {
        "soc_c10": soc_end(material, slow),
        "soc_1c": soc_end(material, fast),
        "c_drop_pct": c_drop,
        "volume_shrink_pct": shrink,
    }


def diffusivity_at_soc(material, soc: float) -> float:
    """In-plane D [m2/s] at the uniform state of nominal SoC `soc`:
    x = x_initial - soc * nominal / theoretical capacity."""
    x = material.x_initial - soc * material.capacity_nominal / material.capacity_theoretical
    return float(material.diffusivity(x))


# ---- the cases ------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _shipped_runs(key: str):
    """The shipped material and its C/10 and 1C calibration charges (cached: the
    calibration cases and their figures share them)."""
    from chemomech.materials import load_material

    material = load_material(key)
    return material, charge(material, 0.1), charge(material, 1.0)


def _voltage_figure(key: str):
    material, slow, fast = _shipped_runs(key)
    fig, ax = new_figure((5.5, 4.0))
    for solution, label, target in ((slow, "C/10", "soc_c10"), (fast, "1C", "soc_1c")):
        soc = solution.charge_passed / 3600.0 / material.capacity_nominal
        line, = ax.plot(soc, solution.voltage, label=f"model {label}")
        ax.axvline(TARGETS[key][target], color=line.get_color(), ls="--", lw=0.8,
                   label=f"study: SoC at 4.5 V, {label}")
    ax.set_xlabel("state of charge (270 mAh/g basis)")
    ax.set_ylabel("cell voltage [V]")
    ax.set_title(f"{material.name}: calibration sphere (R = 2 um) to 4.5 V")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def material_case(key: str) -> Outcome:
    """The four rows of one material (SoC at C/10 and 1C, c drop, volume shrinkage)."""
    material, slow, fast = _shipped_runs(key)
    figures = model_figures(material, slow, fast)
    rows = [
        within(f"{material.name}: {QUANTITY[name]}", figures[name], TARGETS[key][name], TOLERANCE[name],
               SOURCE[name])
        for name in TARGETS[key]
    ]
    text = (f"{material.name} on the calibration particle (2 um sphere, 100 cells, CC to 4.5 V). "
            "These rows were fitted (models/README.md): they check that the shipped files still hold the fit.")
    return Outcome(rows, {f"calibration_{key}_voltage.png": _voltage_figure(key)}, text)


def diffusivity_case() -> Outcome:
    from chemomech.materials import load_material

    nc, nm = load_material("nc91"), load_material("nm91")
    soc_end_, low = RATIO_END
    soc_mid, lo, hi = RATIO_MID
    end = diffusivity_at_soc(nc, soc_end_) / diffusivity_at_soc(nm, soc_end_)
    mid = diffusivity_at_soc(nc, soc_mid) / diffusivity_at_soc(nm, soc_mid)
    rows = [
        between(f"D(NC91)/D(NM91) at {soc_end_:.0%} SoC", end, low, None,
                "the study's GITT: NM91 >4x lower at end of charge"),
        between(f"D(NC91)/D(NM91) at {soc_mid:.0%} SoC", mid, lo, hi,
                "the study's GITT: alike before NM91's fall from ~50 % SoC"),
    ]
    text = "Ratio of the tabulated in-plane diffusivities at the uniform state of the given SoC."
    return Outcome(rows, {}, text)
