"""Calibration of models/nc91.toml and models/nm91.toml to the study's rows.

    python validation/calibrate.py            # print target vs model for every row
    python validation/calibrate.py --fit      # re-fit, print the fitted tables
    python validation/calibrate.py --fit --write   # ... and write them into models/*.toml

The particle is the calibration particle of the brief: a 2 um radius sphere, 100 radial
cells, charged from x_initial at constant current to 4.5 V.

Rows (targets from the study, see ../shared/physics-brief.md "Calibration inputs"):
  SoC at 4.5 V, C/10 and 1C             NC91 0.91 / 0.78, NM91 0.85 / 0.66   (+-0.02)
  c drop from its maximum to the end     NC91 6.0 %, NM91 3.6 % of c0 (C/10)  (+-0.6 %)
  unit-cell volume shrinkage at the end  NC91 7.8 %, NM91 5.9 % (C/10)        (+-0.8 %)
  D(NC91) / D(NM91) at 85 % SoC          > 4 (end of NM91's C/10 charge)
  D(NC91) / D(NM91) at 40 % SoC          ~ 1 (NM91's D "falls from ~50 % SoC"), 0.67-1.5
Lattice figures are particle (volume) averages of a(x), c(x) over the sphere, as the
powder XRD of the study averages over particles; c0 and V0 are the pristine values.

What is fitted (two parameters per material for each group, nothing else):
  transport, NC91 (the reference): log10 D(x) += p + q w(x), w = 0 for x >= 0.5 rising
             linearly to 1 at x <= 0.1: a level p and a high-SoC fall q, fitted to NC91's
             two SoC rows;
  transport, NM91: D(x) = D_NC91(x) for x >= 0.5 (the study's GITT: alike below ~50 % SoC),
             then log10 D(x) += q1 w1(x) + q2 w2(x), w1 rising 0 -> 1 over x = 0.5 -> 0.3,
             w2 over x = 0.3 -> 0.1: an early and a late fall, fitted to NM91's SoC rows;
  lattice:   below the c maximum, c(x) = c_peak - s (c_peak - c_table(x)); a(x) = a0 +
             t (a_table(x) - a0), fitted to the c-drop and volume rows.
The fit starts from the tables in the files, so after `--write` a new fit returns zero
shifts and s = t = 1: the files hold the fitted tables themselves.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from chemomech.geometry.sphere import SphereMesh
from chemomech.materials.material import build_material, material_path, read_material_file
from chemomech.simulate import particle_lattice
from chemomech.transport.sphere_charge import ChargeProtocol, charge_sphere

RADIUS = 2e-6  # m, the brief's calibration particle
CELLS = 100
V_MAX = 4.5  # V, the study's upper cutoff

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


@dataclass
class Row:
    name: str
    target: str
    model: float
    ok: bool


def ramp(x, start: float, end: float) -> np.ndarray:
    """0 for x >= start, 1 for x <= end, linear between (start > end)."""
    return np.clip((start - np.asarray(x)) / (start - end), 0.0, 1.0)


# log10 D shape functions of the fit, per material (see the module docstring)
D_SHAPES = {
    "nc91": (lambda x: np.ones_like(x), lambda x: ramp(x, 0.5, 0.1)),
    "nm91": (lambda x: ramp(x, 0.5, 0.3), lambda x: ramp(x, 0.3, 0.1)),
}


def transformed_raw(raw: dict, d_shifts=(), s=1.0, t=1.0) -> dict:
    """A copy of a material file's dict with the fit transformations applied:
    d_shifts = ((amount, shape), ...) adds sum amount * shape(x) to log10 D."""
    new = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    xd = np.asarray(raw["diffusivity"]["x"], dtype=float)
    log10_d = np.asarray(raw["diffusivity"]["log10_m2_s"], dtype=float)
    for amount, shape in d_shifts:
        log10_d = log10_d + amount * shape(xd)
    new["diffusivity"]["log10_m2_s"] = list(log10_d)
    xl = np.asarray(raw["lattice"]["x"])
    a = np.asarray(raw["lattice"]["a_angstrom"])
    c = np.asarray(raw["lattice"]["c_angstrom"])
    a0 = a[np.argmax(xl)]
    peak = np.argmax(c)
    below = xl < xl[peak]
    c_new = c.copy()
    c_new[below] = c[peak] - s * (c[peak] - c[below])
    new["lattice"]["a_angstrom"] = list(a0 + t * (a - a0))
    new["lattice"]["c_angstrom"] = list(c_new)
    return new


def charge(material, c_rate):
    return charge_sphere(material, SphereMesh(RADIUS, CELLS), ChargeProtocol(c_rate=c_rate, v_max=V_MAX))


def soc_end(material, solution) -> float:
    return solution.charge_removed[-1] / 3600.0 / material.capacity_nominal


def lattice_figures(material, solution) -> tuple[float, float]:
    """(c drop from the maximum to the end [% of c0], volume shrinkage [%]) of the
    volume-averaged lattice over the charge."""
    lattice = particle_lattice(material, solution.mesh, solution.states)
    c0, v0 = lattice["c"][0], lattice["volume"][0]
    return (
        100.0 * (lattice["c"].max() - lattice["c"][-1]) / c0,
        100.0 * (v0 - lattice["volume"][-1]) / v0,
    )


def model_figures(material) -> dict:
    slow, fast = charge(material, 0.1), charge(material, 1.0)
    c_drop, shrink = lattice_figures(material, slow)
    return {
        "soc_c10": soc_end(material, slow),
        "soc_1c": soc_end(material, fast),
        "c_drop_pct": c_drop,
        "volume_shrink_pct": shrink,
    }


def diffusivity_at_soc(material, soc: float) -> float:
    """In-plane D [m2/s] at the uniform state of nominal SoC `soc`."""
    x = material.x_initial - soc * material.capacity_nominal / material.capacity_theoretical
    return float(material.diffusivity(x))


def calibration_rows(materials: dict) -> list[Row]:
    """Target vs model for every calibration row; `materials` maps nc91/nm91 to Material."""
    rows = []
    for key, material in materials.items():
        figures = model_figures(material)
        for name, target in TARGETS[key].items():
            value = figures[name]
            rows.append(
                Row(f"{material.name}: {SOURCE[name]}", f"{target:g} +- {TOLERANCE[name]:g}",
                    value, abs(value - target) <= TOLERANCE[name])
            )
    nc, nm = materials["nc91"], materials["nm91"]
    ratio_end = diffusivity_at_soc(nc, 0.85) / diffusivity_at_soc(nm, 0.85)
    ratio_mid = diffusivity_at_soc(nc, 0.40) / diffusivity_at_soc(nm, 0.40)
    rows.append(Row("D(NC91)/D(NM91) at 85 % SoC, end of charge (the study, GITT)", "> 4", ratio_end, ratio_end > 4))
    rows.append(Row("D(NC91)/D(NM91) at 40 % SoC, before NM91's fall (the study, GITT)", "0.67-1.5", ratio_mid, 0.67 <= ratio_mid <= 1.5))
    return rows


def tie_to_reference(raw: dict, reference: dict, x_from: float = 0.5) -> dict:
    """NM91 below 50 % SoC: copy the reference's log10 D at the nodes x >= x_from (both
    files tabulate D on the same x nodes)."""
    x = np.asarray(raw["diffusivity"]["x"], dtype=float)
    if not np.allclose(x, reference["diffusivity"]["x"]):
        raise SystemExit("NM91 and NC91 diffusivity tables must share their x nodes")
    new = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    log10_d = np.asarray(raw["diffusivity"]["log10_m2_s"], dtype=float)
    tied = x >= x_from
    log10_d[tied] = np.asarray(reference["diffusivity"]["log10_m2_s"], dtype=float)[tied]
    new["diffusivity"]["log10_m2_s"] = list(log10_d)
    return new


def fit(raw: dict, key: str, origin: str, reference: dict | None = None) -> tuple[dict, dict]:
    """Fit the two log10 D shifts to the SoC rows, then (s, t) to the lattice rows;
    return the fitted parameters and the fitted raw material dict. For NM91, `reference`
    is NC91's fitted dict (its D below 50 % SoC is copied first)."""
    target = TARGETS[key]
    if reference is not None:
        raw = tie_to_reference(raw, reference)
    shapes = D_SHAPES[key]

    def shifted(params):
        return transformed_raw(raw, d_shifts=tuple(zip(params, shapes)))

    def rate_residual(params):
        material = build_material(shifted(params), origin)
        return [
            (soc_end(material, charge(material, 0.1)) - target["soc_c10"]) / TOLERANCE["soc_c10"],
            (soc_end(material, charge(material, 1.0)) - target["soc_1c"]) / TOLERANCE["soc_1c"],
        ]

    d_params = least_squares(rate_residual, [0.0, 0.0], diff_step=1e-3, xtol=1e-6).x
    rate_fitted = shifted(d_params)
    slow = charge(build_material(rate_fitted, origin), 0.1)  # lattice does not affect transport

    def lattice_residual(params):
        material = build_material(transformed_raw(rate_fitted, s=params[0], t=params[1]), origin)
        c_drop, shrink = lattice_figures(material, slow)
        return [
            (c_drop - target["c_drop_pct"]) / TOLERANCE["c_drop_pct"],
            (shrink - target["volume_shrink_pct"]) / TOLERANCE["volume_shrink_pct"],
        ]

    s, t = least_squares(lattice_residual, [1.0, 1.0], xtol=1e-8).x
    params = {"d_shift_1": d_params[0], "d_shift_2": d_params[1], "s": s, "t": t}
    return params, transformed_raw(rate_fitted, s=s, t=t)


