"""Electrode-level XAS: the readers of measured spectra (chemomech/io/xas_spectra.py), the
Athena/Larch normalisation (chemomech/analysis/xas_normalisation.py), the simulated
electrode spectra and their comparison (chemomech/observables/xas_electrode.py) and the
figure (chemomech/plotting/compare_xas.py). Each test says where its reference comes from."""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest
import xarray as xr

import chemomech as cm
from chemomech.analysis.xas_normalisation import find_e0, normalise
from chemomech.errors import ConfigError, ReadError
from chemomech.io import xas_spectra
from chemomech.io.xas_spectra import Spectrum, parse_label, read_xas_spectra
from chemomech.observables.txm_xanes import ni_k_edge_spectra, sphere_to_voxels
from chemomech.observables.xas_electrode import (
    _place_by_label,
    compare_xas,
    electrode_spectra,
    volume_average_spectrum,
)
from chemomech.plotting.compare_xas import plot_xas_comparison

TINY_RUN = {"material": "nc91", "particle": {"geometry": "sphere-1d", "radius_um": 1.0, "cells": 20},
            "protocol": {"kind": "cc-charge", "c_rate": 1.0, "v_max": 4.5}, "output": {"snapshots": 8}}


@pytest.fixture(scope="module")
def run():
    """A 1 um NC91 1-D sphere, 20 cells, 1C to 4.5 V, 8 snapshots (well under a second)."""
    return cm.simulate(TINY_RUN)


# ---- planted spectra -----------------------------------------------------------------------
# mu(E) = A0 + A1 (E - 8000) + J [S(u) (1 + Q1 u + Q2 u^2) + H / (1 + ((u - D) / W)^2)],
# S(u) = 1/2 + atan(u / G) / pi, u = E - E_edge: an arctangent edge, a Lorentzian white line D
# above it, a linear pre-edge and a quadratic post-edge background (all in eV).
G, H, W, D = 0.5, 0.6, 1.5, 4.0
J, A0, A1, Q1, Q2 = 1.3, 0.4, -3e-4, -2e-4, 4e-7


def planted(energy, edge):
    u = energy - edge
    step = 0.5 + np.arctan(u / G) / np.pi
    return A0 + A1 * (energy - 8000.0) + J * (step * (1 + Q1 * u + Q2 * u**2) + H / (1 + ((u - D) / W) ** 2))


def scan_energies():
    """A Ni K-edge step scan: 5 eV steps 8150-8315 eV, 0.25 eV 8320-8380 eV, 2 eV to 8750 eV."""
    return np.concatenate([np.arange(8150.0, 8320.0, 5.0), np.arange(8320.0, 8380.0, 0.25),
                           np.arange(8380.0, 8750.1, 2.0)])


def planted_references(edge):
    """From the closed form alone, on a 0.001 eV grid: E0 = the energy of the largest
    dmu/dE, the white line = the maximum of (mu - linear background) / J."""
    fine = np.arange(edge - 20.0, edge + 20.0, 0.001)
    values = planted(fine, edge)
    e0 = fine[np.argmax(np.gradient(values, fine))]
    white_line = fine[np.argmax((values - A0 - A1 * (fine - 8000.0)) / J)]
    return float(e0), float(white_line)


EDGES = 8341.0 + np.linspace(0.0, 1.0, 7)  # edge positions across several grid cells


@pytest.mark.parametrize("edge", EDGES)
def test_normalisation_of_planted_spectra(edge):
    """E0 within 0.25 eV of the steepest point of the closed form (E0 is a grid point, 0.25 eV
    apart here, as in Larch); edge step within 1 % of the planted J (1 + Q1 u0 + Q2 u0^2) at E0
    (the arctangent's 1/u tail makes the post-edge fit fall short by ~G / (pi norm1), 0.6 %);
    flat post-edge (E0 + 50 eV on) within 1 % of 1; white line within 0.1 eV of the maximum of
    the closed form's normalised spectrum."""
    energy = scan_energies()
    result = normalise(energy, planted(energy, edge))
    e0_ref, white_line_ref = planted_references(edge)
    assert abs(result.e0 - e0_ref) <= 0.25
    u0 = result.e0 - edge
    assert result.edge_step == pytest.approx(J * (1 + Q1 * u0 + Q2 * u0**2), rel=0.01)
    post = result.energy >= result.e0 + 50.0
    assert np.max(np.abs(result.flat[post] - 1.0)) <= 0.01
    assert abs(result.white_line_eV - white_line_ref) <= 0.1


