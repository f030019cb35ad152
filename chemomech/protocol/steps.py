"""Protocol steps: the sentences a cycler user writes, parsed into `Step` objects.

Grammar (case-insensitive; any run of spaces counts as one):

    Charge|Discharge at <rate> <limits>    <rate>: 0.5C, 2 C, C/10, C/2.5 or 27 mA/g
                                           <limits>: until <V> V, for <duration>, or both
                                           joined by "or" (at least one)
    Hold at <V> V <limits>                 <limits>: until <rate> (the current falls below
                                           it), for <duration>, or both joined by "or"
    Rest for <duration>                    <duration>: a number and s, min or h (also sec,
                                           second(s), minute(s), mins, hour(s), hr)

Examples: "Charge at 0.5C until 4.5 V", "Discharge at 2C for 10 min or until 2.8 V",
"Hold at 4.5 V until C/20 or for 2 h", "Rest for 1 h".

Sign convention: a positive current is a charge, i.e. delithiation (Li leaves the
cathode particle). Units: a C-rate r [1/h] is r times the material's nominal capacity
[mAh/g] in one hour, i.e. a specific current r * capacity_nominal [mA/g = A/kg].

The same steps can be given as tables (TOML `[[protocol.blocks.steps]]`):

    {action = "charge", c_rate = 0.5, until_V = 4.5}
    {action = "hold", voltage_V = 4.5, until_c_rate = 0.05, duration_s = 7200.0}
    {action = "rest", duration_s = 3600.0}

Every mistake raises `ProtocolError` with one line that quotes the step (or names the
table), names the bad token or key, and says what is allowed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields

from chemomech.errors import ConfigError

V_MAX = 6.0  # highest voltage limit or hold voltage [V]; limits lie in (0, V_MAX]
C_RATE_MAX = 100.0  # highest C-rate [1/h]
C_FRACTION_MAX = 1000  # describe() writes C/n for whole n in [3, C_FRACTION_MAX]

# Time units and their length in seconds; the first spelling of each is canonical.
TIME_UNITS_S = {
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
}

ALLOWED_VERBS = "Charge, Discharge, Hold, Rest"
ALLOWED_RATE = "a C-rate like 0.5C or C/10, or a current like 27 mA/g"
ALLOWED_VOLTAGE = "a voltage like 4.5 V"
ALLOWED_UNITS = "s, min, h"
ALLOWED_DURATION = "a number and a unit, like 30 min (units: s, min, h)"
ALLOWED_CURRENT_LIMITS = "'until <V> V', 'for <duration>', or both joined by 'or'"
ALLOWED_HOLD_LIMITS = "'until <C-rate or mA/g>', 'for <duration>', or both joined by 'or'"

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?"
_C_FRACTION = re.compile(rf"C\s*/\s*({_NUMBER})", re.IGNORECASE)  # C/10
_C_RATE = re.compile(rf"({_NUMBER})\s*C", re.IGNORECASE)  # 0.5C, 2 C
_CURRENT = re.compile(rf"({_NUMBER})\s*mA\s*/\s*g", re.IGNORECASE)  # 27 mA/g
_VOLTAGE = re.compile(rf"({_NUMBER})\s*V", re.IGNORECASE)  # 4.5 V
_DURATION = re.compile(rf"({_NUMBER})\s*([a-z]+)", re.IGNORECASE)  # 30 min
_KEYWORD = re.compile(r"\s*\b(until|for|or)\b\s*", re.IGNORECASE)


class ProtocolError(ConfigError):
    """A protocol step, block or stop condition is malformed or out of range."""


@dataclass(frozen=True)
class Step:
    """One protocol step. Sign convention: positive current = charge = delithiation.

    mode            "current" (constant current), "voltage" (constant-voltage hold), "rest"
    direction       "charge" or "discharge" for mode "current"; None otherwise
    rate            current magnitude (> 0) for mode "current", in rate_unit
    rate_unit       "C" (C-rate [1/h]; 1C = the nominal capacity in one hour) or "mA/g"
    voltage_V       hold voltage [V] (mode "voltage"), in (0, 6]
    duration_s      time limit [s] (> 0); None = none
    until_V         voltage limit of a current step [V], in (0, 6]
    until_rate      current magnitude below which a hold ends, in until_rate_unit
    until_rate_unit "C" or "mA/g"

    A current step needs until_V and/or duration_s, a hold until_rate and/or duration_s,
    a rest duration_s. Build steps from text with `parse_step`, from tables with
    `step_from_table`; constructing one directly checks the same rules.
    """

    mode: str
    direction: str | None = None
    rate: float | None = None
    rate_unit: str | None = None
    voltage_V: float | None = None
    duration_s: float | None = None
    until_V: float | None = None
    until_rate: float | None = None
    until_rate_unit: str | None = None

    def __post_init__(self):
        problem = _structure_problem(self)
        if problem:
            given = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)
                              if getattr(self, f.name) is not None)
            raise ProtocolError(f"Step({given}): {problem}")

    def specific_current(self, capacity_nominal_mAh_g: float) -> float:
        """Signed specific current [A/kg] (= mA/g), positive on charge (delithiation).

        C-rate r [1/h]: I = r * capacity_nominal [mAh/g = A h/kg] -> A/kg; "mA/g" is taken
        as given (1 mA/g = 1 A/kg). A rest and a hold return 0.0: a hold's current is not
        prescribed but follows from holding the voltage.
        """
        if self.mode != "current":
            return 0.0
        sign = 1.0 if self.direction == "charge" else -1.0
        return sign * _to_specific_current(self.rate, self.rate_unit, capacity_nominal_mAh_g)

    def end_current(self, capacity_nominal_mAh_g: float) -> float | None:
        """Current magnitude [A/kg] below which a hold ends; None without such a limit."""
        if self.until_rate is None:
            return None
        return _to_specific_current(self.until_rate, self.until_rate_unit, capacity_nominal_mAh_g)

    def c_rate(self, capacity_nominal_mAh_g: float) -> float:
        """C-rate [1/h] = |specific current| / capacity_nominal; 0.0 for a hold or rest."""
        return abs(self.specific_current(capacity_nominal_mAh_g)) / capacity_nominal_mAh_g

    def describe(self) -> str:
        """The canonical sentence, e.g. "Charge at 0.5C until 4.5 V"; it parses back to
        an equal Step (numbers are written with all the digits they need)."""
        if self.mode == "rest":
            return f"Rest for {_describe_duration(self.duration_s)}"
        if self.mode == "current":
            text = f"{self.direction.capitalize()} at {_describe_rate(self.rate, self.rate_unit)}"
            limits = []
            if self.duration_s is not None:
                limits.append(f"for {_describe_duration(self.duration_s)}")
            if self.until_V is not None:
                limits.append(f"until {_number(self.until_V)} V")
        else:
            text = f"Hold at {_number(self.voltage_V)} V"
            limits = []
            if self.until_rate is not None:
                limits.append(f"until {_describe_rate(self.until_rate, self.until_rate_unit)}")
            if self.duration_s is not None:
                limits.append(f"for {_describe_duration(self.duration_s)}")
        return f"{text} {' or '.join(limits)}"

    __str__ = describe

    def to_table(self) -> dict:
        """The step as a TOML-able table; `step_from_table` reads it back to an equal Step."""
        table = {"action": self.direction if self.mode == "current" else
                 ("hold" if self.mode == "voltage" else "rest")}
        if self.rate is not None:
            table[_RATE_KEYS[self.rate_unit]] = self.rate
        if self.voltage_V is not None:
            table["voltage_V"] = self.voltage_V
        if self.until_V is not None:
            table["until_V"] = self.until_V
        if self.until_rate is not None:
            table[_UNTIL_RATE_KEYS[self.until_rate_unit]] = self.until_rate
        if self.duration_s is not None:
            table["duration_s"] = self.duration_s
        return table


# ---------------------------------------------------------------------------------------
# value checks shared by the text parser, the table reader and Step itself; each returns
# None for a good value, else what is wrong and what is allowed


def _voltage_problem(value: float) -> str | None:
    if not 0.0 < value <= V_MAX:
        return f"out of range; allowed: (0, {_number(V_MAX)}] V"
    return None


def _rate_problem(value: float, unit: str) -> str | None:
    if unit == "C" and not 0.0 < value <= C_RATE_MAX:
        return f"out of range; allowed: a C-rate in (0, {_number(C_RATE_MAX)}]"
    if unit == "mA/g" and not (0.0 < value and math.isfinite(value)):
        return "out of range; allowed: a finite current > 0 mA/g"
    return None


def _duration_problem(value: float) -> str | None:
    if not (0.0 < value and math.isfinite(value)):
        return "out of range; allowed: a finite time > 0"
    return None


def _structure_problem(step: Step) -> str | None:
    """What is wrong with the combination of a Step's fields, or None."""
    by_mode = {
        "current": ("direction", "rate", "rate_unit", "duration_s", "until_V"),
        "voltage": ("voltage_V", "duration_s", "until_rate", "until_rate_unit"),
        "rest": ("duration_s",),
    }
    if step.mode not in by_mode:
        return f"mode {step.mode!r} unknown; allowed: current, voltage, rest"
    for f in fields(step):
        value = getattr(step, f.name)
        if f.name != "mode" and value is not None and f.name not in by_mode[step.mode]:
            return f"{f.name} is not used by a {step.mode!r} step; allowed: {', '.join(by_mode[step.mode])}"
        if f.name in ("rate", "voltage_V", "duration_s", "until_V", "until_rate") and value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"{f.name} = {value!r} must be a number"
    if step.mode == "current":
        if step.direction not in ("charge", "discharge"):
            return f"direction {step.direction!r} unknown; allowed: charge, discharge"
        if step.rate_unit not in _RATE_KEYS or step.rate is None:
            return "a current step needs a rate and a rate_unit ('C' or 'mA/g')"
        if step.until_V is None and step.duration_s is None:
            return "a current step needs until_V and/or duration_s"
        problem = (_rate_problem(step.rate, step.rate_unit)
                   or (step.until_V is not None and _voltage_problem(step.until_V)))
    elif step.mode == "voltage":
        if step.voltage_V is None:
            return "a hold needs voltage_V"
        if (step.until_rate is None) != (step.until_rate_unit is None) or (
                step.until_rate_unit is not None and step.until_rate_unit not in _RATE_KEYS):
            return "until_rate needs until_rate_unit ('C' or 'mA/g') and the other way round"
        if step.until_rate is None and step.duration_s is None:
            return "a hold needs until_rate and/or duration_s"
        problem = (_voltage_problem(step.voltage_V)
                   or (step.until_rate is not None and _rate_problem(step.until_rate, step.until_rate_unit)))
    else:
        if step.duration_s is None:
            return "a rest needs duration_s"
        problem = None
    return problem or (step.duration_s is not None and _duration_problem(step.duration_s)) or None


