"""Synthetic powder XRD (chemomech.observables.powder_xrd, crystallography) and `chemomech xrd`.

Where each number comes from is said in each test: Bragg's law for the peak positions, an
independent 12-atom structure-factor calculation with Cromer-Mann coefficients typed from
International Tables Vol. C for the intensity ratios, counting by hand for multiplicities,
exact shell volumes for the 1-D weighting."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from chemomech.cli.main import main
from chemomech.materials.material import load_material
from chemomech.observables import crystallography as cr
from chemomech.observables.powder_xrd import voxel_states, xrd
from chemomech.observables.xrd_analysis import peak_positions_widths

WAVELENGTH = 0.1173


@pytest.fixture(scope="module")
def nc91():
    return load_material("nc91")


def uniform_sphere(x_value, cells=20, snapshots=2, radius=1e-6):
    """A sphere-1d-like Dataset with uniform x in every cell."""
    dr = radius / cells
    r = (np.arange(cells) + 0.5) * dr
    x = np.full((snapshots, cells), x_value, dtype=float)
    return xr.Dataset({"x_li": (("snapshot", "r"), x)},
                      coords={"snapshot": np.arange(snapshots), "r": r,
                              "snapshot_time": ("snapshot", np.arange(snapshots) * 100.0)})


def uniform_voxels(x_value, across=12, snapshots=2):
    """A voxel-run-like Dataset: a sphere of uniform x, NaN outside, no strain fields."""
    c = np.arange(across) - (across - 1) / 2
    z, y, x = np.meshgrid(c, c, c, indexing="ij")
    solid = x * x + y * y + z * z <= (across / 2) ** 2
    field = np.where(solid, x_value, np.nan)[None].repeat(snapshots, axis=0).astype(np.float32)
    axis = c * 50e-9
    return xr.Dataset({"x_li": (("snapshot", "z", "y", "x"), field)},
                      coords={"snapshot": np.arange(snapshots), "z": axis, "y": axis, "x": axis})


# ---------------------------------------------------------------------------------------
def test_homogeneous_peaks_at_bragg_angles(nc91):
    """Issue requirement: a homogeneous particle's (003) sits at 2 asin(lambda / (2 c/3))
    within 0.002 deg; also (110) at 2 asin(lambda / a) (d110 = a/2) and (104) at
    2 asin(lambda / (2 d104)), 1/d104^2 = 4/(3 a^2) + 16/c^2 (Bragg's law, hexagonal
    metric). The peak is located by a pseudo-Voigt fit of the synthetic pattern."""
    x_value = 0.55
    a, c = float(nc91.lattice_a(x_value)), float(nc91.lattice_c(x_value))
    expected = {
        "003": 2 * math.degrees(math.asin(WAVELENGTH / (2 * c / 3))),
        "104": 2 * math.degrees(math.asin(WAVELENGTH / (2 / math.sqrt(4 / (3 * a * a) + 16 / (c * c))))),
        "110": 2 * math.degrees(math.asin(WAVELENGTH / a)),
    }
    for ds in (uniform_sphere(x_value), uniform_voxels(x_value)):
        pattern = xrd(ds, material=nc91, reflections=((0, 0, 3), (1, 0, 4), (1, 1, 0)))
        windows = [(expected[k] - 0.1, expected[k] + 0.1) for k in ("003", "104", "110")]
        fit = peak_positions_widths(pattern.two_theta.values, pattern.intensity.values[0], windows)
        for w, key in enumerate(("003", "104", "110")):
            assert abs(float(fit.position[0, w]) - expected[key]) < 0.002, key


def test_default_pattern_covers_all_reflections(nc91):
    """The default grid holds every reflection with margin; the patterns of equal snapshots
    agree; the homogeneous-angle variable is Bragg's law at (a_ref, c_ref)."""
    pattern = xrd(uniform_sphere(1.0), material=nc91)
    tt = pattern.two_theta.values
    homogeneous = pattern.reflection_two_theta_homogeneous.values
    assert tt[0] < homogeneous.min() - 0.1 and tt[-1] > homogeneous.max() + 0.1
    assert np.allclose(pattern.intensity[0], pattern.intensity[1])
    assert np.all(np.isfinite(pattern.intensity.values)) and float(pattern.intensity.min()) > -1e-6 * float(pattern.intensity.max())
    assert pattern.intensity.attrs["units"] and pattern.two_theta.attrs["units"] == "deg"
    c003 = 2 * np.degrees(np.arcsin(WAVELENGTH / (2 * nc91.c_ref / 3)))
    assert abs(float(pattern.reflection_two_theta_homogeneous.sel(reflection="003")) - c003) < 1e-9