def test_larch_default_ranges():
    """Larch's preedge defaults (larch/xafs/pre_edge.py) worked by hand for this scan:
    pre1 = 5 round((E_1 - E0) / 5), pre2 = pre1 / 2, norm2 = 5 round((E_max - E0) / 5) capped at
    E_max - E0, norm1 = min(25, 5 round(norm2 / 15)), nnorm = 2 for norm2 - norm1 >= 300 eV."""
    energy = scan_energies()
    result = normalise(energy, planted(energy, 8341.0))
    e0 = result.e0
    assert result.pre1 == 5.0 * round((energy[1] - e0) / 5.0)
    assert result.pre2 == result.pre1 / 2
    assert result.norm2 == min(5.0 * round((energy[-1] - e0) / 5.0), energy[-1] - e0)
    assert result.norm1 == min(25.0, 5.0 * round(result.norm2 / 15.0))
    assert result.nnorm == 2
    short = energy[energy < e0 + 200.0]  # norm2 - norm1 < 300 eV: a line
    assert normalise(short, planted(short, 8341.0)).nnorm == 1


def test_given_e0_and_bad_input():
    """A given E0 is used as is; one outside the scan, or too short a spectrum, is a one-line
    ConfigError."""
    energy = scan_energies()
    mu = planted(energy, 8341.0)
    assert normalise(energy, mu, e0=8342.0).e0 == 8342.0
    assert not normalise(energy, mu, e0=8342.0).e0_found
    for call in (lambda: normalise(energy, mu, e0=9000.0), lambda: normalise(energy[:5], mu[:5]),
                 lambda: find_e0(energy[:5], mu[:5])):
        with pytest.raises(ConfigError) as error:
            call()
        assert "\n" not in str(error.value)


@pytest.mark.parametrize("edge", EDGES[::3])
def test_agrees_with_larch(edge):
    """Larch's own pre_edge (xraylarch) on the same spectra: E0 within 0.1 eV, edge step within
    0.5 %, norm within 1e-3 (the algorithm is the same; only floating-point order differs)."""
    pytest.importorskip("larch")
    from larch import Group
    from larch.xafs import pre_edge

    energy = scan_energies()
    mu = planted(energy, edge)
    group = Group()
    pre_edge(energy, mu, group=group)
    result = normalise(energy, mu)
    assert abs(result.e0 - group.e0) <= 0.1
    assert result.edge_step == pytest.approx(group.edge_step, rel=0.005)
    np.testing.assert_allclose(result.norm, group.norm, atol=1e-3)


# ---- readers -------------------------------------------------------------------------------

def model_spectrum():
    energy = scan_energies()
    return energy, planted(energy, 8341.0)


def test_plain_two_columns(tmp_path):
    """Two columns as written: energy and mu back exactly; the voltage from the file name."""
    energy, mu = model_spectrum()
    path = tmp_path / "NC91_4p2V.dat"
    np.savetxt(path, np.c_[energy, mu], fmt="%.10f")
    (spectrum,) = read_xas_spectra(path)
    np.testing.assert_allclose(spectrum.energy, energy, rtol=0, atol=1e-9)
    np.testing.assert_allclose(spectrum.mu, mu, rtol=0, atol=1e-9)
    assert (spectrum.label, spectrum.label_kind, spectrum.label_origin) == (pytest.approx(4.2), "voltage", "file name")
    assert spectrum.column == "column 2"


def test_several_mu_columns(tmp_path):
    """One spectrum per mu column, labels from the column names (as written); unnamed columns:
    every column after the first is a spectrum (module docstring)."""
    energy, mu = model_spectrum()
    named = tmp_path / "series.txt"
    np.savetxt(named, np.c_[energy, mu, 1.1 * mu, 1.2 * mu], header="energy  mu_3.8V  mu_4.0V  mu_soc50")
    spectra = read_xas_spectra(named)
    assert [s.column for s in spectra] == ["mu_3.8V", "mu_4.0V", "mu_soc50"]
    assert [(s.label, s.label_kind) for s in spectra] == [(3.8, "voltage"), (4.0, "voltage"), (0.5, "soc")]
    for factor, spectrum in zip((1.0, 1.1, 1.2), spectra):
        np.testing.assert_allclose(spectrum.mu, factor * mu, rtol=1e-12)
    unnamed = tmp_path / "unnamed.csv"
    np.savetxt(unnamed, np.c_[energy, mu, 2 * mu], delimiter=",")
    spectra = read_xas_spectra(unnamed)
    assert [s.column for s in spectra] == ["column 2", "column 3"]
    np.testing.assert_allclose(spectra[1].mu, 2 * mu, rtol=1e-12)


