"""File input/output at the edges: run configurations and run directories."""

from chemomech.io.config import SCHEMA, apply_assignments, resolve_config
from chemomech.io.rundir import write_run_directory

__all__ = ["SCHEMA", "apply_assignments", "resolve_config", "write_run_directory"]