def test_multiplicities():
    """Counted by hand for R-3m: {003}: (003), (00-3) -> 2; {104}: 12 (hk) pairs with
    h^2+hk+k^2 = 1 and l = +-4, half obey -h+k+l = 3n -> 6; {113}: all 12 obey it -> 12;
    {110} -> 6 (l = 0); {101}, {012} -> 6; (102) is extinct but its d-family is {012} -> 6."""
    expected = {(0, 0, 3): 2, (0, 0, 6): 2, (1, 0, 4): 6, (1, 1, 3): 12, (1, 1, 0): 6, (1, 0, 1): 6,
                (0, 1, 2): 6, (0, 1, 5): 6, (0, 1, 8): 6, (1, 0, 2): 6}
    for hkl, m in expected.items():
        assert cr.multiplicity(hkl) == m, hkl
    assert not cr.r3m_allowed(1, 0, 2) and cr.r3m_allowed(0, 1, 2)


# Cromer-Mann coefficients (a1, b1, a2, b2, a3, b3, a4, b4, c), International Tables for
# Crystallography Vol. C, Table 6.1.1.4, neutral atoms, typed by hand (f0(0) ~ Z checks them).
CROMER_MANN = {
    "Li": (1.1282, 3.9546, 0.7508, 1.0524, 0.6175, 85.3905, 0.4653, 168.261, 0.0377),
    "O": (3.0485, 13.2771, 2.2868, 5.7011, 1.5463, 0.3239, 0.8670, 32.9089, 0.2508),
    "Ni": (12.8376, 3.8785, 7.2920, 0.2565, 4.4438, 12.1763, 2.3800, 66.3421, 1.0341),
    "Co": (12.2841, 4.2791, 7.3409, 0.2784, 4.0034, 13.5359, 2.3488, 71.1692, 1.0118),
}


def cromer_mann(element, s):
    """f0(s) = sum_i a_i exp(-b_i s^2) + c, s = sin(theta)/lambda [1/Angstrom]."""
    k = CROMER_MANN[element]
    return sum(k[2 * i] * math.exp(-k[2 * i + 1] * s * s) for i in range(4)) + k[8]


def independent_intensity(hkl, a, c, x, delta, z_oxygen, b_iso, multiplicity):
    """m |F|^2 LP for Li_x(Ni0.9Co0.1)O2 written out atom by atom: the 12 atoms of the
    hexagonal R-3m cell (3b Li layer, 3a TM layer, 6c O), exchange model of the package
    docstring (Li layer: Ni delta + Li x(1-delta); TM layer: Ni 0.9-delta, Co 0.1, Li x delta),
    isotropic B; no anomalous dispersion (|f'|, f'' < 0.04 e at 106 keV: < 0.2 % in |F|^2)."""
    h, k, l = hkl
    d = 1 / math.sqrt(4 / 3 * (h * h + h * k + k * k) / a**2 + l * l / c**2)
    s = 1 / (2 * d)
    f = {el: cromer_mann(el, s) for el in CROMER_MANN}
    li_layer = (f["Ni"] * delta + f["Li"] * x * (1 - delta)) * math.exp(-b_iso["Li"] * s * s)
    tm_layer = (f["Ni"] * (0.9 - delta) + f["Co"] * 0.1 + f["Li"] * x * delta) * math.exp(-b_iso["TM"] * s * s)
    oxygen = f["O"] * math.exp(-b_iso["O"] * s * s)
    atoms = [
        (li_layer, (0, 0, 1 / 2)), (li_layer, (2 / 3, 1 / 3, 5 / 6)), (li_layer, (1 / 3, 2 / 3, 1 / 6)),
        (tm_layer, (0, 0, 0)), (tm_layer, (2 / 3, 1 / 3, 1 / 3)), (tm_layer, (1 / 3, 2 / 3, 2 / 3)),
        (oxygen, (0, 0, z_oxygen)), (oxygen, (0, 0, -z_oxygen)),
        (oxygen, (2 / 3, 1 / 3, 1 / 3 + z_oxygen)), (oxygen, (2 / 3, 1 / 3, 1 / 3 - z_oxygen)),
        (oxygen, (1 / 3, 2 / 3, 2 / 3 + z_oxygen)), (oxygen, (1 / 3, 2 / 3, 2 / 3 - z_oxygen)),
    ]
    structure_factor = sum(fj * complex(math.cos(2 * math.pi * (h * p[0] + k * p[1] + l * p[2])),
                                        math.sin(2 * math.pi * (h * p[0] + k * p[1] + l * p[2])))
                           for fj, p in atoms)
    theta = math.asin(WAVELENGTH / (2 * d))
    lp = (1 + math.cos(2 * theta) ** 2) / (2 * math.sin(theta) ** 2 * math.cos(theta))
    return multiplicity * abs(structure_factor) ** 2 * lp