def test_i0_it_transmission(tmp_path):
    """Only I0 and It: mu = ln(I0 / It) (Beer-Lambert), written with It = I0 exp(-mu)."""
    energy, mu = model_spectrum()
    i0 = 1e5 * (1 + 0.1 * np.sin(energy / 50.0))
    path = tmp_path / "transmission.csv"
    np.savetxt(path, np.c_[energy, i0, i0 * np.exp(-mu)], delimiter=",", header="E,I0,It", comments="")
    (spectrum,) = read_xas_spectra(path)
    assert spectrum.column == "ln(I0/It)"
    np.testing.assert_allclose(spectrum.mu, mu, rtol=0, atol=1e-9)


ATHENA_XMU = """# Athena data file -- Athena version 0.9.26
# Saving NC91 charge as mu(E)
# .  Element=Ni   Edge=K
# Background parameters
# .  E0=8345.000  Eshift=0.000  Rbkg=1.000
# ------------------------
#  energy  xmu  bkg  pre_edge  post_edge  der  sec  i0
"""
ATHENA_NOR = """# Athena data file -- Athena version 0.9.26
# Saving NC91 4.3V as normalized mu(E)
# voltage: 4.3 V
#------------------------
#  energy norm nbkg flat fbkg nder nsec
"""


def test_athena_exports(tmp_path):
    """Athena .xmu: the xmu column (not bkg, pre_edge, ... or i0); .nor: the norm column (not
    nbkg or flat); the voltage from the header line "# voltage: 4.3 V" (headers as Athena
    writes them)."""
    energy, mu = model_spectrum()
    others = np.c_[[k * mu + k for k in range(2, 8)]].T
    xmu = tmp_path / "scan.xmu"
    xmu.write_text(ATHENA_XMU + "\n".join(" ".join(f"{v:.10f}" for v in row) for row in np.c_[energy, mu, others]) + "\n")
    (spectrum,) = read_xas_spectra(xmu)
    assert spectrum.column == "xmu" and spectrum.label is None
    np.testing.assert_allclose(spectrum.mu, mu, atol=1e-9)
    nor = tmp_path / "scan.nor"
    nor.write_text(ATHENA_NOR + "\n".join(" ".join(f"{v:.10f}" for v in row) for row in np.c_[energy, mu, others[:, :5]]))
    (spectrum,) = read_xas_spectra(nor)
    assert spectrum.column == "norm"
    np.testing.assert_allclose(spectrum.mu, mu, atol=1e-9)
    assert (spectrum.label, spectrum.label_kind, spectrum.label_origin) == (4.3, "voltage", "header line 3")


def test_hdf5(tmp_path):
    """HDF5: energies in keV (units attribute) and a 2-D mu found by name, either layout;
    labels from a voltage dataset beside mu; dataset paths given explicitly (as written)."""
    energy, mu = model_spectrum()
    stack = np.stack([mu, 1.1 * mu, 1.2 * mu])
    path = tmp_path / "operando.h5"
    with h5py.File(path, "w") as handle:
        handle["/entry/data/energy"] = energy / 1000.0
        handle["/entry/data/energy"].attrs["units"] = "keV"
        handle["/entry/data/mu"] = stack
        handle["/entry/data/voltage"] = [3.8, 4.0, 4.2]
        handle["/other/spectra"] = stack.T
    spectra = read_xas_spectra(path)
    assert [s.label for s in spectra] == [3.8, 4.0, 4.2]
    assert spectra[1].column == "/entry/data/mu[1]"
    np.testing.assert_allclose(spectra[0].energy, energy, rtol=1e-12)
    np.testing.assert_allclose(spectra[2].mu, 1.2 * mu, rtol=1e-12)
    assert any("keV" in note for note in spectra[0].notes)
    spectra = read_xas_spectra(path, energy_dataset="/entry/data/energy", mu_dataset="/other/spectra")
    assert len(spectra) == 3
    np.testing.assert_allclose(spectra[1].mu, 1.1 * mu, rtol=1e-12)


