"""Materials between end members: a blend such as LiNi0.9Co0.05Mn0.05O2 from NC91 and NM91.

A run configuration names a blend instead of one material file,

    material = { blend = { nc91 = 0.5, nm91 = 0.5 } }

with fractions f_k >= 0 summing to 1 (within 1e-9) over any number of end members of the
same Ni content (names under models/ or paths to material files). `blend_text` writes the
blended material as a complete material file (TOML), which the run stores (result.nc
attrs material_toml) like the text of any other material file: it can be read back with
load_material and reused.

Mixing rules (models/README.md, "Blends"), per property, over the end members k with
f_k > 0 (a member with f_k = 0 takes no part, so a blend with one fraction 1 is that end
member exactly):

    linear    p = sum_k f_k p_k
              a solid solution LiNi0.9Co_yMn_(0.1-y)O2 is linear in y: molar mass, the
              charge-balance constant of the Ni valence (3.6 + y, Co3+ and Mn4+ fixed),
              x_initial and the nominal capacity (the same SoC basis); Vegard's law for the
              lattice tables a(x), c(x); the rule of mixtures (Voigt) for the stiffness;
              the OCV U(x), the Li/Ni disorder, the XANES white-line constants and the
              coupling parameters (first-order, no better rule is known)
    log       log p = sum_k f_k log p_k
              quantities that are activated (exponential in a barrier that mixes
              linearly) and span orders of magnitude: D_ab(x) (already tabulated in
              log10), D_c/D_ab, the exchange current and the electronic conductivity
    volume    V_m = sum_k f_k M_k / rho_k  (Vegard's law on the molar volume), then
              rho = M / V_m with M the linear molar mass

Tables are mixed on the union of the end members' x nodes: each member's value at its own
nodes is its table entry, elsewhere its PCHIP interpolant (materials/pchip.py). Optional
tables ([slab_spacing], [phase_separation], [recalibrated."..."]) are kept only where
every end member has them.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from chemomech.errors import MaterialError
from chemomech.materials.material import (
    MATERIAL_KEYS,
    OPTIONAL_TABLES,
    build_material,
    material_path,
    models_directory,
    read_material_file,
)
from chemomech.materials.pchip import Pchip
from chemomech.degradation.parameters import KEYS as DEGRADATION_KEYS
from chemomech.materials.recalibration import REPLACES, TABLE as RECALIBRATED

BLEND = "blend"
SUM_TOLERANCE = 1e-9

# (table, key) -> mixing rule of a scalar ("linear", "log", "volume")
SCALAR_RULES = {
    ("composition", "molar_mass_g_mol"): "linear",
    ("composition", "ni_fraction"): "linear",  # equal in every member (checked)
    ("composition", "ni_valence_constant"): "linear",
    ("density", "crystallographic_kg_m3"): "volume",
    ("capacity", "nominal_mAh_g"): "linear",
    ("capacity", "x_initial"): "linear",
    ("diffusivity", "out_of_plane_ratio"): "log",
    ("exchange_current", "reference_A_m2"): "log",
    ("stiffness", "C11_GPa"): "linear",
    ("stiffness", "C12_GPa"): "linear",
    ("stiffness", "C13_GPa"): "linear",
    ("stiffness", "C33_GPa"): "linear",
    ("stiffness", "C44_GPa"): "linear",
    ("conductivity", "electronic_S_m"): "log",
    ("disorder", "li_ni_antisite_fraction"): "linear",
    ("xanes", "white_line_ni3_eV"): "linear",
    ("xanes", "shift_eV_per_valence"): "linear",
    ("slab_spacing", "li_slab_height_angstrom"): "linear",
    ("slab_spacing", "barrier_slope_eV_per_angstrom"): "linear",
    ("phase_separation", "x_low"): "linear",
    ("phase_separation", "x_high"): "linear",
    ("phase_separation", "barrier_J_mol"): "linear",
    ("phase_separation", "gradient_energy_J_m2_mol"): "linear",
    # [degradation]: linear (first order; the rates may be zero, which rules out the log rule)
    **{("degradation", key): "linear" for key in DEGRADATION_KEYS},
}
# table -> (columns against x, rule); the diffusivity is tabulated in log10, so "linear" in
# its column is the log rule for D
TABLE_RULES = {
    "ocv": (("volts",), "linear"),
    "diffusivity": (("log10_m2_s",), "linear"),
    "lattice": (("a_angstrom", "c_angstrom"), "linear"),
}
RULE_TEXT = {
    "linear": "composition-weighted (linear)",
    "log": "composition-weighted in log (geometric)",
    "volume": "molar volume M/rho composition-weighted (Vegard), rho = M / V_m",
}


def is_blend(material) -> bool:
    """True for a `material` config value of the form {"blend": {...}}."""
    return isinstance(material, dict) and BLEND in material


def check_blend(material, where: str = "material") -> dict[str, float]:
    """The fractions {end member: f} of a `material = { blend = {...} }` value, checked:
    a table of end-member names (or material file paths) to numbers f >= 0 summing to 1
    within 1e-9. Each error is one line naming the key."""
    if not isinstance(material, dict) or set(material) != {BLEND}:
        keys = ", ".join(map(repr, material)) if isinstance(material, dict) else repr(material)
        raise MaterialError(f"{where} = {{{keys}}}: a material table must hold exactly one key, "
                            "'blend' (e.g. material = { blend = { nc91 = 0.5, nm91 = 0.5 } })")
    fractions = material[BLEND]
    if not isinstance(fractions, dict) or not fractions:
        raise MaterialError(f"{where}.{BLEND} = {fractions!r}: must be a table of end members and their "
                            "fractions, e.g. { nc91 = 0.5, nm91 = 0.5 }")
    checked = {}
    for name, value in fractions.items():
        key = f"{where}.{BLEND}.{name}"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise MaterialError(f"{key} = {value!r}: must be a finite number in [0, 1]")
        if value < 0 or value > 1:
            raise MaterialError(f"{key} = {value:g}: fractions must lie in [0, 1]")
        checked[name] = float(value)
    total = sum(checked.values())
    if abs(total - 1.0) > SUM_TOLERANCE:
        listing = " + ".join(f"{v:g}" for v in checked.values())
        raise MaterialError(f"{where}.{BLEND}: the fractions sum to {listing} = {total:.12g}; allowed: a sum of 1 "
                            f"(within {SUM_TOLERANCE:g})")
    return checked


def resolve_members(fractions: dict[str, float], folder: Path | None = None,
                    where: str = "material") -> dict[str, float]:
    """The fractions keyed by what names each end member in a resolved config: the name of
    a shipped file ("nc91") or the absolute path of another file (a relative path is taken
    relative to `folder`, the folder of the config that names it)."""
    resolved = {}
    for name, value in fractions.items():
        candidate = Path(name)
        is_path = candidate.suffix == ".toml" or candidate.parent != Path(".")
        if is_path and folder is not None and not candidate.is_absolute():
            candidate = folder / candidate
        try:
            path = material_path(candidate if is_path else name)
        except MaterialError as error:
            raise MaterialError(f"{where}.{BLEND}.{name}: unknown end member ({error})") from None
        shipped = path.resolve().parent == models_directory().resolve()
        resolved[path.stem if shipped else str(path.resolve())] = value
    return resolved


def with_fraction(material, member: str, value, where: str) -> dict:
    """The blend `material` ({"blend": {...}}) with end member `member` (its name, or the
    stem of its path) at fraction `value`, the other end members keeping their proportions
    while they fill 1 - value (shared equally where they are all 0). `where` names the key
    in errors (a sweep axis, a --set)."""
    if not is_blend(material) or not isinstance(material[BLEND], dict):
        raise MaterialError(f"{where}: the material must be a blend to set one fraction, e.g. material = "
                            "{ blend = { nc91 = 0.5, nm91 = 0.5 } }; give the whole blend instead")
    fractions = dict(material[BLEND])
    chosen = next((name for name in fractions if name == member or Path(name).stem == member), None)
    if chosen is None:
        raise MaterialError(f"{where}: {member!r} is not an end member of the blend; allowed: "
                            + ", ".join(f"material.blend.{Path(name).stem}" for name in fractions))
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise MaterialError(f"{where} = {value!r}: must be a fraction in [0, 1]")
    others = [name for name in fractions if name != chosen]
    if not others:
        raise MaterialError(f"{where}: the blend has one end member; give at least two")
    rest = sum(float(fractions[name]) for name in others)
    for name in others:
        fractions[name] = (1.0 - value) * (float(fractions[name]) / rest if rest > 0 else 1.0 / len(others))
    fractions[chosen] = float(value)
    return {BLEND: fractions}


# ---------------------------------------------------------------------------------------
# mixing
# ---------------------------------------------------------------------------------------
def mix(values, weights, rule: str):
    """sum_k w_k v_k ("linear") or exp(sum_k w_k log v_k) ("log") of scalars or arrays;
    one member: its value unchanged."""
    if len(values) == 1:
        return values[0]
    values = [np.asarray(v, dtype=float) for v in values]
    if rule == "log":
        return np.exp(sum(w * np.log(v) for w, v in zip(weights, values)))
    return sum(w * v for w, v in zip(weights, values))


def _scalar(value):
    return float(value) if np.ndim(value) == 0 else [float(v) for v in value]


def member_on_nodes(x_own, y_own, nodes: np.ndarray) -> np.ndarray:
    """A member's table on `nodes`: its own entries where a node is one of its x, its PCHIP
    interpolant (held constant outside its range) elsewhere."""
    x_own, y_own = np.asarray(x_own, dtype=float), np.asarray(y_own, dtype=float)
    order = np.argsort(x_own)
    x_own, y_own = x_own[order], y_own[order]
    values = Pchip(x_own, y_own)(nodes)
    at = np.searchsorted(x_own, nodes)
    at = np.minimum(at, x_own.size - 1)
    own = x_own[at] == nodes
    values[own] = y_own[at[own]]
    return values


def _formula(formulas: list[str], weights: list[float]) -> str:
    """The mixed formula, e.g. LiNi0.9Co0.1O2 and LiNi0.9Mn0.1O2 at 0.5 each ->
    LiNi0.9Co0.05Mn0.05O2 (element counts composition-weighted, in order of appearance,
    oxygen last)."""
    counts: dict[str, float] = {}
    for formula, weight in zip(formulas, weights):
        for element, number in re.findall(r"([A-Z][a-z]?)([0-9.]*)", formula):
            counts[element] = counts.get(element, 0.0) + weight * (float(number) if number else 1.0)
    order = sorted(counts, key=lambda element: element == "O")  # oxygen last, the rest as they appear
    return "".join(element + ("" if abs(counts[element] - 1.0) < 1e-12 else f"{round(counts[element], 6):g}")
                   for element in order if counts[element] > 1e-12)


def blend_raw(fractions: dict[str, float], where: str = "material") -> dict:
    """The blended material as a parsed material file (module docstring); `fractions` as
    check_blend and resolve_members return them."""
    members = []
    for name, weight in fractions.items():
        if weight <= 0.0:
            continue
        raw, path = read_material_file(name)
        try:
            build_material(raw, f"material file {path.name}")  # each end member must be a valid material
        except MaterialError as error:
            raise MaterialError(f"{where}.{BLEND}.{name}: {error}") from None
        members.append((name, weight, raw, path))
    if not members:
        raise MaterialError(f"{where}.{BLEND}: no end member with a fraction above 0")
    if len(members) == 1:
        return dict(members[0][2])
    ni = {name: float(raw["composition"]["ni_fraction"]) for name, _, raw, _ in members}
    if max(ni.values()) - min(ni.values()) > 1e-9:
        listing = ", ".join(f"{n} {v:g}" for n, v in ni.items())
        raise MaterialError(f"{where}.{BLEND}: end members must have the same Ni content "
                            f"([composition] ni_fraction), but they have {listing}")
    weights = [w for _, w, _, _ in members]
    raws = [raw for _, _, raw, _ in members]
    label = ", ".join(f"{raw['name']} ({w:g})" for _, w, raw, _ in members)
    files = ", ".join(path.name for _, _, _, path in members)

    out: dict = {"name": " + ".join(f"{raw['name']} {w:g}" for _, w, raw, _ in members),
                 "formula": _formula([raw["formula"] for raw in raws], weights)}
    tables = [t for t in MATERIAL_KEYS if t not in OPTIONAL_TABLES or all(t in raw for raw in raws)]
    for table in tables:
        section: dict = {}
        rules = []
        if table in TABLE_RULES:
            columns, rule = TABLE_RULES[table]
            nodes = np.unique(np.concatenate([np.asarray(raw[table]["x"], dtype=float) for raw in raws]))
            section["x"] = [float(v) for v in nodes]
            for column in columns:
                values = [member_on_nodes(raw[table]["x"], raw[table][column], nodes) for raw in raws]
                section[column] = _scalar(mix(values, weights, rule))
            rules.append(f"{', '.join(columns)} vs x on the union of the members' x nodes: {RULE_TEXT[rule]}"
                         + (" in log10 D" if table == "diffusivity" else ""))
            if table == "ocv" and any(raw["ocv"].get("allow_non_monotone", False) for raw in raws):
                section["allow_non_monotone"] = True
                section["non_monotone_source"] = "an end member's OCV is not monotone: " + "; ".join(
                    raw["ocv"]["non_monotone_source"] for raw in raws if raw["ocv"].get("allow_non_monotone"))
        for (rule_table, key), rule in SCALAR_RULES.items():
            if rule_table != table:
                continue
            values = [float(raw[table][key]) for raw in raws]
            if rule == "volume":
                mass = mix([float(raw["composition"]["molar_mass_g_mol"]) for raw in raws], weights, "linear")
                volume = mix([float(raw["composition"]["molar_mass_g_mol"]) / v for raw, v in zip(raws, values)],
                             weights, "linear")
                section[key] = float(mass / volume)
            else:
                section[key] = float(mix(values, weights, rule))
            rules.append(f"{key}: {RULE_TEXT[rule]}")
        section["source"] = (f"blend of {label} (chemomech/materials/blend.py; end-member sources in "
                             f"{files} [{table}]): " + "; ".join(rules))
        out[table] = section
    recalibrated = _mixed_recalibration(raws, weights, out, label)
    if recalibrated:
        out[RECALIBRATED] = recalibrated
    return out


def _mixed_recalibration(raws, weights, out: dict, label: str) -> dict:
    """[recalibrated."..."] tables that every member has, mixed like the tables they
    replace (on the blend's x nodes)."""
    names = set.intersection(*(set(raw.get(RECALIBRATED, {})) for raw in raws))
    mixed = {}
    for name in sorted(names):
        table = {}
        for key, (section, column) in REPLACES.items():
            if not all(key in raw[RECALIBRATED][name] for raw in raws):
                continue
            nodes = np.asarray(out[section]["x"], dtype=float)
            values = [member_on_nodes(raw[section]["x"], raw[RECALIBRATED][name][key], nodes) for raw in raws]
            table[key] = _scalar(mix(values, weights, "linear"))
        table["source"] = (f"blend of {label}: each member's [{RECALIBRATED}.\"{name}\"] tables mixed like the "
                           "tables they replace (chemomech/materials/blend.py)")
        mixed[name] = table
    return mixed


def blend_text(fractions: dict[str, float], where: str = "material") -> str:
    """The blended material file (TOML text) of resolved fractions."""
    import tomli_w

    members = [name for name, weight in fractions.items() if weight > 0.0]
    if len(members) == 1:
        return material_path(members[0]).read_text(encoding="utf-8")
    header = ("# A blend of end members written by chemomech (chemomech/materials/blend.py): "
              + ", ".join(f"{name} {weight:g}" for name, weight in fractions.items())
              + ".\n# Mixing rules: models/README.md, \"Blends\". Nothing here is fitted to the blend.\n")
    return header + tomli_w.dumps(blend_raw(fractions, where))


def material_source(material, folder: Path | None = None) -> tuple[str, str]:
    """(text of the material file, its name for messages) of a config's `material`: a
    name or path (the file's text; "nc91.toml") or a blend (blend_text; "the blend nc91
    0.5, nm91 0.5")."""
    if is_blend(material):
        fractions = resolve_members(check_blend(material), folder)
        return blend_text(fractions), "the blend " + ", ".join(f"{Path(n).stem} {w:g}" for n, w in fractions.items())
    path = material_path(material)
    return path.read_text(encoding="utf-8"), path.name