@pytest.mark.parametrize("x_value", [1.0, 0.5])
def test_intensity_ratios_match_independent_structure_factor(nc91, x_value):
    """Integrated intensities relative to (003) agree with the hand-written 12-atom
    calculation within 0.5 %: the package uses Waasmaier-Kirfel f0 (xraydb) plus Chantler
    f', f''; the two f0 parametrisations agree to a few 0.1 % in f for s < 0.5 1/A (the
    reflections here reach s = 0.37), and the dispersion terms are < 0.2 % in |F|^2 (the
    largest difference seen is 0.15 %, for (113))."""
    delta, z_oxygen = nc91.li_ni_disorder, 0.2585
    b_iso = {"Li": 1.0, "TM": 0.4, "O": 0.6}  # the package's documented B values
    a, c = float(nc91.lattice_a(x_value)), float(nc91.lattice_c(x_value))
    pattern = xrd(uniform_sphere(x_value), material=nc91)
    package = pattern.reflection_intensity.isel(snapshot=0)
    multiplicity = {"003": 2, "101": 6, "006": 2, "012": 6, "104": 6, "015": 6, "018": 6, "110": 6, "113": 12}
    hkl = {label: tuple(int(ch) for ch in label) for label in multiplicity}
    reference = {k: independent_intensity(hkl[k], a, c, x_value, delta, z_oxygen, b_iso, m) for k, m in multiplicity.items()}
    for label in multiplicity:
        ratio_package = float(package.sel(reflection=label) / package.sel(reflection="003"))
        ratio_reference = reference[label] / reference["003"]
        assert ratio_package == pytest.approx(ratio_reference, rel=0.005), label


def test_structure_factor_is_quadratic_in_x(nc91):
    """|F(x)|^2 = A + B x + C x^2 is exact for the occupancy model: the coefficients
    reproduce |F0 + F1 x|^2 at three x values (algebraic identity)."""
    hkl, a, c = (0, 0, 3), nc91.a_ref, nc91.c_ref
    f0, f1 = cr.structure_factor_parts(hkl, a, c, WAVELENGTH, nc91.formula, nc91.li_ni_disorder)
    coef = cr.structure_factor_coefficients(hkl, a, c, WAVELENGTH, nc91.formula, nc91.li_ni_disorder)
    for x in (0.0, 0.37, 1.0):
        assert coef[0] + coef[1] * x + coef[2] * x * x == pytest.approx(abs(f0 + f1 * x) ** 2, rel=1e-12)
    assert cr.tm_composition("LiNi0.9Mn0.1O2") == {"Ni": 0.9, "Mn": 0.1}