def test_kev_energies(tmp_path):
    """Energies below 100 with no unit are keV (converted, and the notes say so); a header
    naming keV converts whatever the values."""
    energy, mu = model_spectrum()
    bare = tmp_path / "kev.dat"
    np.savetxt(bare, np.c_[energy / 1000.0, mu], fmt="%.9f")
    (spectrum,) = read_xas_spectra(bare)
    np.testing.assert_allclose(spectrum.energy, energy, atol=1e-5)
    assert "keV" in spectrum.notes[0]
    named = tmp_path / "named.dat"
    np.savetxt(named, np.c_[energy / 1000.0, mu], fmt="%.9f", header="Energy (keV)  mu")
    (spectrum,) = read_xas_spectra(named)
    np.testing.assert_allclose(spectrum.energy, energy, atol=1e-5)
    assert "column header" in spectrum.notes[0]


def test_labels_argument_and_parsing(tmp_path):
    """parse_label on the forms of the module docstring; labels given override the file's."""
    assert parse_label("4.2V") == (4.2, "voltage")
    assert parse_label("4200 mV") == (4.2, "voltage")
    assert parse_label("50%") == (0.5, "soc")
    assert parse_label("SoC 0.25") == (0.25, "soc")
    assert parse_label(0.3) == (0.3, "soc")
    assert parse_label(3.9) == (3.9, "voltage")
    for bad in ("12", "abc", 1.5, "7V"):
        with pytest.raises(ConfigError):
            parse_label(bad)
    energy, mu = model_spectrum()
    path = tmp_path / "scan_3.9V.dat"
    np.savetxt(path, np.c_[energy, mu, mu])
    spectra = read_xas_spectra(path, labels=["4.0V", "4.1 V"])
    assert [(s.label, s.label_origin) for s in spectra] == [(4.0, "given"), (4.1, "given")]
    with pytest.raises(ConfigError, match="2 spectra"):
        read_xas_spectra(path, labels=["4.0V"])


def test_cleaning_and_blocks(tmp_path, monkeypatch):
    """NaN rows dropped with a warning naming their lines; a downward scan sorted; repeated
    energies averaged; with blocks of 2000 characters (many blocks) the result is the same
    and a bad line in a late block is named by its file line."""
    energy, mu = model_spectrum()
    rows = np.c_[energy, mu][::-1].copy()
    rows[10, 1] = np.nan
    path = tmp_path / "down.dat"
    lines = ["# energy mu"] + [f"{e:.6f} {m:.10f}" for e, m in rows] + [f"{energy[5]:.6f} {mu[5] + 0.2:.10f}"]
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(xas_spectra, "BLOCK_CHARS", 2000)
    with pytest.warns(UserWarning, match="line 12"):
        (spectrum,) = read_xas_spectra(path)
    keep = np.ones(energy.size, bool)
    keep[energy.size - 1 - 10] = False
    expected = mu[keep].copy()
    expected[5] = 0.5 * (mu[5] + mu[5] + 0.2)
    np.testing.assert_allclose(spectrum.energy, energy[keep], atol=1e-6)
    np.testing.assert_allclose(spectrum.mu, expected, atol=1e-9)
    assert any("sorted" in note for note in spectrum.notes) and any("repeated" in note for note in spectrum.notes)
    lines[400] = "8500.0 0.5 7"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReadError, match="line 401: expected 2 columns"):
        read_xas_spectra(path)


