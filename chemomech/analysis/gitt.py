"""Li diffusivity from a GITT titration (Weppner-Huggins), applied to a run's result.

Method (W. Weppner and R. A. Huggins, J. Electrochem. Soc. 124, 1569 (1977)): a constant
current I flows for tau; in the small-time limit tau << R^2/D the Li concentration at the
surface of a particle changes like that of a semi-infinite solid,
    dc_s = 2 J sqrt(t) / sqrt(pi D),      J = I / (F S)   [mol/m2/s],
while the mean concentration changes by J S tau / V. With dE = (dU/dc) dc on both, the
ratio of the steady-state (end-of-rest) voltage step dEs to the transient voltage change
during the pulse dEt gives
    D = 4 / (pi tau) (V/S)^2 (dEs / dEt)^2,     V/S = R/3 for a sphere of radius R [m2/s].
dEt excludes the instantaneous ohmic/kinetic jump at the pulse start. It is taken two ways:
  * sqrt(t) fit (the better practice, returned as "diffusivity"): E(t) during the pulse is
    sampled at 40 points uniform in sqrt(t - t_start) from the first stored step after the
    switch to the pulse end (linear interpolation between the stored steps) and fitted by
    a line E = E0 + m sqrt(t); then dEt = m sqrt(tau), i.e.
        D = 4/pi (R/3)^2 (dEs / (tau m))^2;
  * two points ("diffusivity_two_point"): dEt = E(end of pulse) - E(first stored step
    after the switch, ~1e-7 of the nominal charge time later, which holds the whole
    ohmic + kinetic jump but no diffusion yet).
dEs = E(end of the rest after the pulse) - E(end of the rest before it) (before the first
pulse: the OCV of the pristine state). The SoC of a pulse is the mean of the SoC at its
start and end (nominal 270 mAh/g basis), x_li the matching uniform Li fraction.

Where the formula departs from the input D(x) (the model's own GITT, tests/test_gitt.py):
  * tau not << R^2/D: the sphere's surface concentration rises faster than the planar
    sqrt(t) law (the flux converges into a shrinking volume, a correction of relative size
    ~ sqrt(pi D tau)/(2R) to dEt), so D comes out low; and a rest too short for R^2/D leaves
    the end-of-rest voltage off equilibrium (dEs wrong). For a 5 um sphere with the 1-D
    model's D ~ 3e-15 m2/s (R^2/D ~ 2 h) and 600 s pulses both estimates come out ~0.6x
    the input at 30-60 % SoC (sqrt(pi D tau)/(2R) ~ 0.25, and (1 + 0.25)^-2 = 0.64); for
    a 10 um sphere ~0.75-0.85x. The sqrt(t) fit and the two-point dEt differ by < 10 %
    here because the model has no double-layer transient.
  * dU/dx flat or changing fast across the pulse (the H2-H3 plateau near 4.2 V, x ~
    0.3-0.15): dE = (dU/dx) dx is no longer linear over the pulse's depth in x; where U is
    flat dEs and dEt are both tiny, and the ratio is dominated by the curvature of U
    between the surface x (which moves more than the mean) and the mean x. The extracted
    D then scatters by factors of several around the input (runs/gitt.toml: x 0.3-0.15,
    SoC > ~70 %, NC91 from 2.4x over to 0.2x under the input). At the very start (x >
    0.95, SoC < 5 %) U(x) is steep and curved (3.45 -> 3.63 V over x 1 -> 0.95) and D
    comes out 1.5-3.5x high.
  * D(x) varying over the pulse (the surface x moves further than the mean): the result
    is an average of D over the surface excursion, not D at the mean x (NM91's steep fall
    above ~50 % SoC is smeared).
  * kinetic and ohmic overpotentials that change during the pulse (i0(x_s) falls as the
    surface empties, most near the end of charge) add to dEt (they are not removed by
    taking E0 after the jump), so D comes out low where i0 drops fast.
  * the v_max pulse is cut short (its tau is the actual duration) and usually ends in the
    region where the above apply.
"""

from __future__ import annotations


import numpy as np
import xarray as xr

from chemomech.errors import ConfigError

FIT_POINTS = 40


def _pulse_rows(ds: xr.Dataset) -> list[tuple[int, int, int, int]]:
    """For each pulse n: (before, first, last, rest_end) step indices - the step before the
    switch-on (end of the previous rest), the first and last steps under current, and the
    last step of the rest that follows (the run's last step for the final rest)."""
    if "pulse_index" not in ds:
        raise ConfigError("gitt_diffusivity: the dataset has no 'pulse_index'; allowed: the result of a protocol.kind = 'gitt' run")
    index = np.asarray(ds["pulse_index"].values)
    rows = []
    for n in range(int(index.max()) + 1):
        k = np.flatnonzero(index == n)
        if k.size == 0:
            continue
        later = np.flatnonzero(index[k[-1] + 1:] >= 0)
        rest_end = k[-1] + later[0] if later.size else index.size - 1
        rows.append((int(k[0] - 1), int(k[0]), int(k[-1]), int(rest_end)))
    return rows


