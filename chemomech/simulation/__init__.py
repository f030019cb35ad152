"""The run layer: a configuration resolved once (spec), one adapter per geometry (sphere,
voxels), and the records every result holds (records); simulate() ties them together."""
