"""Cycle life: the fit of the two degradation rate constants, and the table of retentions.

    python validation/cycle_life.py --fit            # fit k_in to SC-NC91, then k_cr to PC-NC91
    python validation/cycle_life.py --fit --write    # ... and write both into models/nc91.toml and nm91.toml
    python validation/cycle_life.py --fit --rows PC  # one row only (PC: with k_in as in the files)
    python validation/cycle_life.py --table          # all 8 rows (SC/PC x NC91/NM91 x 0.5C/1C)
    python validation/cycle_life.py --table --jobs 2 # two runs at a time

The rows, particles and protocol are defined once, in chemomech/validation/cycle_life.py
(also the `chemomech validate --case cycle-life` case). What is fitted (models/README.md,
"Degradation"): one rate constant per mechanism family, each to one row, in order:
  1. inactivation_rate_per_s (intragranular inactivation) to SC-NC91 at 0.5C, 89.2 %
     (a single crystal has no grain boundaries, so boundary fatigue plays no part);
  2. paris_prefactor (grain-boundary fatigue) to PC-NC91 at 0.5C, 59.7 %, with k_in fixed.
Each is found by the secant method on log10 of the constant against retention (retention
falls monotonically as either rate grows), to within FIT_TOLERANCE of the row; every
evaluation is a full cycle-life run. NM91 takes NC91's values unchanged: its cycle life,
and every 1C figure, are predictions.

Outputs (git-ignored): validation/out/cycle_life/fit.json, table.json, table.md.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from chemomech.degradation.parameters import degradation_parameters
from chemomech.materials import load_material
from chemomech.simulation.run import simulate
from chemomech.validation.cycle_life import (
    ARCHITECTURES,
    FITTED,
    MATERIALS,
    RATES,
    TARGETS,
    cycle_life_config,
    rate_text,
    retention,
    table_row,
)

OUT = Path(__file__).resolve().parent / "out" / "cycle_life"
MODELS = Path(__file__).resolve().parents[1] / "models"
FIT_TOLERANCE = 0.003  # retention, absolute
MAX_EVALUATIONS = 8


def evaluate(architecture: str, overrides: dict) -> float:
    """Retention after 100 cycles of NC91 on `architecture` at 0.5C with [degradation]
    overrides; prints the evaluation."""
    start = time.perf_counter()
    ds = simulate(cycle_life_config(architecture, "nc91", 0.5, overrides))
    value = retention(ds)
    print(f"  {architecture} {overrides}: retention {value:.4f} ({ds.attrs['cycles_simulated']} cycles simulated, "
          f"{time.perf_counter() - start:.0f} s)", flush=True)
    return value


def fit_row(architecture: str, fixed: dict, start: float) -> tuple[float, float, int]:
    """The value of FITTED[architecture] that brings NC91's retention on `architecture`
    to its target: secant on log10(value), from `start` and a second point a factor 3
    towards the target (retention falls as the rate grows). Returns (value, retention,
    evaluations)."""
    key, target = FITTED[architecture], TARGETS[(architecture, "nc91")]
    points = [(math.log10(start), evaluate(architecture, {**fixed, key: start}))]
    second = start / 3.0 if points[0][1] < target else 3.0 * start
    points.append((math.log10(second), evaluate(architecture, {**fixed, key: second})))
    for _ in range(MAX_EVALUATIONS - 2):
        (a, ra), (b, rb) = points[-2], points[-1]
        if abs(rb - target) <= FIT_TOLERANCE:
            break
        if rb == ra:
            raise SystemExit(f"{key}: retention does not change between 10^{a:.3f} and 10^{b:.3f}; cannot fit")
        step = (target - rb) * (b - a) / (rb - ra)
        step = max(-1.0, min(1.0, step))  # at most a decade per step
        points.append((b + step, evaluate(architecture, {**fixed, key: 10.0 ** (b + step)})))
    best = min(points, key=lambda p: abs(p[1] - target))
    return 10.0 ** best[0], best[1], len(points)


def write_value(key: str, value: float, row: str) -> None:
    """Replace `key = ...` in [degradation] of both material files (NM91 takes NC91's value)."""
    for name in MATERIALS:
        path = MODELS / f"{name}.toml"
        text = path.read_text()
        text, count = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value:.4g}", text)
        if count != 1:
            raise SystemExit(f"{path}: expected one line '{key} = ...', found {count}")
        path.write_text(text)
        print(f"wrote {key} = {value:.4g} into {path} (fitted to {row})")


