"""Cathode material: parameter file (TOML) -> vectorised material functions.

A material file (see models/README.md) holds tables and scalars, each with its source.
`load_material` reads it, applies dotted-key overrides and returns a `Material` whose
functions take the Li site fraction x of Li_x MO2 (x = 1 pristine) as a numpy array:

    ocv(x)               open-circuit potential U vs Li/Li+          [V]
    diffusivity(x)       in-plane chemical diffusivity D_ab          [m2/s]
    exchange_current(x)  i0 = i0_ref sqrt(x (1 - x)) / 0.5           [A/m2]
    lattice_a(x), lattice_c(x)  hexagonal (R-3m) cell parameters     [Angstrom]

Tables are interpolated with monotone cubic Hermite splines (PCHIP, Fritsch-Carlson),
which keep the shape of the data (no overshoot between points); the diffusivity is
interpolated in log10. Outside the tabulated range values are held at the end points.

Checks (each a one-line MaterialError naming the file, table, key and what is allowed):
only the keys of MATERIAL_KEYS (the values read here, `source` and `<key>_source` strings);
every number finite (no nan or inf, in scalars and table entries alike; the same holds for
values set by overrides); table x values distinct and in [0, 1]. The OCV is the first-charge
curve and must fall strictly as x increases (U decreasing in x). A table with an intended
plateau or step that is not strictly monotone (e.g. a two-phase region) is accepted with

    [ocv]
    allow_non_monotone = true
    non_monotone_source = "why, and where the non-monotone points come from"

and then loads with a warning instead of an error.
"""

from __future__ import annotations

import copy
import math
import tomllib
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from chemomech.constants import FARADAY
from chemomech.degradation.parameters import KEYS as DEGRADATION_KEYS, parse_degradation
from chemomech.errors import MaterialError
from chemomech.materials import recalibration
from chemomech.materials.pchip import Pchip

PACKAGE_MODELS = "models"


def models_directory() -> Path:
    """The folder holding the shipped material files.

    Installed, they live in the package (chemomech/models); in a source checkout they
    are the repository's top-level models/ folder.
    """
    installed = Path(str(resources.files("chemomech"))) / PACKAGE_MODELS
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[2] / PACKAGE_MODELS


def available_materials() -> list[str]:
    """Names of the shipped material files (models/*.toml)."""
    return sorted(p.stem for p in models_directory().glob("*.toml"))


