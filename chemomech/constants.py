"""Physical constants (CODATA 2018 exact values) in SI units."""

FARADAY = 96485.33212  # C/mol
GAS_CONSTANT = 8.314462618  # J/(mol K)
TEMPERATURE_DEFAULT = 298.15  # K, 25 C (the study's cycling temperature)
MAH_PER_G_TO_C_PER_KG = 3600.0  # 1 mAh/g = 3.6 C/g = 3600 C/kg
