"""A run configuration resolved once into typed objects.

`run_spec(config)` reads and validates the configuration (io.config.resolve_config: every
key, the protocol and its start on the material) and returns a RunSpec holding what the
run needs: the material and the exact text of its file, the particle table, the protocol
as an Experiment, the solver options and the output choices.
"""

from __future__ import annotations

import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path

from chemomech.degradation.cycle_jumping import JumpOptions
from chemomech.degradation.parameters import DegradationParameters, degradation_parameters
from chemomech.io.config import resolve_config
from chemomech.io.results import material_from_text
from chemomech.materials.blend import is_blend, material_source
from chemomech.materials.material import Material
from chemomech.materials.recalibration import TABLE as RECALIBRATED, options_key
from chemomech.protocol import Experiment
from chemomech.protocol.from_config import experiment_of
from chemomech.transport.coupling import PhysicsOptions, physics_options
from chemomech.transport.integrator import SolverOptions


@dataclass(frozen=True)
class DegradationSpec:
    """A cycle-life run's damage: the mechanisms switched on, the cycle-jumping options and
    the material's [degradation] parameters."""

    mechanisms: tuple
    jumps: JumpOptions
    parameters: DegradationParameters


@dataclass(frozen=True)
class RunSpec:
    """Everything a run needs, resolved (see module docstring)."""

    config: dict               # the resolved configuration (TOML-able; DIR/config.toml)
    material: Material
    material_text: str         # the material file's exact text (overrides in config)
    geometry: str              # "sphere-1d", "single-crystal" or "polycrystal"
    particle: dict             # the resolved [particle] table
    protocol_kind: str         # "cc-charge", "gitt" or "experiment"
    experiment: Experiment
    solver: SolverOptions
    snapshots: int
    snapshot_cycles: tuple     # cycles whose states are kept (empty: the whole run)
    mechanics: bool
    physics: PhysicsOptions    # the coupling options ([physics]; all off: the Fickian model)
    calibration: str           # which tables the material uses (materials/recalibration.py)
    degradation: DegradationSpec | None = None  # a cycle-life run ([degradation] mechanisms listed)


def run_spec(config: dict | str | Path, assignments: list[str] | None = None) -> RunSpec:
    """Resolve `config` (dict or TOML path, with optional "key=value" overrides) once."""
    cfg = resolve_config(config, assignments)
    text, name = material_source(cfg["material"])
    label = name if is_blend(cfg["material"]) else f"material file {name}"
    physics = physics_options(cfg.get("physics"))
    options = physics.switched_on()
    material = material_from_text(text, cfg.get("material_overrides"), label, options)
    calibration = "default tables (Fickian calibration)"
    if options:
        if options_key(options) in tomllib.loads(text).get(RECALIBRATED, {}):
            calibration = f'tables re-fitted with {", ".join(options)} ([{RECALIBRATED}."{options_key(options)}"])'
        else:
            calibration = f"default tables (Fickian calibration; {name} has none re-fitted with {', '.join(options)})"
            warnings.warn(
                f"{name} has no tables re-fitted with {', '.join(options)}: the Fickian calibration is used "
                f"and the calibration rows may not hold (python validation/calibrate.py --physics "
                f"{','.join(options)} --fit --write)", stacklevel=2)
    protocol, output, solver = cfg["protocol"], cfg["output"], cfg["solver"]
    degradation = None
    table = cfg.get("degradation", {})
    if table.get("mechanisms"):
        default = JumpOptions()
        jumps = JumpOptions(enabled=table.get("cycle_jumping", default.enabled),
                            tolerance=table.get("jump_tolerance", default.tolerance),
                            max_jump=table.get("max_jump_cycles", default.max_jump),
                            min_jump=table.get("min_jump_cycles", default.min_jump))
        degradation = DegradationSpec(tuple(table["mechanisms"]), jumps, degradation_parameters(material))
    return RunSpec(
        config=cfg,
        material=material,
        material_text=text,
        geometry=cfg["particle"]["geometry"],
        particle=cfg["particle"],
        protocol_kind=protocol["kind"],
        experiment=experiment_of(protocol),
        solver=SolverOptions(tolerance=solver["tolerance"], max_step_fraction=solver["max_step_fraction"]),
        snapshots=output["snapshots"],
        snapshot_cycles=tuple(output.get("snapshot_cycles", [])),
        mechanics=output["mechanics"],
        physics=physics,
        calibration=calibration,
        degradation=degradation,
    )
