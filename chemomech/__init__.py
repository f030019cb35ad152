"""chemomech: lithium transport and lattice strain in battery cathode particles.

    import chemomech as cm
    mat = cm.load_material("nc91")
    ds = cm.simulate({"material": "nc91", "protocol": {"c_rate": 1.0}})
    pattern = cm.observables.xrd(ds)           # also cm.observables.sxdm, .xanes

Folders name the stages of the pipeline: materials -> geometry -> transport -> mechanics
-> observables, with io, cli and plotting at the edges.

The names below are imported on first use (module __getattr__, PEP 562), so that
`import chemomech` and the command line start without loading scipy, xarray, numba,
matplotlib or xraydb; `cm.simulate` etc. behave exactly as plain attributes.
"""

import sys
import types
from importlib import import_module

from chemomech.errors import ChemomechError, ConfigError, MaterialError
from chemomech.kernels_warmup import configure_cache_dir

configure_cache_dir()  # a writable numba cache even for a read-only install (before numba loads)

__version__ = "0.1.0"

# public name -> (module, attribute); attribute None: the subpackage itself
_LAZY = {
    "analysis": ("chemomech.analysis", None),
    "mechanics": ("chemomech.mechanics", None),
    "observables": ("chemomech.observables", None),
    "Material": ("chemomech.materials.material", "Material"),
    "available_materials": ("chemomech.materials.material", "available_materials"),
    "load_material": ("chemomech.materials.material", "load_material"),
}

__all__ = ["ChemomechError", "ConfigError", "MaterialError", "simulate", *sorted(_LAZY)]


def __getattr__(name: str):
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'chemomech' has no attribute {name!r}") from None
    module = import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | {"simulate"})


class _Package(types.ModuleType):
    """The module type of `chemomech`: `cm.simulate` is the function chemomech.simulate.simulate.
    The submodule of the same name, once imported, would replace a plain attribute (the
    import system sets it on the package); this property keeps the function, and still
    accepts a replacement function (monkeypatching)."""

    @property
    def simulate(self):
        replacement = self.__dict__.get("_simulate_replacement")
        return replacement if replacement is not None else import_module("chemomech.simulate").simulate

    @simulate.setter
    def simulate(self, value):
        if not isinstance(value, types.ModuleType):  # the submodule itself is not the API
            self.__dict__["_simulate_replacement"] = value


sys.modules[__name__].__class__ = _Package
