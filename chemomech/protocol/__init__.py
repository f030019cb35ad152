"""Electrochemical protocols written the way a cycler user writes them.

A protocol is a list of step sentences, grouped into blocks that repeat as cycles:

    Charge at 0.5C until 4.5 V              constant current until a voltage limit
    Discharge at 2C for 10 min or until 2.8 V   ... or a time limit, whichever comes first
    Charge at 27 mA/g until 4.5 V           a current per gram of active material
    Hold at 4.5 V until C/20 or for 2 h     constant voltage until the current falls to C/20
    Rest for 1 h                            open circuit

Grammar (case-insensitive): `Charge|Discharge at <rate> <limits>` with <rate> a C-rate
(0.5C, 2 C, C/10) or a current (27 mA/g) and <limits> `until <V> V` and/or
`for <duration>` joined by `or`; `Hold at <V> V <limits>` with `until <rate>` and/or
`for <duration>`; `Rest for <duration>`. Durations take s, min or h. Voltages lie in
(0, 6] V, C-rates in (0, 100].

Sign convention: a positive current is a charge, i.e. delithiation (Li leaves the
particle); `Step.specific_current` returns it in A/kg (= mA/g), a C-rate r being r times
the material's nominal capacity [mAh/g] per hour.

    from chemomech.protocol import parse_step, experiment_from_table
    step = parse_step("Charge at C/10 until 4.5 V")
    step.specific_current(270.0)     # 27.0 A/kg
    experiment = experiment_from_table({"kind": "experiment", "blocks": [
        {"repeat": 3, "steps": ["Charge at C/10 until 4.5 V", "Discharge at C/10 until 2.8 V"]}]})

Mistakes raise `ProtocolError` (a `ConfigError`) with one line that quotes the step, names
the bad token and says what is allowed.
"""

from chemomech.protocol.experiment import (
    Block,
    Experiment,
    StopCondition,
    cc_charge,
    check_start,
    experiment_from_table,
    gitt,
    parse_stop,
)
from chemomech.protocol.steps import ProtocolError, Step, parse_step, step_from_any, step_from_table

__all__ = [
    "Block",
    "Experiment",
    "ProtocolError",
    "Step",
    "StopCondition",
    "cc_charge",
    "check_start",
    "experiment_from_table",
    "gitt",
    "parse_step",
    "parse_stop",
    "step_from_any",
    "step_from_table",
]
