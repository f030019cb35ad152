"""Material tables re-fitted under coupling options.

The calibration (validation/calibrate.py, models/README.md "The calibration") fits two log10 D
parameters to the SoC rows and two lattice scales to the lattice rows of the study. A run
with coupling options switched on ([physics], transport/coupling.py) moves those rows: with
stress-assisted diffusion the 1C charge of NC91 reaches 0.826 instead of 0.780, for
example. `python validation/calibrate.py --physics OPTIONS --fit --write` re-fits the same
four parameters under the options and stores the resulting tables in the material file,
next to the default (Fickian) ones, as

    [recalibrated."stress_assisted_diffusion"]
    diffusivity_log10_m2_s = [...]     # on the x nodes of [diffusivity]
    lattice_a_angstrom = [...]         # on the x nodes of [lattice]
    lattice_c_angstrom = [...]
    source = "validation/calibrate.py --physics stress_assisted_diffusion --fit --write: ..."

The table name is the options switched on, in the order of the [physics] table, joined by
"+". A run with exactly those options uses these tables in place of the default ones
(apply_recalibration); a run with options that have no such table uses the default tables
and says so (its summary's material_calibration, and a warning).
"""

from __future__ import annotations

import copy

from chemomech.errors import MaterialError

TABLE = "recalibrated"
# key in a [recalibrated."..."] table -> (material table, key) it replaces
REPLACES = {
    "diffusivity_log10_m2_s": ("diffusivity", "log10_m2_s"),
    "lattice_a_angstrom": ("lattice", "a_angstrom"),
    "lattice_c_angstrom": ("lattice", "c_angstrom"),
}


def options_key(options) -> str:
    """The [recalibrated."..."] name of a set of switched-on options (in [physics] order)."""
    return "+".join(options)


def check_recalibrated(raw: dict, origin: str) -> None:
    """Every [recalibrated."..."] table holds only the keys of REPLACES (each a list of
    numbers) and a source string. (That each is as long as the table it replaces is
    checked when it is used, apply_recalibration: a file whose default tables were
    replaced by others of another length still loads for runs without the options.)"""
    tables = raw.get(TABLE, {})
    if not isinstance(tables, dict):
        raise MaterialError(f"{origin}: {TABLE} must be a table of tables [{TABLE}.\"OPTIONS\"]")
    for name, table in tables.items():
        where = f'[{TABLE}."{name}"]'
        if not isinstance(table, dict):
            raise MaterialError(f"{origin}: {where} must be a table")
        for key, value in table.items():
            if key == "source":
                if not isinstance(value, str):
                    raise MaterialError(f"{origin}: {where} source must be a string")
                continue
            if key not in REPLACES:
                raise MaterialError(f"{origin}: unknown key '{where} {key}'; allowed: {', '.join(REPLACES)} and source")
            if not isinstance(value, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                raise MaterialError(f"{origin}: {where} {key} must be a list of numbers")


def apply_recalibration(raw: dict, options, origin: str = "material file") -> tuple[dict, str | None]:
    """A copy of `raw` with the tables of [recalibrated."<options>"] in place of the default
    ones, and the name of the table used (None: no option on, or no such table).
    MaterialError when a re-fitted table is not as long as the one it replaces."""
    name = options_key(options)
    table = raw.get(TABLE, {}).get(name) if name else None
    if table is None:
        return raw, None
    result = copy.deepcopy(raw)
    for key, (section, column) in REPLACES.items():
        if key in table:
            if len(table[key]) != len(raw[section][column]):
                raise MaterialError(f'{origin}: [{TABLE}."{name}"] {key} must be a list as long as '
                                    f"[{section}] {column} ({len(raw[section][column])} values)")
            result[section][column] = list(table[key])
    return result, name
