"""Analyses of simulated runs, as an experimenter would do them on measured data
(GITT: gitt.gitt_diffusivity)."""

from chemomech.analysis.gitt import gitt_diffusivity

__all__ = ["gitt_diffusivity"]
