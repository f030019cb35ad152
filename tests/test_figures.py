"""Figures as a paper needs them: colour bars with quantity and unit, one map convention
(lab axes in um, origin at the particle centre) across slices, SXDM and TXM-XANES, the
elastic-model caveat, the (003) deconvolution legend on every panel and the XRD voltage
panel drawn from the full time series. Checked on the figure objects of small synthetic
data sets and the session's tiny voxel run."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

from chemomech.plotting.slices import ELASTIC_CAVEAT

UNIT_MARKERS = ("(%)", "(deg)", "(eV)", "(-)", "µm")


def colourbar_labels(fig) -> list[str]:
    """Labels of the colour bars of `fig` (the axes matplotlib made for them)."""
    return [ax.get_ylabel() for ax in fig.axes if ax.get_label() == "<colorbar>"]


def map_axes(fig) -> list:
    """The axes of `fig` that hold an image."""
    return [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]


def assert_centred_um(ax, tolerance_um=0.06):
    """Axis labels are plain lab axes in um and the image is centred on the origin."""
    for label in (ax.get_xlabel(), ax.get_ylabel()):
        assert label[0] in "xyz" and label.endswith("(µm)"), label
        assert "particle" not in label and "≈" not in label
    left, right, bottom, top = ax.images[0].get_extent()
    assert left < 0 < right and bottom < 0 < top
    assert abs(left + right) < tolerance_um and abs(bottom + top) < tolerance_um


def synthetic_maps(n=21, step_nm=50.0, raster_x_lab=(-0.11, 0.0, 0.994)) -> xr.Dataset:
    """SXDM maps of a disc with the geometry attributes of a simulated map (raster x near
    lab -z or +z, raster y = lab y), coordinates in m centred on the particle."""
    coords = (np.arange(n) - (n - 1) / 2) * step_nm * 1e-9
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    inside = xx ** 2 + yy ** 2 < (0.4 * n * step_nm * 1e-9) ** 2
    field = np.where(inside, xx * 1e4, np.nan)
    maps = xr.Dataset({"d_rel": (("y", "x"), 1e-3 * field), "tilt_y": (("y", "x"), field),
                       "tilt_z": (("y", "x"), -field),
                       "total_intensity": (("y", "x"), inside.astype(float), {"units": "beam fraction x um"})},
                      coords={"y": ("y", coords, {"units": "m"}), "x": ("x", coords, {"units": "m"})})
    maps.attrs.update(reflection="003", raster_x_axis_lab=np.array(raster_x_lab), raster_y_axis_lab=np.array([0., 1., 0.]),
                      third_axis_lab=np.array([-1., 0., 0.]), beam_nm=30.0, step_nm=step_nm,
                      frames_shape=np.array([21, n, n, 32, 32]))
    return maps


@pytest.mark.slow
def test_slices_colour_bars_units_centred_axes_and_caveat(small_voxel_result, tmp_path):
    from chemomech.plotting.slices import plot_slices, slices_figure

    fig = slices_figure({"tiny": small_voxel_result})
    labels = colourbar_labels(fig)
    assert len(labels) == 3 and all(any(unit in label for unit in UNIT_MARKERS) for label in labels), labels
    for ax in map_axes(fig):
        assert_centred_um(ax)
    assert ELASTIC_CAVEAT in fig._suptitle.get_text()
    plt.close(fig)
    path = plot_slices({"tiny": small_voxel_result}, tmp_path / "slices.png")
    assert path == tmp_path / "slices.png" and path.stat().st_size > 0


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.slow  # > 1 s: keeps `-m "not slow"` under a minute
def test_sxdm_maps_in_plain_lab_axes(sign, tmp_path):
    from chemomech.plotting.sxdm import plot_sxdm, sxdm_figure

    maps = synthetic_maps(raster_x_lab=(-0.11, 0.0, sign * 0.994))
    fig = sxdm_figure(maps)
    axes = map_axes(fig)
    assert len(axes) == 4
    for ax in axes:
        assert ax.get_xlabel() == "z (µm)" and ax.get_ylabel() == "y (µm)"
        assert_centred_um(ax)
    labels = colourbar_labels(fig)
    assert all("(" in label and label.endswith(")") for label in labels), labels
    assert "total intensity (beam fraction x µm)" in labels
    caption = fig._suptitle.get_text()
    assert "lab z-y plane" in caption and "voxel staircase" in caption
    # a raster axis along -z is flipped so that z increases to the right: d_rel (= raster x) falls
    d_rel = axes[0].images[0].get_array()
    row = d_rel[d_rel.shape[0] // 2]
    finite = row[~np.ma.getmaskarray(row)] if np.ma.isMaskedArray(row) else row[np.isfinite(row)]
    assert np.sign(finite[-1] - finite[0]) == sign
    plt.close(fig)
    assert plot_sxdm(maps, tmp_path / "m.png").stat().st_size > 0


def test_sxdm_maps_without_geometry_keep_raster_axes():
    from chemomech.plotting.sxdm import sxdm_figure

    maps = synthetic_maps()
    for key in ("raster_x_axis_lab", "raster_y_axis_lab", "third_axis_lab", "frames_shape"):
        del maps.attrs[key]
    fig = sxdm_figure(maps)
    assert map_axes(fig)[0].get_xlabel() == "raster x (µm)"
    assert "voxel" not in fig._suptitle.get_text()
    plt.close(fig)


def test_sxdm_of_a_tiny_run_is_centred_like_the_slices(small_voxel_result):
    import chemomech as cm
    from chemomech.plotting.sxdm import sxdm_figure

    maps = cm.observables.sxdm(small_voxel_result, n_angles=9, detector_pixels=(16, 16))
    fig = sxdm_figure(maps)
    for ax in map_axes(fig):
        assert_centred_um(ax)
    plt.close(fig)


@pytest.mark.slow  # > 1 s: keeps `-m "not slow"` under a minute
def test_xanes_slices_centred_on_the_particle(tmp_path):
    from chemomech.plotting.xanes import plot_white_line, white_line_figure

    n = 16
    index = np.arange(n) - (n - 1) / 2
    z, y, x = np.meshgrid(index, index, index, indexing="ij")
    volume = np.where(x ** 2 + y ** 2 + z ** 2 < 36, 8351.0 + 0.01 * (x ** 2 + y ** 2 + z ** 2), np.nan)
    coords = {name: (name, 40e-9 * index, {"units": "m"}) for name in "zyx"}
    result = xr.Dataset({"white_line_energy": (("z", "y", "x"), volume)}, coords=coords, attrs={"voxel_nm": 40.0})
    for data, kwargs in ((result, {}), (volume, {"voxel_nm": 40.0})):
        fig = white_line_figure(data, **kwargs)
        assert colourbar_labels(fig) == ["white-line energy (eV)"]
        for ax in map_axes(fig):
            assert_centred_um(ax)
        plt.close(fig)
    # a measured volume cropped off-centre: the origin stays at the particle, not the box
    fig = white_line_figure(volume[:, :, 3:], voxel_nm=40.0)
    left, right, _, _ = map_axes(fig)[0].images[0].get_extent()  # xy slice: x horizontal
    assert left == pytest.approx(-5 * 0.04, abs=0.01) and right == pytest.approx(8 * 0.04, abs=0.01)
    plt.close(fig)
    assert plot_white_line(result, tmp_path / "x.png").suffix == ".png"


def synthetic_pattern(snapshots=5, points=4001):
    """A powder-pattern Dataset with one moving (003) peak, snapshot coordinates, and the
    run's full time series (more points than snapshots)."""
    two_theta = np.linspace(1.30, 1.50, points)
    centres = np.linspace(1.42, 1.40, snapshots)
    intensity = np.exp(-0.5 * ((two_theta[None] - centres[:, None]) / 0.005) ** 2)
    snapshot_time = np.linspace(0.0, 3600.0, snapshots)
    pattern = xr.Dataset(
        {"intensity": (("snapshot", "two_theta"), intensity),
         "reflection_two_theta_mean": (("snapshot", "reflection"), centres[:, None])},
        coords={"snapshot": np.arange(snapshots), "two_theta": two_theta, "reflection": ["003"],
                "snapshot_time": ("snapshot", snapshot_time),
                "snapshot_voltage": ("snapshot", np.linspace(3.7, 4.5, snapshots)),
                "snapshot_soc": ("snapshot", np.linspace(0.0, 0.8, snapshots))},
        attrs={"material": "NC91", "wavelength_A": 0.1173})
    time = np.linspace(0.0, 3600.0, 97)
    run = xr.Dataset({"voltage": ("time", 3.6 + 0.9 * time / 3600.0)}, coords={"time": time})
    return pattern, run