def write_tables(path: Path, fitted: dict) -> None:
    """Replace the fitted table lines in a material file, keeping every comment."""
    text = path.read_text()
    for key, values, digits in (
        ("log10_m2_s", fitted["diffusivity"]["log10_m2_s"], 3),
        ("a_angstrom", fitted["lattice"]["a_angstrom"], 4),
        ("c_angstrom", fitted["lattice"]["c_angstrom"], 3),
    ):
        line = f"{key} = [" + ", ".join(f"{v:.{digits}f}" for v in values) + "]"
        text, count = re.subn(rf"^{key} = \[.*\]$", line, text, flags=re.M)
        if count != 1:
            raise SystemExit(f"{path}: expected one line '{key} = [...]'")
    path.write_text(text)


def print_rows(rows: list[Row]) -> None:
    width = max(len(r.name) for r in rows)
    print(f"{'row':<{width}}  {'target':>12}  {'model':>8}  ok")
    for r in rows:
        print(f"{r.name:<{width}}  {r.target:>12}  {r.model:8.3f}  {'yes' if r.ok else 'NO'}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fit", action="store_true", help="re-fit the tables and print them")
    parser.add_argument("--write", action="store_true", help="with --fit: write the fitted tables into models/*.toml")
    args = parser.parse_args(argv)

    materials = {}
    reference = None
    for key in TARGETS:  # NC91 first: NM91's fit uses NC91's fitted D
        raw, path = read_material_file(key)
        origin = f"material file {path.name}"
        if args.fit:
            params, raw = fit(raw, key, origin, reference)
            print(f"{key}: fitted log10 D shifts {params['d_shift_1']:+.4f}, {params['d_shift_2']:+.4f}; "
                  f"s = {params['s']:.4f} (c collapse scale), t = {params['t']:.4f} (a drop scale)")
            if args.write:
                write_tables(material_path(key), raw)
                raw, path = read_material_file(key)  # the rounded values as written
        reference = raw if reference is None else reference
        materials[key] = build_material(raw, origin)

    rows = calibration_rows(materials)
    print_rows(rows)
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
