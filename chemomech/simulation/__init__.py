"""The run layer: a configuration resolved once (spec), one adapter per geometry (sphere,
voxels), the records every result holds (records), and run.simulate (cm.simulate), which
ties them together."""
