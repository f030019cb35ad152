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
    "simulate": ("chemomech.simulation.run", "simulate"),
}

__all__ = ["ChemomechError", "ConfigError", "MaterialError", *sorted(_LAZY)]


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
    return sorted(set(globals()) | set(_LAZY))
