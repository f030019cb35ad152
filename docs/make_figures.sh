#!/usr/bin/env bash
# Regenerates every figure the README shows (docs/*.png) from fresh runs.
# The only command that writes to docs/: the README's own commands write to runs/out/.
#   bash docs/make_figures.sh        # about 20 minutes on a 2-core machine (the composition sweep 15)
set -euo pipefail
cd "$(dirname "$0")/.."
out=runs/out/figures
mkdir -p "$out"

# voltage vs SoC, NC91 and NM91 at C/10 and 1C (1-D sphere)
for m in nc91 nm91; do for c in 0.1 1; do
  chemomech run runs/sphere_1d.toml --set material=$m --set protocol.c_rate=$c --out $out/$m-$c --force --quiet
done; done
chemomech plot $out/nc91-0.1 $out/nc91-1 $out/nm91-0.1 $out/nm91-1 --out docs/voltage_soc.png

# cycling and rate test (1-D sphere)
chemomech run runs/cycling.toml --set material=nm91 --out $out/cycling-nm91 --force --quiet
chemomech plot $out/cycling-nm91 --out docs/cycling_nm91.png
chemomech run runs/rate_test.toml --out $out/rate-nc91 --force --quiet
chemomech plot $out/rate-nc91 --out docs/rate_test_nc91.png

# single crystals at 1C: slices, XRD, SXDM, XANES
chemomech run runs/single_crystal.toml --out $out/sc-nc91-1C --force --quiet
chemomech run runs/single_crystal.toml --set material=nm91 --out $out/sc-nm91-1C --force --quiet
chemomech slices $out/sc-nc91-1C $out/sc-nm91-1C --out docs/slices_sc_1C.png
chemomech xrd $out/sc-nc91-1C --force
cp $out/sc-nc91-1C/xrd/xrd_contour.png docs/xrd_contour_sc_nc91_1C.png
chemomech sxdm $out/sc-nm91-1C --force
cp "$(ls $out/sc-nm91-1C/sxdm/sxdm_*.png | tail -1)" docs/sxdm_sc_nm91_1C.png
chemomech xanes $out/sc-nm91-1C --noise 0.02 --force
cp "$(ls $out/sc-nm91-1C/xanes/xanes_*.png | tail -1)" docs/xanes_sc_nm91_1C.png

# cycle life of the single crystals (R = 2 um, 100 nm voxels; ~5 min each): retention, and the
# cycled particles discharged after 103 cycles: damage fields, XANES and SXDM d-spacing
for m in nc91 nm91; do
  chemomech run runs/cycle_life_sc.toml --set material=$m --out $out/cl-sc-$m --force --quiet
  chemomech plot $out/cl-sc-$m --figure damage --out docs/cycle_life_damage_sc_$m.png
  chemomech xanes $out/cl-sc-$m --snapshot -1 --force
  cp "$(ls $out/cl-sc-$m/xanes/xanes_*.png | tail -1)" docs/cycle_life_xanes_sc_$m.png
  chemomech sxdm $out/cl-sc-$m --snapshot -1 --force
  cp "$(ls $out/cl-sc-$m/sxdm/sxdm_*.png | tail -1)" docs/cycle_life_sxdm_sc_$m.png
done
chemomech plot $out/cl-sc-nc91 $out/cl-sc-nm91 --out docs/cycle_life_retention_sc.png

# the data users bring besides patterns and maps: cycler file, refined lattice, XAS, dQ/dV
# (the SYNTHETIC sample files of docs/examples/data/ against the coin cell they came from)
python docs/examples/make_sample_measurements.py > /dev/null
chemomech compare runs/out/examples/sample-cell --cycler docs/examples/data/cell_nc91_C10.csv \
    --lattice docs/examples/data/lattice_nc91_C10_refined.csv --xas docs/examples/data/xas_nc91_*.xmu --force
for kind in lattice xas cycler; do
  cp runs/out/examples/sample-cell/compare/compare_$kind.png docs/compare_${kind}_sample.png
done
chemomech plot runs/out/examples/sample-cell --dqdv --out docs/dqdv_sample_cell.png

# rate capability sweep
chemomech sweep runs/rate_capability.sweep.toml --out $out/rate_capability --quiet
chemomech plot $out/rate_capability --out docs/rate_capability.png
# composition: NC91/NM91 blends, 1-D capacity and 2 um single-crystal heterogeneity (~15 min)
python docs/examples/composition.py
cp runs/out/examples/composition.png docs/composition.png
echo "wrote docs/*.png"
