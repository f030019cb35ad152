"""Surface kinetics and cell voltage (the brief's model, alpha = 0.5).

Butler-Volmer with symmetric transfer coefficient:
    i = 2 i0(x_s) sinh(F eta / (2 R T))            [A/m2], i > 0 delithiates (charge)
    eta = (2 R T / F) asinh(i / (2 i0(x_s)))        [V]
Cell voltage vs Li/Li+, one electrode potential for the whole particle surface:
    V = U(x_s) + eta + i L / sigma_e               [V]
The last term is the ohmic drop of the solid's electronic conductivity sigma_e [S/m] over
a path of one particle radius L; for micron particles it is micro-volts (documented in
models/README.md), kept so that the measured conductivities have a place in the model.
"""

from __future__ import annotations

import numpy as np

from chemomech.constants import FARADAY, GAS_CONSTANT


def thermal_voltage_2rt_f(temperature: float) -> float:
    """2 R T / F [V] (51.4 mV at 25 C)."""
    return 2.0 * GAS_CONSTANT * temperature / FARADAY


def overpotential(current_density, exchange_current, temperature: float):
    """Butler-Volmer overpotential eta = (2RT/F) asinh(i / (2 i0)) [V]."""
    return thermal_voltage_2rt_f(temperature) * np.arcsinh(
        np.asarray(current_density) / (2.0 * np.asarray(exchange_current))
    )


def butler_volmer_current(eta, exchange_current, temperature: float):
    """Butler-Volmer current density i = 2 i0 sinh(F eta / (2RT)) [A/m2]."""
    return 2.0 * np.asarray(exchange_current) * np.sinh(
        np.asarray(eta) / thermal_voltage_2rt_f(temperature)
    )


def galvanostatic_current_density(c_rate: float, capacity_nominal_mah_g: float,
                                  density: float, radius: float) -> float:
    """Surface current density of a sphere charged at `c_rate` [A/m2].

    1C removes the nominal capacity Q (mAh/g) in one hour: the specific current is
    c_rate * Q * 3.6 C/g / 3600 s = c_rate * Q [A/kg] (Q in mAh/g), times the mass per
    surface area density * R / 3 of a sphere of radius R.
    """
    return c_rate * capacity_nominal_mah_g * density * radius / 3.0