def test_shell_volume_weighting(nc91):
    """A sphere of 20 uniform cells whose outer half (r > R/2) has x = 0.4 and inner half
    x = 1: the two (003) peak areas are in the ratio of the shell volumes (1 - 1/8)/(1/8) = 7
    times m|F|^2 LP of the two cells (exact shell volumes r_out^3 - r_in^3). A narrow
    Gaussian profile separates the peaks; the areas are summed over windows."""
    ds = uniform_sphere(1.0, cells=20)
    ds["x_li"].values[:, 10:] = 0.4
    _, _, _, weight = voxel_states(ds)
    assert weight[10:].sum() == pytest.approx(7 / 8, rel=1e-12)
    pattern = xrd(ds, material=nc91, reflections=((0, 0, 3),), caglioti_deg2=(0.0, 0.0, 1e-6), eta=0.0)
    tt, y = pattern.two_theta.values, pattern.intensity.values[0]
    expected_ratio = 7.0
    positions = []
    for x_value in (0.4, 1.0):
        a, c = float(nc91.lattice_a(x_value)), float(nc91.lattice_c(x_value))
        positions.append(float(cr.two_theta_deg((0, 0, 3), a, c, WAVELENGTH)))
        coef = cr.structure_factor_coefficients((0, 0, 3), a, c, WAVELENGTH, nc91.formula, nc91.li_ni_disorder)
        factor = (coef[0] + coef[1] * x_value + coef[2] * x_value**2) * cr.lorentz_polarisation(positions[-1])
        expected_ratio *= factor if x_value == 0.4 else 1 / factor
    step = tt[1] - tt[0]
    areas = [y[np.abs(tt - p) < 0.008].sum() * step for p in positions]
    assert areas[0] / areas[1] == pytest.approx(expected_ratio, rel=2e-3)


def test_small_voxel_run_and_sphere_run(small_voxel_result, small_sphere_result):
    """Both kinds of simulated run give finite patterns; the voxel run uses its elastic
    strains; the pattern integrates (over 2 theta) to the sum of reflection intensities
    within the profile tails lost at the grid ends (< 1 %, Lorentzian tails)."""
    voxel, sphere = small_voxel_result, small_sphere_result
    for ds in (voxel, sphere):
        pattern = xrd(ds)
        assert pattern.sizes["snapshot"] == ds.sizes["snapshot"]
        assert np.all(np.isfinite(pattern.intensity.values))
        step = float(pattern.two_theta[1] - pattern.two_theta[0])
        total = pattern.intensity.sum("two_theta") * step
        assert np.allclose(total, pattern.reflection_intensity.sum("reflection"), rtol=0.01)
        assert "snapshot_soc" in pattern.coords
    assert "included" in xrd(voxel).attrs["elastic_strain"]


def test_bad_arguments(nc91):
    from chemomech.errors import ConfigError

    with pytest.raises(ConfigError, match="wavelength"):
        xrd(uniform_sphere(1.0), wavelength_A=-1, material=nc91)
    with pytest.raises(ConfigError, match="eta"):
        xrd(uniform_sphere(1.0), eta=2, material=nc91)


# ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_xrd(small_runs, tmp_path, capsys):
    """`chemomech xrd RUN --out DIR` writes xrd.nc, lattice.nc and the figures; an existing
    DIR needs --force; a bad wavelength or a non-run exits 2 with one line and no output."""
    run = small_runs["sphere"]
    out = tmp_path / "xrd"
    assert main(["xrd", str(run), "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"xrd.nc", "lattice.nc"} <= names
    assert any(n.endswith(".png") for n in names)
    with xr.open_dataset(out / "xrd.nc", engine="h5netcdf") as ds:
        assert ds.intensity.dims == ("snapshot", "two_theta")
    with xr.open_dataset(out / "lattice.nc", engine="h5netcdf") as ds:
        assert ds.a.dims == ("pattern", "phase") and np.isfinite(ds.c[:, 0]).all()
    capsys.readouterr()
    assert main(["xrd", str(run), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    bad = tmp_path / "bad"
    assert main(["xrd", str(run), "--out", str(bad), "--wavelength", "-0.1"]) == 2
    err = capsys.readouterr().err
    assert "wavelength" in err and err.count("\n") == 1 and not bad.exists()
    assert main(["xrd", str(tmp_path), "--out", str(bad)]) == 2
    assert "not a run directory" in capsys.readouterr().err and not bad.exists()
