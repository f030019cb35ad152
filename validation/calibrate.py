"""Calibration of models/nc91.toml and models/nm91.toml to the study's rows.

    python validation/calibrate.py            # print target vs model for every row
    python validation/calibrate.py --fit      # re-fit, print the fitted tables
    python validation/calibrate.py --fit --write   # ... and write them into models/*.toml
    python validation/calibrate.py --physics stress_assisted_diffusion [--fit [--write]]
        # the rows with coupling options on (and their re-fit; --write stores the re-fitted
        # tables as [recalibrated."stress_assisted_diffusion"] in models/*.toml, which runs
        # with exactly those options use: chemomech/materials/recalibration.py)

The same rows (with figures, next to the analytical and study cases) are part of
`chemomech validate` (chemomech/validation/, README "Validation"); the particle, targets
and figures are defined once, in chemomech/validation/calibration.py, and imported here.

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

from chemomech.materials.material import build_material, material_path, read_material_file
from chemomech.materials.recalibration import REPLACES, TABLE as RECALIBRATED, apply_recalibration, options_key
from chemomech.transport.coupling import PhysicsOptions
from chemomech.validation.calibration import (  # shared with `chemomech validate`
    RATIO_END,
    RATIO_MID,
    SOURCE,
    TARGETS,
    TOLERANCE,
    charge,
    diffusivity_at_soc,
    lattice_figures,
    model_figures,
    soc_end,
)


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


def calibration_rows(materials: dict, physics: PhysicsOptions = PhysicsOptions()) -> list[Row]:
    """Target vs model for every calibration row; `materials` maps nc91/nm91 to Material;
    the charges run with the coupling options `physics`."""
    rows = []
    for key, material in materials.items():
        figures = model_figures(material, physics=physics)
        for name, target in TARGETS[key].items():
            value = figures[name]
            rows.append(
                Row(f"{material.name}: {SOURCE[name]}", f"{target:g} +- {TOLERANCE[name]:g}",
                    value, abs(value - target) <= TOLERANCE[name])
            )
    nc, nm = materials["nc91"], materials["nm91"]
    (soc_end_, low), (soc_mid, lo, hi) = RATIO_END, RATIO_MID
    ratio_end = diffusivity_at_soc(nc, soc_end_) / diffusivity_at_soc(nm, soc_end_)
    ratio_mid = diffusivity_at_soc(nc, soc_mid) / diffusivity_at_soc(nm, soc_mid)
    rows.append(Row(f"D(NC91)/D(NM91) at {100 * soc_end_:.0f} % SoC, end of charge (the study, GITT)", f"> {low:g}",
                    ratio_end, ratio_end > low))
    rows.append(Row(f"D(NC91)/D(NM91) at {100 * soc_mid:.0f} % SoC, before NM91's fall (the study, GITT)", f"{lo:g}-{hi:g}",
                    ratio_mid, lo <= ratio_mid <= hi))
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


def fit(raw: dict, key: str, origin: str, reference: dict | None = None,
        physics: PhysicsOptions = PhysicsOptions()) -> tuple[dict, dict]:
    """Fit the two log10 D shifts to the SoC rows, then (s, t) to the lattice rows, with
    the coupling options `physics`; return the fitted parameters and the fitted raw
    material dict. For NM91, `reference` is NC91's fitted dict (its D below 50 % SoC is
    copied first)."""
    target = TARGETS[key]
    if reference is not None:
        raw = tie_to_reference(raw, reference)
    shapes = D_SHAPES[key]

    def shifted(params):
        return transformed_raw(raw, d_shifts=tuple(zip(params, shapes)))

    def rate_residual(params):
        material = build_material(shifted(params), origin)
        return [
            (soc_end(material, charge(material, 0.1, physics)) - target["soc_c10"]) / TOLERANCE["soc_c10"],
            (soc_end(material, charge(material, 1.0, physics)) - target["soc_1c"]) / TOLERANCE["soc_1c"],
        ]

    d_params = least_squares(rate_residual, [0.0, 0.0], diff_step=1e-3, xtol=1e-6).x
    rate_fitted = shifted(d_params)
    slow = charge(build_material(rate_fitted, origin), 0.1, physics)
    # (the fit of s, t holds this charge fixed: with stress coupling the lattice shapes
    # also act on transport, a second-order effect on the lattice rows)

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


def fit_coupled(raw: dict, key: str, origin: str, reference: dict | None = None,
                physics: PhysicsOptions = PhysicsOptions(), passes: int = 6) -> tuple[dict, dict]:
    """`fit`, repeated while it still moves the tables: with stress in the transport
    (stress_assisted_diffusion, slab_spacing_diffusivity) the lattice tables act on the SoC
    rows too, so the transport and lattice stages are alternated until a pass changes
    the log10 D shifts by < 1e-3 and the scales by < 1e-4 (one pass when the options leave
    transport independent of the lattice). Returns the parameters compounded over passes."""
    total = {"d_shift_1": 0.0, "d_shift_2": 0.0, "s": 1.0, "t": 1.0}
    for _ in range(passes if physics.needs_stress else 1):
        params, raw = fit(raw, key, origin, reference, physics)
        total["d_shift_1"] += params["d_shift_1"]
        total["d_shift_2"] += params["d_shift_2"]
        total["s"] *= params["s"]
        total["t"] *= params["t"]
        if (max(abs(params["d_shift_1"]), abs(params["d_shift_2"])) < 1e-3
                and max(abs(params["s"] - 1.0), abs(params["t"] - 1.0)) < 1e-4):
            break
    return total, raw


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


def parse_physics(text: str) -> PhysicsOptions:
    """PhysicsOptions with the comma-separated boolean [physics] keys of `text` on."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    allowed = [n for n in PhysicsOptions.__dataclass_fields__ if n != "stress_update_x"]
    for name in names:
        if name not in allowed:
            raise SystemExit(f"--physics {name}: unknown option; allowed: {', '.join(allowed)}")
    return PhysicsOptions(**{n: True for n in names})


