"""The one place where a resolved [protocol] table becomes an Experiment.

    kind = "cc-charge"   -> experiment.cc_charge(c_rate, v_max, cv_hold, cv_end_c_rate, cv_max_h)
    kind = "gitt"       -> experiment.gitt(c_rate, pulse_s, rest_s, v_max)
    kind = "experiment" -> experiment.experiment_from_table(blocks, stops, reference_cycle)
"""

from __future__ import annotations

from chemomech.protocol.experiment import Experiment, cc_charge, experiment_from_table, gitt

EXPERIMENT_KEYS = ("kind", "blocks", "stops", "reference_cycle")


def experiment_of(protocol: dict) -> Experiment:
    """The Experiment of a [protocol] table (resolved, or raw with the keys of its kind)."""
    kind = protocol.get("kind", "cc-charge")
    if kind == "gitt":
        return gitt(protocol["c_rate"], protocol["pulse_s"], protocol["rest_s"], protocol["v_max"])
    if kind == "experiment":
        table = {key: protocol[key] for key in EXPERIMENT_KEYS if key in protocol}
        if not table.get("reference_cycle"):
            table.pop("reference_cycle", None)  # 0: the default reference cycle
        if not table.get("stops"):
            table.pop("stops", None)
        return experiment_from_table(table)
    return cc_charge(protocol["c_rate"], protocol["v_max"], protocol.get("cv_hold", False),
                     protocol.get("cv_end_c_rate", 0.05), protocol.get("cv_max_h", 10.0))
