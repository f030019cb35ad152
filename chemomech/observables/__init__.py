"""Synthetic measurements (operando XRD, SXDM, TXM-XANES): to be added."""
