"""The registry of validation cases (`chemomech validate --list`).

The case definitions live in this package (chemomech/validation/), so the command works
from an installed wheel; the repository's validation/ folder holds the calibration fit
script (validation/calibrate.py) and the reports (validation/out/, git-ignored).

seconds: the run time measured on the development machine (2 shared cores, so inflated);
quick: in the fast subset (--quick, tests/test_validate.py); default: run when no --case is
given (the full-size polycrystal runs only when named).
"""

from __future__ import annotations

import importlib

from chemomech.errors import ConfigError
from chemomech.validation.core import Case


def later(module: str, function: str, *args):
    """A case's compute function, chemomech.validation.<module>.<function>(*args), imported
    when the case runs: the case list (`chemomech validate --list`) loads none of the
    simulation code."""
    def compute():
        return getattr(importlib.import_module(f"chemomech.validation.{module}"), function)(*args)

    compute.__name__ = function
    return compute


CASES: dict[str, Case] = {
    case.name: case
    for case in (
        Case("calibration-nc91", "calibration",
             "NC91 on the 2 um calibration sphere: SoC at 4.5 V at C/10 and 1C, c drop, volume shrinkage",
             later("calibration", "material_case", "nc91"), 1.0, quick=True),
        Case("calibration-nm91", "calibration",
             "NM91 on the 2 um calibration sphere: SoC at 4.5 V at C/10 and 1C, c drop, volume shrinkage",
             later("calibration", "material_case", "nm91"), 1.0, quick=True),
        Case("calibration-diffusivity", "calibration",
             "D(NC91)/D(NM91) at 85 % SoC (> 4) and at 40 % SoC (~1), the study's GITT",
             later("calibration", "diffusivity_case"), 0.1, quick=True),
        Case("analytical-crank", "analytical",
             "1-D transport vs Crank's constant-flux sphere series; Li balance",
             later("analytical", "crank_case"), 1.0, quick=True),
        Case("analytical-eshelby", "analytical",
             "voxel elasticity: Eshelby inclusion in a periodic box (centre strain)",
             later("analytical", "eshelby_case"), 0.5, quick=True),
        Case("analytical-free-sphere-voxel", "analytical",
             "voxel elasticity: free sphere with a radial eigenstrain vs Timoshenko-Goodier",
             later("analytical", "free_sphere_voxel_case"), 1.0, quick=True),
        Case("analytical-free-sphere-1d", "analytical",
             "1-D sphere stress (shell quadrature) vs the closed form",
             later("analytical", "free_sphere_1d_case"), 0.1, quick=True),
        Case("gitt-self-consistency", "self-consistency",
             "the model's own GITT run, Weppner-Huggins D vs the input D within x2 (SoC 0.1-0.7, NM91 0.1-0.5)",
             later("gitt", "gitt_case"), 1.0),
        Case("finding-single-crystal", "finding",
             "which composition delithiates more heterogeneously at 4.5 V (x, d003 spread), 1C vs C/10; R = 1.6 um",
             later("findings", "single_crystal_case"), 10.0),
        Case("finding-rate-heterogeneity", "finding",
             "NM91 vs NC91 spread of x and over-charged shell at 4.5 V, C/10-2C, every [physics] variant; 1-D sphere",
             later("findings", "rate_heterogeneity_case"), 20.0),
        Case("finding-polycrystal", "finding",
             "grain-boundary traction NC91 vs NM91, small polycrystal (R = 2 um, 0.4 um grains), C/10",
             later("findings", "polycrystal_case"), 40.0),
        Case("cycle-life-sphere", "finding",
             "cycle life of the single-crystal damage on the 1-D calibration sphere, NC91/NM91 at 0.5C and 1C (reported)",
             later("cycle_life", "sphere_case"), 3.0),
        Case("cycle-life", "calibration",
             "retention after 100 cycles: SC/PC x NC91/NM91 x 0.5C/1C; rows SC-NC91 and PC-NC91 at 0.5C fitted, the rest "
             "predicted; voxel runs (~1-2 h), only with --case",
             later("cycle_life", "cycle_life_case"), 5400.0, default=False),
        Case("finding-polycrystal-full", "finding",
             "the same at full size (runs/polycrystal.toml: R = 5 um, 15,625 grains; 10 + 17 min); only with --case",
             later("findings", "polycrystal_full_case"), 1650.0, default=False),
    )
}


def select_cases(names=None, quick: bool = False) -> list:
    """The cases named (in registry order), else the quick subset, else the default set.
    ConfigError (one line) for an unknown name."""
    if names:
        unknown = [n for n in names if n not in CASES]
        if unknown:
            raise ConfigError(f"--case {unknown[0]!r} is not a validation case; known: {', '.join(CASES)}")
        chosen = [c for c in CASES.values() if c.name in names]
        return [c for c in chosen if c.quick] if quick else chosen
    if quick:
        return [c for c in CASES.values() if c.quick]
    return [c for c in CASES.values() if c.default]
