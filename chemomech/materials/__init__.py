"""Materials: parameter files under models/ turned into vectorised functions of x."""

from chemomech.materials.material import (
    Material,
    available_materials,
    hexagonal_stiffness,
    load_material,
    models_directory,
)

__all__ = ["Material", "available_materials", "hexagonal_stiffness", "load_material", "models_directory"]
