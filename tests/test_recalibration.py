"""Tables re-fitted under coupling options (materials/recalibration.py): which tables a
run uses, what it says about them, and the errors for a malformed [recalibrated] table."""

import re
import warnings

import numpy as np
import pytest

from chemomech.errors import MaterialError
from chemomech.materials.material import load_material, models_directory, read_material_file
from chemomech.materials.recalibration import apply_recalibration, options_key
from chemomech.simulation.spec import run_spec


def test_the_shipped_files_hold_a_refit_for_each_option_alone_and_all_together():
    raw, _ = read_material_file("nc91")
    assert set(raw["recalibrated"]) == {
        "stress_assisted_diffusion", "slab_spacing_diffusivity", "phase_separation",
        "stress_assisted_diffusion+slab_spacing_diffusivity+phase_separation"}


def test_a_run_with_the_options_uses_their_tables():
    """The material a run builds has the re-fitted log10 D at the [diffusivity] nodes."""
    spec = run_spec({"material": "nc91", "physics": {"stress_assisted_diffusion": True}})
    raw, _ = read_material_file("nc91")
    nodes = np.array(raw["diffusivity"]["x"])
    refit = np.array(raw["recalibrated"]["stress_assisted_diffusion"]["diffusivity_log10_m2_s"])
    np.testing.assert_allclose(np.log10(spec.material.diffusivity(nodes)), refit, atol=1e-12)
    assert "re-fitted with stress_assisted_diffusion" in spec.calibration
    default = run_spec({"material": "nc91"})
    assert default.calibration == "default tables (Fickian calibration)"
    np.testing.assert_allclose(np.log10(default.material.diffusivity(nodes)), raw["diffusivity"]["log10_m2_s"], atol=1e-12)


def test_options_without_a_refit_use_the_default_tables_and_warn():
    """stress + slab together has no stored re-fit: default tables, a warning naming the fix."""
    with pytest.warns(UserWarning, match=re.escape("--physics stress_assisted_diffusion,slab_spacing_diffusivity --fit --write")):
        spec = run_spec({"material": "nc91", "physics": {"stress_assisted_diffusion": True,
                                                         "slab_spacing_diffusivity": True}})
    assert spec.calibration.startswith("default tables (Fickian calibration; nc91.toml has none re-fitted")


def test_overrides_apply_after_the_refit():
    spec = run_spec({"material": "nc91", "physics": {"phase_separation": True},
                     "material_overrides": {"diffusivity.out_of_plane_ratio": 0.5}})
    assert spec.material.out_of_plane_ratio == 0.5


def test_a_refit_of_another_length_is_an_error_when_used(tmp_path):
    text = (models_directory() / "nc91.toml").read_text()
    text = text.split("[recalibrated.")[0] + '[recalibrated."phase_separation"]\ndiffusivity_log10_m2_s = [1.0]\n'
    path = tmp_path / "short.toml"
    path.write_text(text)
    load_material(path)  # loads: runs without the option do not use it
    with pytest.raises(Exception, match=re.escape('[recalibrated."phase_separation"] diffusivity_log10_m2_s must be a list as long as [diffusivity] log10_m2_s (14 values)')):
        run_spec({"material": str(path), "physics": {"phase_separation": True}})


def test_apply_recalibration_without_options_is_the_identity():
    raw, _ = read_material_file("nm91")
    same, used = apply_recalibration(raw, [])
    assert same is raw and used is None
    assert options_key(["a", "b"]) == "a+b"


@pytest.mark.parametrize("table, message", [
    ('[recalibrated."phase_separation"]\ndiffusivity_log10_m2_s = ["a"]\n',
     '[recalibrated."phase_separation"] diffusivity_log10_m2_s must be a list of numbers'),
    ('[recalibrated."phase_separation"]\nocv_volts = [1.0]\n',
     """unknown key '[recalibrated."phase_separation"] ocv_volts'; allowed: diffusivity_log10_m2_s"""),
    ('[recalibrated."phase_separation"]\nsource = 3\n', "source must be a string"),
])
def test_malformed_refit_tables_name_the_key(tmp_path, table, message):
    text = (models_directory() / "nc91.toml").read_text()
    text = text.split("[recalibrated.")[0] + table  # the default file with one bad re-fit table
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(MaterialError, match=re.escape(message)):
        load_material(path)