def test_xrd_voltage_panel_uses_the_full_time_series(tmp_path):
    from chemomech.plotting.xrd import plot_xrd_contour, xrd_contour_figure

    pattern, run = synthetic_pattern()
    fig = xrd_contour_figure(pattern, groups=(("003",),), run=run)
    voltage_ax = fig.axes[1]
    assert voltage_ax.get_xlabel() == "voltage (V)"
    lengths = sorted(len(line.get_xdata()) for line in voltage_ax.lines)
    assert lengths == [pattern.sizes["snapshot"], run.sizes["time"]]
    plt.close(fig)
    # the same series carried by the pattern itself
    fig = xrd_contour_figure(pattern.assign(voltage=run["voltage"]), groups=(("003",),))
    assert max(len(line.get_xdata()) for line in fig.axes[1].lines) == run.sizes["time"]
    plt.close(fig)
    # without it, the snapshot points
    fig = xrd_contour_figure(pattern, groups=(("003",),))
    assert max(len(line.get_xdata()) for line in fig.axes[1].lines) == pattern.sizes["snapshot"]
    plt.close(fig)
    assert plot_xrd_contour(pattern, tmp_path / "c.png", groups=(("003",),), run=run).stat().st_size > 0


def test_deconvolution_legend_on_every_panel(tmp_path, monkeypatch):
    from chemomech.plotting import xrd

    pattern, _ = synthetic_pattern(snapshots=4)
    n = pattern.sizes["snapshot"]
    centres = pattern["reflection_two_theta_mean"].values[:, 0]
    lattice = xr.Dataset(
        {"n_components": ("pattern", [1, 1, 2, 2]), "dec_eta": ("pattern", np.full(n, 0.0)),
         "dec_background": (("pattern", "b"), np.zeros((n, 3))),
         "dec_area": (("pattern", "component"), np.column_stack([np.full(n, 0.0125), np.full(n, 0.005)])),
         "dec_position": (("pattern", "component"), np.column_stack([centres, centres + 0.02])),
         "dec_fwhm": (("pattern", "component"), np.full((n, 2), 0.0118))},
        attrs={"window_003_deg": "1.35 1.48"})
    figures = []
    monkeypatch.setattr(xrd, "save_figure", lambda fig, path, dpi=150: figures.append(fig) or path)
    assert xrd.plot_deconvolution_003(pattern, lattice, tmp_path / "d.png") == tmp_path / "d.png"
    panels = [ax for ax in figures[0].axes if ax.lines]
    assert len(panels) == 4
    for ax, k in zip(panels, lattice["n_components"].values):
        legend = ax.get_legend()
        assert legend is not None
        assert sum(text.get_text().startswith("component") for text in legend.get_texts()) == k
    plt.close(figures[0])


@pytest.mark.slow  # > 1 s: keeps `-m "not slow"` under a minute
def test_sxdm_comparison_shares_the_lab_frame(tmp_path):
    from chemomech.plotting.compare import plot_sxdm_comparison, sxdm_comparison_figure

    simulated = synthetic_maps(raster_x_lab=(-0.11, 0.0, -0.994))
    measured = simulated.copy()
    measured.attrs = {}
    fig = sxdm_comparison_figure(simulated, measured)
    for ax in map_axes(fig):
        assert ax.get_xlabel() == "z (µm)"
        assert_centred_um(ax)
    first = [map_axes(fig)[i].images[0].get_array() for i in (0, 3)]  # d_rel: simulated, measured
    np.testing.assert_array_equal(np.ma.filled(first[0], np.nan), np.ma.filled(first[1], np.nan))
    assert all(label.endswith(")") for label in colourbar_labels(fig))
    plt.close(fig)
    assert plot_sxdm_comparison(simulated, measured, tmp_path / "s.png").stat().st_size > 0