def material_path(name_or_path: str | Path) -> Path:
    """Resolve a material name ("nc91") or a path to a TOML file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.parent != Path("."):
        if candidate.is_dir():
            raise MaterialError(f"material file {str(name_or_path)!r} is a directory; give a TOML file")
        if not candidate.is_file():
            raise MaterialError(f"material file {str(name_or_path)!r} does not exist")
        return candidate
    path = models_directory() / f"{name_or_path}.toml"
    if not path.is_file():
        raise MaterialError(
            f"material = {str(name_or_path)!r} is unknown; allowed: "
            f"{', '.join(available_materials())} or a path to a .toml file"
        )
    return path


def read_material_file(name_or_path: str | Path) -> tuple[dict, Path]:
    """Parse a material file into a plain dict (no validation yet)."""
    path = material_path(name_or_path)
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle), path
    except tomllib.TOMLDecodeError as exc:
        raise MaterialError(f"material file {path}: malformed TOML ({exc})") from None


def apply_overrides(raw: dict, overrides: dict, origin: str) -> dict:
    """Return a copy of `raw` with dotted keys replaced, e.g.
    {"diffusivity.out_of_plane_ratio": 1.0}. Only existing keys may be overridden, with a
    value of the same kind (number for number, list of the same length for a table)."""
    result = copy.deepcopy(raw)
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        node = result
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise MaterialError(
                    f"material_overrides: {dotted!r} is not a key of {origin}; "
                    f"allowed tables: {', '.join(k for k, v in result.items() if isinstance(v, dict))}"
                )
            node = node[part]
        leaf = parts[-1]
        if leaf not in node or isinstance(node[leaf], dict):
            prefix = "".join(f"{p}." for p in parts[:-1])
            allowed = ", ".join(
                f"{prefix}{k}" + (".<key>" if isinstance(v, dict) else "") for k, v in node.items()
            )
            raise MaterialError(
                f"material_overrides: {dotted!r} is not a key of {origin}; allowed here: {allowed}"
            )
        old = node[leaf]
        if isinstance(old, (int, float)) and not isinstance(old, bool):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise MaterialError(f"material_overrides: {dotted} = {value!r} must be a number")
            value = float(value)
        elif isinstance(old, list):
            if not isinstance(value, list) or len(value) != len(old):
                raise MaterialError(
                    f"material_overrides: {dotted} must be a list of {len(old)} numbers"
                )
        elif type(value) is not type(old):
            raise MaterialError(
                f"material_overrides: {dotted} = {value!r} must be of type {type(old).__name__}"
            )
        node[leaf] = value
    return result


def _number(raw: dict, dotted: str, origin: str, low=None, high=None, inclusive=True) -> float:
    node = raw
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise MaterialError(f"{origin}: missing key {dotted!r}")
        node = node[part]
    if not isinstance(node, (int, float)) or isinstance(node, bool):
        raise MaterialError(f"{origin}: {dotted} = {node!r} must be a number")
    value = float(node)
    if not math.isfinite(value):
        section, _, key = dotted.partition(".")
        raise MaterialError(f"{origin}: [{section}] {key} = {value!r}: must be a finite number")
    too_low = low is not None and (value < low if inclusive else value <= low)
    too_high = high is not None and (value > high if inclusive else value >= high)
    if too_low or too_high:
        bracket = ("[", "]") if inclusive else ("(", ")")
        raise MaterialError(
            f"{origin}: {dotted} = {value:g} is out of range; allowed "
            f"{bracket[0]}{low if low is not None else '-inf'}, "
            f"{high if high is not None else 'inf'}{bracket[1]}"
        )
    return value


def _table(raw: dict, section: str, column: str, origin: str) -> tuple[np.ndarray, np.ndarray]:
    """A tabulated function of x: section.x and section.<column>, sorted by x."""
    table = raw.get(section)
    if not isinstance(table, dict) or "x" not in table or column not in table:
        raise MaterialError(f"{origin}: table [{section}] needs lists 'x' and '{column}'")
    x = _column(table, section, "x", origin)
    y = _column(table, section, column, origin)
    if x.shape != y.shape or x.size < 2:
        raise MaterialError(
            f"{origin}: [{section}] 'x' and '{column}' must be lists of equal length >= 2"
        )
    if np.any(x < 0) or np.any(x > 1):
        raise MaterialError(f"{origin}: [{section}] x values must lie in [0, 1]")
    order = np.argsort(x)
    x, y = x[order], y[order]
    if np.any(np.diff(x) <= 0):
        raise MaterialError(f"{origin}: [{section}] x values must be distinct")
    return x, y


def _column(table: dict, section: str, column: str, origin: str) -> np.ndarray:
    """One column of a table as a float array, each entry a finite number."""
    values = table[column]
    if not isinstance(values, list):
        raise MaterialError(f"{origin}: [{section}] {column} = {values!r}: must be a list of numbers")
    for index, value in enumerate(values):
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            raise MaterialError(
                f"{origin}: [{section}] {column}[{index}] = {value!r}: must be a finite number"
            )
    return np.asarray(values, dtype=float)


def _check_ocv_monotone(raw: dict, x: np.ndarray, u: np.ndarray, origin: str) -> None:
    """The first-charge OCV must fall strictly as x increases (x sorted ascending here).
    The first pair of neighbouring points (in x) where it does not is an error, or, with
    [ocv] allow_non_monotone = true and a non_monotone_source string, a warning."""
    rising = np.nonzero(np.diff(u) >= 0)[0]
    table = raw["ocv"]
    allow = table.get("allow_non_monotone", False)
    if not isinstance(allow, bool):
        raise MaterialError(f"{origin}: [ocv] allow_non_monotone = {allow!r}: must be true or false")
    reason = table.get("non_monotone_source")
    if allow and not (isinstance(reason, str) and reason.strip()):
        raise MaterialError(
            f"{origin}: [ocv] allow_non_monotone = true needs non_monotone_source, a string "
            "saying why the OCV is not monotone and where that comes from"
        )
    if rising.size == 0:
        return
    i = int(rising[0])
    file_x = [float(v) for v in table["x"]]
    low, high = file_x.index(float(x[i])), file_x.index(float(x[i + 1]))
    pair = (
        f"volts[{low}] = {u[i]:g} V at x = {x[i]:g} and volts[{high}] = {u[i + 1]:g} V "
        f"at x = {x[i + 1]:g}"
    )
    if allow:
        warnings.warn(
            f"{origin}: [ocv] volts is not strictly falling with x ({pair}); accepted by "
            f"allow_non_monotone = true ({reason.strip()})",
            stacklevel=4,
        )
        return
    raise MaterialError(
        f"{origin}: [ocv] volts must fall strictly as x increases (first-charge OCV), but "
        f"{pair} do not; allowed: a strictly falling table, or [ocv] allow_non_monotone = true "
        "with a non_monotone_source string for an intended plateau"
    )


@dataclass
class Material:
    """A layered oxide cathode material, built from a material file.

    Scalars are SI; tables are functions of the Li site fraction x (see module docstring).
    """

    name: str
    formula: str
    source_file: str
    raw: dict = field(repr=False)
    molar_mass: float  # kg/mol
    density: float  # kg/m3, crystallographic
    capacity_nominal: float  # mAh/g, the SoC basis (270 mAh/g = 100 %)
    x_initial: float  # Li site fraction of the pristine (as-made) material
    out_of_plane_ratio: float  # D_c / D_ab
    exchange_current_reference: float  # A/m2, i0 at x = 0.5
    electronic_conductivity: float  # S/m
    li_ni_disorder: float  # fraction of Li sites occupied by Ni
    stiffness_gpa: dict  # C11, C12, C13, C33, C44 in GPa
    ni_fraction: float  # Ni per formula unit
    ni_valence_constant: float  # v_Ni = (constant - x) / ni_fraction
    white_line_ni3_ev: float  # Ni K-edge white line energy for Ni3+
    white_line_shift_ev: float  # eV per unit of Ni valence
    _ocv: Pchip = field(repr=False)
    _log10_diffusivity: Pchip = field(repr=False)
    _lattice_a: Pchip = field(repr=False)
    _lattice_c: Pchip = field(repr=False)
    # optional coupling parameters (None when the file has no such table; see
    # transport/coupling.py): [slab_spacing] and [phase_separation]
    li_slab_height_angstrom: float | None = None  # Li slab height h_slab [Angstrom]
    barrier_slope_ev_per_angstrom: float | None = None  # fall of the Li migration barrier per Angstrom of slab opening [eV/Angstrom]
    gap_x_low: float | None = None  # H2-H3 miscibility window, lower end in x [-]
    gap_x_high: float | None = None  # upper end in x [-]
    gap_barrier_j_mol: float | None = None  # height W of the free-energy hump over the window [J/mol]
    gradient_energy_j_m2_mol: float | None = None  # kappa of mu_grad = -kappa lap x [J m2/mol]

    # ---- derived scalars -------------------------------------------------------------
    @property
    def c_max(self) -> float:
        """Li concentration at x = 1 [mol/m3]: c_max = density / molar_mass."""
        return self.density / self.molar_mass

    @property
    def capacity_theoretical(self) -> float:
        """Charge of removing all Li (x: 1 -> 0) [mAh/g]: F / M, with 1 mAh/g = 3.6 C/g."""
        return FARADAY / (self.molar_mass * 1e3) / 3.6

    @property
    def a_ref(self) -> float:
        """a of the pristine material [Angstrom], the eigenstrain reference."""
        return float(self.lattice_a(self.x_initial))

    @property
    def c_ref(self) -> float:
        """c of the pristine material [Angstrom], the eigenstrain reference."""
        return float(self.lattice_c(self.x_initial))

    # ---- material functions ----------------------------------------------------------
    def ocv(self, x):
        """Open-circuit potential U(x) vs Li/Li+ [V] (tabulated, PCHIP)."""
        return self._ocv(x)

    def diffusivity(self, x):
        """In-plane chemical Li diffusivity D_ab(x) [m2/s] (log10 tabulated, PCHIP)."""
        return 10.0 ** self._log10_diffusivity(x)

    def diffusivity_out_of_plane(self, x):
        """Diffusivity across the layers D_c(x) = out_of_plane_ratio * D_ab(x) [m2/s]."""
        return self.out_of_plane_ratio * self.diffusivity(x)

    def diffusivity_orientation_average(self, x):
        """Orientation average of the diffusivity tensor, tr(D)/3 = D_ab (2 + ratio) / 3
        [m2/s]: the isotropic diffusivity of randomly oriented grains, used by the 1-D
        sphere."""
        return self.diffusivity(x) * (2.0 + self.out_of_plane_ratio) / 3.0

    def exchange_current(self, x):
        """Butler-Volmer exchange current density i0(x) = i0_ref sqrt(x (1-x)) / 0.5 [A/m2]."""
        x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
        return self.exchange_current_reference * np.sqrt(x * (1.0 - x)) / 0.5

    def lattice_a(self, x):
        """Hexagonal a(x) [Angstrom] (tabulated, PCHIP)."""
        return self._lattice_a(x)

    def lattice_c(self, x):
        """Hexagonal c(x) [Angstrom] (tabulated, PCHIP)."""
        return self._lattice_c(x)

    def cell_volume(self, x):
        """Hexagonal unit-cell volume V = (sqrt(3)/2) a^2 c [Angstrom^3]."""
        return np.sqrt(3.0) / 2.0 * self.lattice_a(x) ** 2 * self.lattice_c(x)

    def eigenstrain_crystal(self, x):
        """Crystal-frame eigenstrain components (eps_a, eps_c) = ((a-a_ref)/a_ref,
        (c-c_ref)/c_ref) [-]; the tensor is diag(eps_a, eps_a, eps_c)."""
        return (
            (self.lattice_a(x) - self.a_ref) / self.a_ref,
            (self.lattice_c(x) - self.c_ref) / self.c_ref,
        )

    def ni_valence(self, x):
        """Mean Ni valence from charge balance, v_Ni = (constant - x) / ni_fraction [-]
        (constant 3.7 with Co3+ fixed, 3.6 with Mn4+ fixed)."""
        return (self.ni_valence_constant - np.asarray(x, dtype=float)) / self.ni_fraction

    def white_line_energy(self, x):
        """Ni K-edge white-line energy E = E(Ni3+) + shift (v_Ni - 3) [eV]."""
        return self.white_line_ni3_ev + self.white_line_shift_ev * (self.ni_valence(x) - 3.0)

    def soc_of_x(self, x):
        """Nominal SoC of a uniform state x, counted from x_initial:
        SoC = (x_initial - x) Q_theoretical / Q_nominal [-]."""
        return (self.x_initial - np.asarray(x, dtype=float)) * (
            self.capacity_theoretical / self.capacity_nominal
        )

    def stiffness_voigt(self) -> np.ndarray:
        """Hexagonal stiffness in the crystal frame, 6x6 Voigt [Pa]."""
        return hexagonal_stiffness(self.stiffness_gpa)


def hexagonal_stiffness(stiffness_gpa: dict) -> np.ndarray:
    """Hexagonal (transversely isotropic, c axis = 3) stiffness as a 6x6 Voigt matrix [Pa]
    from C11, C12, C13, C33, C44 in GPa, with C66 = (C11 - C12) / 2."""
    s = {k: v * 1e9 for k, v in stiffness_gpa.items()}
    c66 = 0.5 * (s["C11"] - s["C12"])
    return np.array(
        [
            [s["C11"], s["C12"], s["C13"], 0, 0, 0],
            [s["C12"], s["C11"], s["C13"], 0, 0, 0],
            [s["C13"], s["C13"], s["C33"], 0, 0, 0],
            [0, 0, 0, s["C44"], 0, 0],
            [0, 0, 0, 0, s["C44"], 0],
            [0, 0, 0, 0, 0, c66],
        ],
        dtype=float,
    )


# The keys of a material file: the values build_material reads, by table. Besides these,
# each table may hold a `source` string and a `<key>_source` string for any of its keys,
# plus the source strings named in MATERIAL_SOURCE_KEYS.
MATERIAL_TOP_LEVEL = ("name", "formula")
MATERIAL_KEYS: dict[str, tuple[str, ...]] = {
    "composition": ("molar_mass_g_mol", "ni_fraction", "ni_valence_constant"),
    "density": ("crystallographic_kg_m3",),
    "capacity": ("nominal_mAh_g", "x_initial"),
    "ocv": ("x", "volts", "allow_non_monotone"),
    "diffusivity": ("x", "log10_m2_s", "out_of_plane_ratio"),
    "exchange_current": ("reference_A_m2",),
    "lattice": ("x", "a_angstrom", "c_angstrom"),
    "stiffness": ("C11_GPa", "C12_GPa", "C13_GPa", "C33_GPa", "C44_GPa"),
    "conductivity": ("electronic_S_m",),
    "disorder": ("li_ni_antisite_fraction",),
    "xanes": ("white_line_ni3_eV", "shift_eV_per_valence"),
    # optional tables, read only by the coupling options of transport/coupling.py
    "slab_spacing": ("li_slab_height_angstrom", "barrier_slope_eV_per_angstrom"),
    "phase_separation": ("x_low", "x_high", "barrier_J_mol", "gradient_energy_J_m2_mol"),
    # optional, read only by cycle-life runs (degradation/parameters.py checks the values)
    "degradation": tuple(DEGRADATION_KEYS),
}
OPTIONAL_TABLES = ("slab_spacing", "phase_separation", "degradation")
MATERIAL_SOURCE_KEYS: dict[str, tuple[str, ...]] = {
    "composition": ("ni_valence_source",),  # the source of ni_valence_constant (shipped files)
    "ocv": ("non_monotone_source",),  # why allow_non_monotone is set
}


def _allowed_key(section: str, key: str) -> bool:
    values = MATERIAL_KEYS[section]
    sources = ("source", *(f"{k}_source" for k in values), *MATERIAL_SOURCE_KEYS.get(section, ()))
    return key in values or key in sources


def check_material_keys(raw: dict, origin: str) -> None:
    """Unknown top-level keys, unknown tables and unknown keys inside a table are errors,
    as are source strings that are not strings (MATERIAL_KEYS lists what is allowed)."""
    tables = ", ".join(f"[{t}]" for t in (*MATERIAL_KEYS, recalibration.TABLE))
    for key, value in raw.items():
        if key in MATERIAL_TOP_LEVEL:
            continue
        if key == recalibration.TABLE:  # tables re-fitted under coupling options
            recalibration.check_recalibrated(raw, origin)
            continue
        if key not in MATERIAL_KEYS:
            what = "table" if isinstance(value, dict) else "key"
            shown = f"[{key}]" if isinstance(value, dict) else key
            raise MaterialError(
                f"{origin}: unknown {what} '{shown}'; allowed top-level keys: "
                f"{', '.join(MATERIAL_TOP_LEVEL)} and the tables {tables}"
            )
        if not isinstance(value, dict):
            raise MaterialError(f"{origin}: {key} = {value!r}: must be a table [{key}]")
        for inner, inner_value in value.items():
            if not _allowed_key(key, inner):
                sources = ", ".join(("source", "<key>_source", *MATERIAL_SOURCE_KEYS.get(key, ())))
                raise MaterialError(
                    f"{origin}: unknown key '[{key}] {inner}'; allowed in [{key}]: "
                    f"{', '.join(MATERIAL_KEYS[key])} and the strings {sources}"
                )
            if inner == "source" or inner.endswith("_source"):
                if not isinstance(inner_value, str):
                    raise MaterialError(f"{origin}: [{key}] {inner} = {inner_value!r}: must be a string")


def build_material(raw: dict, origin: str) -> Material:
    """Validate a parsed material file and build the `Material`."""
    check_material_keys(raw, origin)
    name = raw.get("name")
    formula = raw.get("formula")
    if not isinstance(name, str) or not isinstance(formula, str):
        raise MaterialError(f"{origin}: needs string keys 'name' and 'formula'")

    x_ocv, u = _table(raw, "ocv", "volts", origin)
    _check_ocv_monotone(raw, x_ocv, u, origin)
    x_d, log10_d = _table(raw, "diffusivity", "log10_m2_s", origin)
    x_a, a = _table(raw, "lattice", "a_angstrom", origin)
    x_c, c = _table(raw, "lattice", "c_angstrom", origin)
    if np.any(log10_d > -8) or np.any(log10_d < -25):
        raise MaterialError(f"{origin}: [diffusivity] log10_m2_s must lie in [-25, -8]")
    if np.any(a <= 0) or np.any(c <= 0):
        raise MaterialError(f"{origin}: [lattice] a and c must be positive")

    stiffness = {}
    for key in ("C11", "C12", "C13", "C33", "C44"):
        stiffness[key] = _number(raw, f"stiffness.{key}_GPa", origin, low=0, inclusive=False)
    if not np.all(np.linalg.eigvalsh(hexagonal_stiffness(stiffness)) > 0):
        raise MaterialError(f"{origin}: [stiffness] is not positive definite")

    return Material(
        name=name,
        formula=formula,
        source_file=origin,
        raw=raw,
        molar_mass=_number(raw, "composition.molar_mass_g_mol", origin, low=1, high=1000) * 1e-3,
        density=_number(raw, "density.crystallographic_kg_m3", origin, low=1000, high=10000),
        capacity_nominal=_number(raw, "capacity.nominal_mAh_g", origin, low=1, high=1000),
        x_initial=_number(raw, "capacity.x_initial", origin, low=0.5, high=1.0, inclusive=False),
        out_of_plane_ratio=_number(raw, "diffusivity.out_of_plane_ratio", origin, low=1e-6, high=1),
        exchange_current_reference=_number(
            raw, "exchange_current.reference_A_m2", origin, low=0, inclusive=False
        ),
        electronic_conductivity=_number(
            raw, "conductivity.electronic_S_m", origin, low=0, inclusive=False
        ),
        li_ni_disorder=_number(raw, "disorder.li_ni_antisite_fraction", origin, low=0, high=0.5),
        stiffness_gpa=stiffness,
        ni_fraction=_number(raw, "composition.ni_fraction", origin, low=0, high=1, inclusive=False),
        ni_valence_constant=_number(raw, "composition.ni_valence_constant", origin, low=0, high=10),
        white_line_ni3_ev=_number(raw, "xanes.white_line_ni3_eV", origin, low=8000, high=9000),
        white_line_shift_ev=_number(raw, "xanes.shift_eV_per_valence", origin, low=0, high=10),
        _ocv=Pchip(x_ocv, u),
        _log10_diffusivity=Pchip(x_d, log10_d),
        _lattice_a=Pchip(x_a, a),
        _lattice_c=Pchip(x_c, c),
        **_coupling_parameters(raw, origin),
    )


def _coupling_parameters(raw: dict, origin: str) -> dict:
    """The optional [slab_spacing] and [phase_separation] tables (all keys of a table are
    required once the table is given); an optional [degradation] table is checked."""
    out = {}
    if "slab_spacing" in raw:
        out["li_slab_height_angstrom"] = _number(raw, "slab_spacing.li_slab_height_angstrom", origin,
                                                 low=0, high=10, inclusive=False)
        out["barrier_slope_ev_per_angstrom"] = _number(raw, "slab_spacing.barrier_slope_eV_per_angstrom",
                                                       origin, low=0, high=100)
    if "degradation" in raw:  # checked here, read by cycle-life runs (degradation/parameters.py)
        parse_degradation(raw["degradation"], origin)
    if "phase_separation" in raw:
        low = _number(raw, "phase_separation.x_low", origin, low=0, high=1)
        high = _number(raw, "phase_separation.x_high", origin, low=0, high=1)
        if not low < high:
            raise MaterialError(f"{origin}: [phase_separation] x_low = {low:g} must be below x_high = {high:g}")
        out["gap_x_low"], out["gap_x_high"] = low, high
        out["gap_barrier_j_mol"] = _number(raw, "phase_separation.barrier_J_mol", origin, low=0, high=1e6)
        out["gradient_energy_j_m2_mol"] = _number(raw, "phase_separation.gradient_energy_J_m2_mol",
                                                  origin, low=0, high=1, inclusive=False)
    return out


def load_material(name_or_path: str | Path, overrides: dict | None = None) -> Material:
    """Load a material by name (a file under models/) or path, with optional dotted-key
    overrides, e.g. load_material("nc91", {"diffusivity.out_of_plane_ratio": 1.0})."""
    raw, path = read_material_file(name_or_path)
    origin = f"material file {path.name}"
    if overrides:
        raw = apply_overrides(raw, overrides, origin)
    return build_material(raw, origin)
