"""File input/output at the edges: run configurations and run directories.
(write_run_directory loads xarray: imported on first use, module __getattr__.)"""

from importlib import import_module

from chemomech.io.config import SCHEMA, apply_assignments, resolve_config

__all__ = ["SCHEMA", "apply_assignments", "resolve_config", "write_run_directory"]


def __getattr__(name: str):
    if name != "write_run_directory":
        raise AttributeError(f"module 'chemomech.io' has no attribute {name!r}")
    value = import_module("chemomech.io.rundir").write_run_directory
    globals()[name] = value
    return value