def write_recalibration(path: Path, name: str, fitted: dict, params: dict) -> None:
    """Write (or replace) the [recalibrated."name"] table of a material file with the
    fitted tables (materials/recalibration.py), keeping the rest of the file."""
    lines = [f'[{RECALIBRATED}."{name}"]']
    for key, (section, column) in REPLACES.items():
        digits = 3 if key.startswith("diffusivity") or key.endswith("c_angstrom") else 4
        lines.append(f"{key} = [" + ", ".join(f"{v:.{digits}f}" for v in fitted[section][column]) + "]")
    lines.append(
        f'source = "validation/calibrate.py --physics {name.replace("+", ",")} --fit --write: the default fit '
        f"(models/README.md, The calibration) repeated with these options on: log10 D shifts "
        f"{params['d_shift_1']:+.3f}, {params['d_shift_2']:+.3f}; lattice scales s = {params['s']:.3f}, "
        f't = {params["t"]:.3f} against the default tables"')
    block = "\n".join(lines) + "\n"
    text = path.read_text()
    header = re.compile(rf'^\[{RECALIBRATED}\."{re.escape(name)}"\]$', re.M)
    found = header.search(text)
    if found:  # replace up to the next table header or the end
        following = re.compile(r"^\[", re.M).search(text, found.end())
        end = following.start() if following else len(text)
        text = text[:found.start()] + block + ("\n" if following else "") + text[end:]
    else:
        text = text.rstrip("\n") + "\n\n" + block
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
    parser.add_argument("--physics", default="", metavar="OPTION[,OPTION]",
                        help="coupling options switched on for every charge ([physics] keys, comma-separated)")
    args = parser.parse_args(argv)
    physics = parse_physics(args.physics)
    options = physics.switched_on()

    materials = {}
    reference = None
    for key in TARGETS:  # NC91 first: NM91's fit uses NC91's fitted D
        raw, path = read_material_file(key)
        origin = f"material file {path.name}"
        if not args.fit:  # the rows of the stored tables (re-fitted ones where the file has them)
            raw, used = apply_recalibration(raw, options)
            if options:
                print(f"{key}: {'tables re-fitted with ' + used if used else 'default tables (no re-fit stored for these options)'}")
        else:  # a fit always starts from the default tables: its shifts are against them
            params, raw = fit_coupled(raw, key, origin, reference, physics)
            print(f"{key}: fitted log10 D shifts {params['d_shift_1']:+.4f}, {params['d_shift_2']:+.4f}; "
                  f"s = {params['s']:.4f} (c collapse scale), t = {params['t']:.4f} (a drop scale)")
            if args.write and options:
                write_recalibration(material_path(key), options_key(options), raw, params)
                raw, _ = apply_recalibration(read_material_file(key)[0], options)  # as written
            elif args.write:
                write_tables(material_path(key), raw)
                raw, path = read_material_file(key)  # the rounded values as written
        reference = raw if reference is None else reference
        materials[key] = build_material(raw, origin)

    if not physics.fickian:
        print(f"coupling options: {', '.join(physics.switched_on())}")
    rows = calibration_rows(materials, physics)
    print_rows(rows)
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