def fit(write: bool, rows: tuple = ARCHITECTURES) -> dict:
    """Fit the rows asked for, in order SC then PC (PC with k_in as in the file, or as just
    fitted); with `write` store each value as soon as it is fitted."""
    params = degradation_parameters(load_material("nc91"))
    result = {}
    k_in = params.inactivation_rate_per_s
    if "SC" in rows:
        print("1. inactivation_rate_per_s to SC-NC91 0.5C, target", TARGETS[("SC", "nc91")])
        k_in, r_sc, n_sc = fit_row("SC", {}, k_in)
        result.update({"inactivation_rate_per_s": k_in, "sc_nc91_retention": r_sc, "sc_evaluations": n_sc})
        if write:
            write_value("inactivation_rate_per_s", k_in, "SC-NC91 0.5C")
    if "PC" in rows:
        print("2. paris_prefactor to PC-NC91 0.5C, target", TARGETS[("PC", "nc91")], "with k_in =", f"{k_in:.4g}")
        k_cr, r_pc, n_pc = fit_row("PC", {"inactivation_rate_per_s": k_in}, params.paris_prefactor)
        result.update({"paris_prefactor": k_cr, "pc_nc91_retention": r_pc, "pc_evaluations": n_pc})
        if write:
            write_value("paris_prefactor", k_cr, "PC-NC91 0.5C")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "fit.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


def row_only(architecture: str, material: str, c_rate: float) -> dict:
    """table_row without the result (what crosses the process pool)."""
    return table_row(architecture, material, c_rate)[0]


def table(jobs: int) -> list[dict]:
    cases = [(a, m, r) for a in ARCHITECTURES for m in MATERIALS for r in RATES]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        rows = list(pool.map(row_only, *zip(*cases)))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "table.json").write_text(json.dumps(rows, indent=2))
    lines = ["| architecture | material | rate | retention after 100 cycles | role | active lattice at the end | "
             "boundary faces broken | lattice wired | cycles simulated | wall |", "|" + "---|" * 10]
    for row in rows:
        role = f"fitted to {row['target']:.1%}" if row["target"] is not None else "prediction"
        broken = f"{row['cracked_boundary_fraction_end']:.0%}" if row["cracked_boundary_fraction_end"] is not None else "-"
        wired = f"{row['wired_lattice_fraction_end']:.0%}" if row["wired_lattice_fraction_end"] is not None else "-"
        lines.append(f"| {row['architecture']} | {row['material'].upper()} | {rate_text(row['c_rate'])} | "
                     f"{row['retention']:.1%} | {role} | {row['active_fraction_end']:.0%} | {broken} | {wired} | "
                     f"{row['cycles_simulated']} | {row['wall_s'] / 60:.1f} min |")
    (OUT / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fit", action="store_true", help="fit k_in to SC-NC91, then k_cr to PC-NC91")
    parser.add_argument("--write", action="store_true", help="with --fit: write the values into models/*.toml")
    parser.add_argument("--rows", default="SC,PC", help="with --fit: the rows to fit, in order (SC, PC or SC,PC)")
    parser.add_argument("--table", action="store_true", help="run the 8 rows and write table.md")
    parser.add_argument("--jobs", type=int, default=1, help="--table: runs at a time")
    args = parser.parse_args()
    if not (args.fit or args.table):
        parser.error("give --fit and/or --table")
    if args.fit:
        rows = tuple(r.strip().upper() for r in args.rows.split(","))
        if not set(rows) <= set(ARCHITECTURES):
            parser.error(f"--rows {args.rows!r}: allowed SC, PC or SC,PC")
        fit(args.write, rows)
    if args.table:
        table(args.jobs)


if __name__ == "__main__":
    sys.exit(main())
