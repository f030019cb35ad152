"""chemomech: lithium transport and lattice strain in battery cathode particles.

    import chemomech as cm
    mat = cm.load_material("nc91")
    ds = cm.simulate({"material": "nc91", "protocol": {"c_rate": 1.0}})
    pattern = cm.observables.xrd(ds)           # also cm.observables.sxdm, .xanes

Folders name the stages of the pipeline: materials -> geometry -> transport -> mechanics
-> observables, with io, cli and plotting at the edges.
"""

from chemomech import analysis, mechanics, observables
from chemomech.errors import ChemomechError, ConfigError, MaterialError
from chemomech.materials import Material, available_materials, load_material
from chemomech.simulate import simulate

__version__ = "0.1.0"
__all__ = [
    "ChemomechError",
    "ConfigError",
    "Material",
    "MaterialError",
    "analysis",
    "available_materials",
    "load_material",
    "mechanics",
    "observables",
    "simulate",
]