def _to_specific_current(rate: float, unit: str, capacity_nominal_mAh_g: float) -> float:
    """|I| [A/kg] of a rate in "C" (times the nominal capacity [mAh/g]) or "mA/g"."""
    return rate * capacity_nominal_mAh_g if unit == "C" else rate


# ---------------------------------------------------------------------------------------
# writing numbers so that they read back exactly


def _number(value: float) -> str:
    """Shortest text that reads back as exactly `value` (Python's repr), without '.0'."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _describe_rate(rate: float, unit: str) -> str:
    """"C/10" where rate is exactly 1/n for a whole n in [3, 1000], else "0.5C" or "27 mA/g"."""
    if unit == "mA/g":
        return f"{_number(rate)} mA/g"
    if 0.0 < rate < 1.0:
        inverse = 1.0 / rate
        if inverse.is_integer() and 3 <= inverse <= C_FRACTION_MAX and 1.0 / inverse == rate:
            return f"C/{int(inverse)}"
    return f"{_number(rate)}C"


def _describe_duration(duration_s: float) -> str:
    """In h or min when that is exact (2 h, 30 min), else in s."""
    for unit, seconds in (("h", 3600.0), ("min", 60.0)):
        amount = duration_s / seconds
        if amount.is_integer() and amount * seconds == duration_s:
            return f"{_number(amount)} {unit}"
    return f"{_number(duration_s)} s"


# ---------------------------------------------------------------------------------------
# reading sentences


def _error(sentence: str, problem: str, allowed: str) -> ProtocolError:
    return ProtocolError(f'step "{sentence}": {problem}; allowed: {allowed}')


def _read_rate(sentence: str, token: str, what: str) -> tuple[float, str]:
    """(rate, unit) from "0.5C", "2 C", "C/10" or "27 mA/g"."""
    if match := _C_FRACTION.fullmatch(token):
        denominator = float(match.group(1))
        rate, unit = (1.0 / denominator if denominator > 0 else -1.0), "C"
    elif match := _C_RATE.fullmatch(token):
        rate, unit = float(match.group(1)), "C"
    elif match := _CURRENT.fullmatch(token):
        rate, unit = float(match.group(1)), "mA/g"
    else:
        raise _error(sentence, f"bad {what} {token!r}", ALLOWED_RATE)
    if problem := _rate_problem(rate, unit):
        raise ProtocolError(f'step "{sentence}": {what} {token!r} {problem}')
    return rate, unit


def _read_voltage(sentence: str, token: str, what: str) -> float:
    """Voltage [V] from "4.5 V"."""
    match = _VOLTAGE.fullmatch(token)
    if not match:
        raise _error(sentence, f"bad {what} {token!r}", ALLOWED_VOLTAGE)
    voltage = float(match.group(1))
    if problem := _voltage_problem(voltage):
        raise ProtocolError(f'step "{sentence}": {what} {token} {problem}')
    return voltage


def _read_duration(sentence: str, token: str) -> float:
    """Duration [s] from "30 min", "2 h", "90 s"."""
    if not token:
        raise _error(sentence, "missing duration after 'for'", ALLOWED_DURATION)
    match = _DURATION.fullmatch(token)
    if not match:
        raise _error(sentence, f"bad duration {token!r}", ALLOWED_DURATION)
    number, unit = match.groups()
    if unit.lower() not in TIME_UNITS_S:
        raise _error(sentence, f"unknown unit {unit!r}", ALLOWED_UNITS)
    duration_s = float(number) * TIME_UNITS_S[unit.lower()]
    if problem := _duration_problem(duration_s):
        raise ProtocolError(f'step "{sentence}": duration {token!r} {problem}')
    return duration_s


def _split_limits(sentence: str, tail: list[str], allowed: str) -> list[tuple[str, str]]:
    """[(keyword, argument), ...] from the pieces after the head: "until 4.5 V or for 1 h"
    comes as ["until", "4.5 V", "or", "", "for", "1 h"]."""
    pairs = list(zip(tail[0::2], tail[1::2]))
    limits = []
    for index, (keyword, argument) in enumerate(pairs):
        keyword = keyword.lower()
        if keyword == "or":
            if argument or index == 0 or index + 1 == len(pairs) or pairs[index + 1][0].lower() == "or":
                raise _error(sentence, "misplaced 'or'", allowed)
            continue
        if index > 0 and pairs[index - 1][0].lower() != "or":
            raise _error(sentence, f"expected 'or' before '{keyword} {argument}'", allowed)
        limits.append((keyword, argument))
    return limits


def parse_step(text: str) -> Step:
    """Parse one step sentence (grammar in the module docstring) into a Step.

    Raises ProtocolError with one line quoting the step and naming the bad token.
    """
    if not isinstance(text, str):
        raise ProtocolError(f"step {text!r}: not a sentence; allowed: text like 'Charge at 0.5C until 4.5 V'")
    sentence = " ".join(text.split())
    if not sentence:
        raise _error(sentence, "empty", f"a sentence starting with {ALLOWED_VERBS}")
    head, *tail = _KEYWORD.split(sentence)
    verb, _, rest = head.partition(" ")
    action = verb.lower()
    if action not in ("charge", "discharge", "hold", "rest"):
        raise _error(sentence, f"unknown verb {verb!r}", ALLOWED_VERBS)

    if action == "rest":
        if rest:
            raise _error(sentence, f"unexpected {rest!r} after 'Rest'", "Rest for <duration>")
        if len(tail) != 2 or tail[0].lower() != "for":
            problem = f"unexpected '{' '.join(filter(None, tail))}'" if tail else "missing duration"
            raise _error(sentence, f"{problem} after 'Rest'", "Rest for <duration>, like Rest for 1 h")
        return Step("rest", duration_s=_read_duration(sentence, tail[1]))

    at, _, value = rest.partition(" ")
    if at.lower() != "at" or not value:
        what, allowed = ("voltage", ALLOWED_VOLTAGE) if action == "hold" else ("rate", ALLOWED_RATE)
        raise _error(sentence, f"expected 'at <{what}>' after {verb!r}",
                     f"{verb.capitalize()} at <{what}>, with <{what}> {allowed}")
    if action == "hold":
        voltage_V = _read_voltage(sentence, value, "hold voltage")
    else:
        rate, unit = _read_rate(sentence, value, "rate")
    allowed = ALLOWED_HOLD_LIMITS if action == "hold" else ALLOWED_CURRENT_LIMITS
    limits = _split_limits(sentence, tail, allowed)
    if not limits:
        raise _error(sentence, f"missing limit after {value!r}", allowed)
    found = {}
    for keyword, argument in limits:
        if keyword in found:
            raise _error(sentence, f"duplicated limit '{keyword} {argument}'",
                         "at most one 'until' and one 'for'")
        found[keyword] = argument

    if action == "hold":
        until_rate = until_unit = None
        if "until" in found:
            until_rate, until_unit = _read_rate(sentence, found["until"], "current limit")
        duration_s = _read_duration(sentence, found["for"]) if "for" in found else None
        return Step("voltage", voltage_V=voltage_V, duration_s=duration_s,
                    until_rate=until_rate, until_rate_unit=until_unit)
    until_V = _read_voltage(sentence, found["until"], "voltage limit") if "until" in found else None
    duration_s = _read_duration(sentence, found["for"]) if "for" in found else None
    return Step("current", direction=action, rate=rate, rate_unit=unit,
                duration_s=duration_s, until_V=until_V)


# ---------------------------------------------------------------------------------------
# reading tables

_RATE_KEYS = {"C": "c_rate", "mA/g": "current_mA_g"}
_UNTIL_RATE_KEYS = {"C": "until_c_rate", "mA/g": "until_current_mA_g"}
TABLE_KEYS = {  # the keys each action takes, besides "action"
    "charge": ("c_rate", "current_mA_g", "until_V", "duration_s"),
    "discharge": ("c_rate", "current_mA_g", "until_V", "duration_s"),
    "hold": ("voltage_V", "until_c_rate", "until_current_mA_g", "duration_s"),
    "rest": ("duration_s",),
}
ALL_TABLE_KEYS = ("action", "c_rate", "current_mA_g", "voltage_V", "until_V",
                  "until_c_rate", "until_current_mA_g", "duration_s")


def step_from_table(table: dict, where: str = "step") -> Step:
    """A Step from a table such as {action = "charge", c_rate = 0.5, until_V = 4.5}.

    Keys: action ("charge", "discharge", "hold", "rest"); c_rate [1/h] or current_mA_g
    [mA/g] (charge, discharge); voltage_V [V] (hold); until_V [V] (charge, discharge);
    until_c_rate [1/h] or until_current_mA_g [mA/g] (hold); duration_s [s].
    Raises ProtocolError naming `where` and the key.
    """
    if not isinstance(table, dict):
        raise ProtocolError(f"{where} = {table!r}: not a table; allowed: a table with keys {', '.join(ALL_TABLE_KEYS)}")
    for key in table:
        if key not in ALL_TABLE_KEYS:
            raise ProtocolError(f"{where}: unknown key {key!r}; allowed: {', '.join(ALL_TABLE_KEYS)}")
    action = table.get("action")
    if action not in TABLE_KEYS:
        raise ProtocolError(f"{where}.action = {action!r}: unknown action; allowed: {', '.join(TABLE_KEYS)}")
    values = {}
    for key, value in table.items():
        if key == "action":
            continue
        if key not in TABLE_KEYS[action]:
            raise ProtocolError(f"{where}.{key}: not used by a {action!r} step; allowed with "
                                f"{action!r}: {', '.join(TABLE_KEYS[action])}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ProtocolError(f"{where}.{key} = {value!r}: must be a number")
        values[key] = float(value)

    def checked(key, problem_of):
        if key in values and (problem := problem_of(values[key])):
            raise ProtocolError(f"{where}.{key} = {values[key]!r}: {problem}")
        return values.get(key)

    duration_s = checked("duration_s", _duration_problem)
    if action == "rest":
        if duration_s is None:
            raise ProtocolError(f"{where}: a 'rest' step needs duration_s; allowed: duration_s > 0 [s]")
        return Step("rest", duration_s=duration_s)
    if action == "hold":
        voltage_V = checked("voltage_V", _voltage_problem)
        if voltage_V is None:
            raise ProtocolError(f"{where}: a 'hold' step needs voltage_V; allowed: voltage_V in (0, 6] [V]")
        until_rate, until_unit = _one_rate(values, where, _UNTIL_RATE_KEYS, required=False)
        if until_rate is None and duration_s is None:
            raise ProtocolError(f"{where}: a 'hold' step needs a limit; allowed: until_c_rate, "
                                f"until_current_mA_g and/or duration_s")
        return Step("voltage", voltage_V=voltage_V, duration_s=duration_s,
                    until_rate=until_rate, until_rate_unit=until_unit)
    rate, unit = _one_rate(values, where, _RATE_KEYS, required=True)
    until_V = checked("until_V", _voltage_problem)
    if until_V is None and duration_s is None:
        raise ProtocolError(f"{where}: a {action!r} step needs a limit; allowed: until_V and/or duration_s")
    return Step("current", direction=action, rate=rate, rate_unit=unit,
                duration_s=duration_s, until_V=until_V)


def _one_rate(values: dict, where: str, keys: dict, required: bool) -> tuple[float | None, str | None]:
    """(rate, unit) from at most one of the keys {"C": ..., "mA/g": ...} in values."""
    given = [(unit, key) for unit, key in keys.items() if key in values]
    if len(given) > 1 or (required and not given):
        raise ProtocolError(f"{where}: give exactly one of {' or '.join(keys.values())}")
    if not given:
        return None, None
    unit, key = given[0]
    if problem := _rate_problem(values[key], unit):
        raise ProtocolError(f"{where}.{key} = {values[key]!r}: {problem}")
    return values[key], unit


def step_from_any(item, where: str = "step") -> Step:
    """A Step from a sentence (`parse_step`), a table (`step_from_table`) or a Step.
    Errors from a sentence are prefixed with `where`."""
    if isinstance(item, Step):
        return item
    if isinstance(item, str):
        try:
            return parse_step(item)
        except ProtocolError as error:
            raise ProtocolError(f"{where}: {error}") from None
    if isinstance(item, dict):
        return step_from_table(item, where)
    raise ProtocolError(f"{where} = {item!r}: not a step; allowed: a sentence like "
                        f"'Charge at 0.5C until 4.5 V' or a table like {{action = \"rest\", duration_s = 600}}")