def write_text(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def good_rows(count=20):
    energy = np.linspace(8300.0, 8400.0, count)
    return "\n".join(f"{e:.3f} {0.5 + np.arctan(e - 8345.0) / np.pi:.6f}" for e in energy) + "\n"


def make_bad_file(kind, tmp_path):
    """One malformed input per kind: (path, keyword arguments, text the message must hold)."""
    if kind == "missing":
        return tmp_path / "absent.dat", {}, "no such file"
    if kind == "empty":
        return write_text(tmp_path, "empty.dat", ""), {}, "empty"
    if kind == "comments only":
        return write_text(tmp_path, "comments.dat", "# energy mu\n# nothing else\n"), {}, "no data lines"
    if kind == "bad token":
        return write_text(tmp_path, "token.dat", good_rows() + "8401.0 abc\n" + good_rows()), {}, "line 21"
    if kind == "short line":
        return write_text(tmp_path, "short.dat", good_rows() + "8401.0\n"), {}, "line 21: expected 2 columns"
    if kind == "one column":
        return write_text(tmp_path, "one.dat", "8300\n8301\n"), {}, "line 1: expected 2 or more numbers"
    if kind == "too few points":
        return write_text(tmp_path, "few.dat", good_rows(5)), {}, "at least 10"
    if kind == "not energies":
        return write_text(tmp_path, "counts.dat", "\n".join(f"{300000 + k} {k}" for k in range(30))), {}, "outside"
    if kind == "span":
        return write_text(tmp_path, "span.dat", "\n".join(f"{10 + k} 1" for k in range(30))), {}, "span"
    if kind == "ev below 100":
        return write_text(tmp_path, "ev.dat", "# energy(eV) mu\n" + "\n".join(f"{k} 1" for k in range(30))), {}, "eV"
    if kind == "no mu column":
        return write_text(tmp_path, "bkg.dat", "# energy bkg der\n" + "\n".join(f"{8300 + k} 1 2" for k in range(30))), \
            {}, "no mu column"
    if kind == "powder pattern":
        return write_text(tmp_path, "pattern.xy", "# Wavelength: 1.173e-11 m\n#  2th_deg  I\n" + good_rows()), {}, \
            "powder diffraction"
    if kind == "tiff":
        path = tmp_path / "stack.dat"
        path.write_bytes(b"II*\x00" + bytes(100))
        return path, {}, "TIFF"
    if kind == "binary":
        path = tmp_path / "blob.dat"
        path.write_bytes(b"12 3\x00\x01\x02")
        return path, {}, "binary"
    path = tmp_path / "file.h5"
    with h5py.File(path, "w") as handle:
        handle["energy"] = np.linspace(8300.0, 8400.0, 30)
        if kind == "hdf5 mu shape":
            handle["mu"] = np.ones((4, 7))
        elif kind == "hdf5 two mu":
            handle["a/mu"] = np.ones(30)
            handle["b/mu"] = np.ones(30)
        elif kind == "hdf5 text":
            handle["mu"] = np.array([b"x"] * 30)
    if kind == "hdf5 missing dataset":
        return path, {"mu_dataset": "/entry/absent"}, "no dataset '/entry/absent'"
    if kind == "hdf5 no mu":
        return path, {}, "no mu dataset"
    return path, {}, {"hdf5 mu shape": "shape (4, 7)", "hdf5 two mu": "several datasets",
                      "hdf5 text": "expected numbers"}[kind]


BAD_KINDS = ("missing", "empty", "comments only", "bad token", "short line", "one column", "too few points",
             "not energies", "span", "ev below 100", "no mu column", "powder pattern", "tiff", "binary",
             "hdf5 mu shape", "hdf5 two mu", "hdf5 text", "hdf5 missing dataset", "hdf5 no mu")


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_malformed_inputs(kind, tmp_path):
    """Every malformed input: a ReadError of one line naming the file and what is wrong."""
    path, options, expected = make_bad_file(kind, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ReadError) as error:
            read_xas_spectra(path, **options)
    message = str(error.value)
    assert "\n" not in message and path.name in message and expected in message, message


# ---- simulated electrode spectra -----------------------------------------------------------

def test_electrode_spectrum_is_the_shell_volume_average(run):
    """Reference: the direct sum over the 20 shells of ni_k_edge_spectra(E_wl(x_i)) weighted by
    the exact shell volumes 4 pi / 3 (r_out^3 - r_in^3) (faces at multiples of R / 20); the
    white-line nodes of volume_average_spectrum keep the error below 1e-5."""
    from chemomech.io.results import run_material

    electrode = electrode_spectra(run)
    material = run_material(run)
    faces = np.linspace(0.0, 1e-6, 21)
    volumes = 4 * np.pi / 3 * (faces[1:] ** 3 - faces[:-1] ** 3)
    energies = electrode["energy"].values
    for k in range(run.sizes["snapshot"]):
        spectra = ni_k_edge_spectra(material.white_line_energy(run["x_li"].values[k]), energies, dtype=np.float64)
        np.testing.assert_allclose(electrode["mu"].values[k], volumes @ spectra / volumes.sum(), atol=1e-5)
        assert electrode["e0"].values[k] == normalise(energies, electrode["mu"].values[k]).e0
    np.testing.assert_allclose(electrode["soc"].values, run["snapshot_soc"].values)
    np.testing.assert_allclose(electrode["voltage"].values, run["snapshot_voltage"].values)
    # charge raises the Ni valence: E0 and the white line move up (txm_xanes: 1.2 eV per valence)
    assert np.all(np.diff(electrode["white_line_energy"].values) > 0)
    assert electrode["e0"].values[-1] > electrode["e0"].values[0]


def test_voxel_run_spectrum_is_the_voxel_mean(run):
    """A voxel run (the 1-D run's x(r) on 100 nm voxels, NaN outside the sphere): the electrode
    spectrum equals the plain mean of the spectra of the voxels inside, summed directly."""
    snapshots = [0, 4, 7]
    fields = [sphere_to_voxels(run["x_li"].values[k], run["r"].values, 100e-9) for k in snapshots]
    z, y, x = fields[0][2]
    voxels = xr.Dataset({"x_li": (("snapshot", "z", "y", "x"), np.stack([f[0] for f in fields])),
                         "snapshot_soc": ("snapshot", run["snapshot_soc"].values[snapshots]),
                         "snapshot_voltage": ("snapshot", run["snapshot_voltage"].values[snapshots])},
                        coords={"z": z, "y": y, "x": x}, attrs=run.attrs)
    electrode = electrode_spectra(voxels)
    from chemomech.io.results import run_material

    material = run_material(run)
    energies = electrode["energy"].values
    for j, (values, _, _) in enumerate(fields):
        inside = values[np.isfinite(values)]
        direct = ni_k_edge_spectra(material.white_line_energy(inside), energies, dtype=np.float64).mean(axis=0)
        np.testing.assert_allclose(electrode["mu"].values[j], direct, atol=1e-5)


def test_volume_average_of_one_state_is_its_spectrum():
    """All cells alike: the average is that cell's spectrum (nodes fall on the value)."""
    energies = np.linspace(8320.0, 8380.0, 301)
    single = ni_k_edge_spectra(np.array([8350.7]), energies, dtype=np.float64)[0]
    np.testing.assert_allclose(volume_average_spectrum(np.full(50, 8350.7), None, energies), single, atol=1e-7)


def own_spectra(electrode, kind):
    """The run's own electrode spectra as measured spectra, labelled by voltage, SoC or not."""
    spectra = []
    for k in range(electrode.sizes["snapshot"]):
        label = {"voltage": float(electrode["voltage"].values[k]), "soc": float(electrode["soc"].values[k]),
                 None: None}[kind]
        spectra.append(Spectrum(energy=electrode["energy"].values, mu=electrode["mu"].values[k], label=label,
                                label_kind=kind, source=f"snapshot_{k}.dat"))
    return spectra


@pytest.mark.parametrize("kind", ["voltage", "soc", None])
def test_run_compared_with_itself(run, kind, tmp_path):
    """The run's own spectra, as measured spectra: every spectrum placed on its snapshot, zero
    differences in E0 and white line (same spectra, same analysis), and a figure written."""
    electrode = electrode_spectra(run)
    metrics, figure = compare_xas(run, own_spectra(electrode, kind))
    positions = [entry["snapshot_position"] for entry in metrics["spectra"]]
    np.testing.assert_allclose(positions, np.arange(run.sizes["snapshot"]), atol=1e-9)
    for entry in metrics["spectra"]:
        assert entry["e0_difference_eV"] == pytest.approx(0.0, abs=1e-9)
        assert entry["white_line_difference_eV"] == pytest.approx(0.0, abs=1e-9)
    assert metrics["e0"]["rms_difference_eV"] == pytest.approx(0.0, abs=1e-9)
    assert metrics["white_line"]["rms_difference_eV"] == pytest.approx(0.0, abs=1e-9)
    assert metrics["axis"] == (kind or "soc")
    if kind is None:
        assert "spread evenly" in metrics["placement"]
    path = plot_xas_comparison(figure, tmp_path / "compare_xas.png", "NC91 1C")
    assert path.is_file() and path.stat().st_size > 10_000


def test_labels_between_snapshots_and_offsets(run):
    """A spectrum labelled halfway (in SoC) between snapshots 2 and 3 is placed at 2.5 and held
    against the mean of their E0 and white line (linear interpolation, by construction); a
    spectrum shifted by +0.5 eV gives E0 and white-line differences of -0.5 eV."""
    electrode = electrode_spectra(run)
    soc = electrode["soc"].values
    energy = electrode["energy"].values
    spectrum = Spectrum(energy=energy + 0.5, mu=electrode["mu"].values[2], label=0.5 * (soc[2] + soc[3]),
                        label_kind="soc", source="shifted.dat")
    metrics, _ = compare_xas(run, [spectrum])
    entry = metrics["spectra"][0]
    assert entry["snapshot_position"] == pytest.approx(2.5)
    assert entry["simulated_e0_eV"] == pytest.approx(electrode["e0"].values[2:4].mean())
    assert entry["simulated_white_line_eV"] == pytest.approx(electrode["white_line_energy"].values[2:4].mean())
    assert entry["measured_e0_eV"] == pytest.approx(electrode["e0"].values[2] + 0.5, abs=1e-9)
    assert entry["measured_white_line_eV"] == pytest.approx(electrode["white_line_energy"].values[2] + 0.5, abs=1e-6)


def test_placement_in_time_order():
    """Charge then discharge (SoC 0, 0.5, 1, 0.5, 0): labels 0.5, 1, 0.5 in time order land on
    snapshots 1, 2 and 3 (the discharge branch for the last); a label beyond the run's range
    goes to the nearest snapshot, flagged."""
    t, notes = _place_by_label(np.array([0.0, 0.5, 1.0, 0.5, 0.0]), np.array([0.5, 1.0, 0.5, 0.25]))
    np.testing.assert_allclose(t, [1.0, 2.0, 3.0, 3.5])
    t, notes = _place_by_label(np.array([3.5, 3.8, 4.1]), np.array([3.4, 4.3]))
    np.testing.assert_allclose(t, [0.0, 2.0])
    assert all("nearest snapshot" in note for note in notes)


def test_mixed_labels_refused(run):
    """Some spectra by voltage and some by SoC (or some unlabelled): a one-line ConfigError."""
    electrode = electrode_spectra(run)
    spectra = own_spectra(electrode, "voltage")
    spectra[1].label, spectra[1].label_kind = 0.2, "soc"
    with pytest.raises(ConfigError) as error:
        compare_xas(run, spectra)
    assert "\n" not in str(error.value)


def test_cli_compare_xas(tmp_path, run):
    """`chemomech compare RUN --xas FILES --xas-labels ...`: spectra written from the run's
    own electrode spectra (electrode_spectra) at three snapshots, labelled with their
    voltages on the command line, give zero white-line and E0 differences in compare.json,
    and compare_xas.png is written; --xas-labels without --xas is a usage error (exit 2)."""
    import json

    from chemomech.cli.main import main
    from chemomech.io.rundir import write_run_directory
    from chemomech.observables.xas_electrode import electrode_spectra
    from chemomech.simulation.run import summary_of

    write_run_directory(tmp_path / "run", TINY_RUN, run, summary_of(run))
    own = electrode_spectra(run)
    files, labels = [], []
    for k in (1, 4, 7):
        path = tmp_path / f"spectrum_{k}.dat"
        np.savetxt(path, np.column_stack([own["energy"].values, own["mu"].values[k]]), header="energy mu")
        files.append(str(path))
        labels.append(f"{float(own['voltage'].values[k]):.12f}V")
    assert main(["compare", str(tmp_path / "run"), "--xas", *files, "--xas-labels", *labels]) == 0
    stored = json.loads((tmp_path / "run" / "compare" / "compare.json").read_text())["xas"]
    assert stored["white_line"]["rms_difference_eV"] < 1e-6 and stored["e0"]["rms_difference_eV"] < 1e-6
    assert (tmp_path / "run" / "compare" / "compare_xas.png").is_file()
    assert main(["compare", str(tmp_path / "run"), "--xas-labels", "4.2V", "--out", str(tmp_path / "other")]) == 2
