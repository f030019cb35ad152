"""Cycle life: the damage a particle accumulates cycle by cycle, and the run that carries it.

Each mechanism is a small module with its equation and units in the docstring; its
parameters are the material file's [degradation] table (parameters.py, sources in the
files and in models/README.md, "Degradation"):

    surface_layer.py         rock-salt surface layer: parabolic growth above the oxygen-
                             release onset, an ohmic resistance, and lattice it converts
    lattice_inactivation.py  intragranular loss of active lattice: oxygen loss at deep
                             delithiation and stress-driven (lattice-mismatch) inactivation
    boundary_fatigue.py      polycrystals: Paris-law fatigue of grain-boundary faces under
                             the normal traction, and grains cut off electronically
    state.py                 the damage state (fields per cell or voxel, per face) and its
                             arithmetic for cycle jumping
    cycle_jumping.py         the cycle-life run: representative cycles in full, damage
                             extrapolated between them with error control

A damage state is held fixed during a simulated cycle (damage changes by far less within
one cycle than the Li distribution does); the cycle's time history then gives the damage
increment of that cycle.
"""