def gitt_diffusivity(ds: xr.Dataset, radius_um: float | None = None) -> xr.Dataset:
    """Weppner-Huggins diffusivity of every complete pulse of a GITT run (the Dataset of
    cm.simulate or result.nc of `chemomech run`).

    D = 4/(pi tau) (R/3)^2 (dEs/dEt)^2 [m2/s], with R the particle radius (radius_um, or
    particle.radius_um of the run's config) - for a non-spherical particle pass 3 V/S.
    Returns a Dataset over `pulse`: soc [-], x_li [-], diffusivity (sqrt(t) fit),
    diffusivity_two_point [m2/s], tau [s], dEs, dEt (from the fit), dEt_two_point [V],
    slope dE/dsqrt(t) [V/s^0.5], relaxed (True where the rest after the pulse ended with
    |dE/dt| below 1e-6 V/s). A pulse whose rest was cut by the end of the run is dropped.
    """
    if radius_um is None:
        from chemomech.io.results import run_config

        radius_um = run_config(ds)["particle"]["radius_um"]
    if not radius_um > 0:
        raise ConfigError(f"radius_um = {radius_um!r}: must be > 0")
    length = radius_um * 1e-6 / 3.0  # V/S [m]
    time = np.asarray(ds["time"].values, dtype=float)
    voltage = np.asarray(ds["voltage"].values, dtype=float)
    soc = np.asarray(ds["soc"].values, dtype=float)
    rows = _pulse_rows(ds)
    out = {name: [] for name in ("soc", "tau", "dEs", "dEt", "dEt_two_point", "slope", "relaxed")}
    for before, first, last, rest_end in rows:
        t0 = time[before]
        tau = time[last] - t0
        d_es = voltage[rest_end] - voltage[before]
        d_et_two = voltage[last] - voltage[first]
        root = np.linspace(np.sqrt(time[first] - t0), np.sqrt(tau), FIT_POINTS)
        e = np.interp(t0 + root**2, time[first:last + 1], voltage[first:last + 1])
        slope = np.polyfit(root, e, 1)[0]
        rate = (voltage[rest_end] - voltage[rest_end - 1]) / (time[rest_end] - time[rest_end - 1])
        out["soc"].append(0.5 * (soc[before] + soc[last]))
        out["tau"].append(tau)
        out["dEs"].append(d_es)
        out["dEt"].append(slope * np.sqrt(tau))
        out["dEt_two_point"].append(d_et_two)
        out["slope"].append(slope)
        out["relaxed"].append(abs(rate) < 1e-6)
    arr = {k: np.array(v) for k, v in out.items()}
    with np.errstate(divide="ignore", invalid="ignore"):
        d_fit = 4.0 / (np.pi * arr["tau"]) * length**2 * (arr["dEs"] / arr["dEt"]) ** 2
        d_two = 4.0 / (np.pi * arr["tau"]) * length**2 * (arr["dEs"] / arr["dEt_two_point"]) ** 2
    x_li = _x_of_soc(ds, arr["soc"])
    return xr.Dataset(
        data_vars={
            "soc": ("pulse", arr["soc"], {"units": "1", "long_name": "mean state of charge of the pulse"}),
            "x_li": ("pulse", x_li, {"units": "1", "long_name": "uniform Li fraction at the pulse's mean SoC"}),
            "diffusivity": ("pulse", d_fit, {"units": "m2/s", "long_name": "Weppner-Huggins D, dEt from the E vs sqrt(t) fit"}),
            "diffusivity_two_point": ("pulse", d_two, {"units": "m2/s", "long_name": "Weppner-Huggins D, dEt = E(end) - E(after the jump)"}),
            "tau": ("pulse", arr["tau"], {"units": "s", "long_name": "pulse duration"}),
            "dEs": ("pulse", arr["dEs"], {"units": "V", "long_name": "change of the relaxed voltage across the pulse"}),
            "dEt": ("pulse", arr["dEt"], {"units": "V", "long_name": "transient voltage change, sqrt(t) fit slope * sqrt(tau)"}),
            "dEt_two_point": ("pulse", arr["dEt_two_point"], {"units": "V", "long_name": "E(end of pulse) - E(first step after the switch)"}),
            "slope": ("pulse", arr["slope"], {"units": "V/s^0.5", "long_name": "dE/dsqrt(t) during the pulse"}),
            "relaxed": ("pulse", arr["relaxed"], {"units": "1", "long_name": "|dE/dt| < 1e-6 V/s at the end of the rest"}),
        },
        coords={"pulse": ("pulse", np.arange(len(rows)), {"units": "1"})},
        attrs={"radius_um": float(radius_um), "method": "Weppner & Huggins, J. Electrochem. Soc. 124, 1569 (1977), sphere V/S = R/3"},
    )


def _x_of_soc(ds: xr.Dataset, soc: np.ndarray) -> np.ndarray:
    """x = x_initial - SoC Q_nominal / Q_theoretical (inverse of Material.soc_of_x)."""
    from chemomech.io.results import run_material

    material = run_material(ds)
    return material.x_initial - soc * material.capacity_nominal / material.capacity_theoretical
