"""Experiments: blocks of steps repeated as cycles, with whole-run stop conditions.

An experiment is a tuple of blocks; a block is a tuple of steps run `repeat` times, each
repeat one cycle (cycles are numbered from 1 across all blocks). A typical cycling test,
as a TOML protocol table:

    [protocol]
    kind = "experiment"
    stops = ["discharge capacity < 80 % of cycle 4"]
    [[protocol.blocks]]                      # formation: cycles 1-3 at C/10
    repeat = 3
    steps = ["Charge at C/10 until 4.5 V", "Discharge at C/10 until 2.8 V"]
    [[protocol.blocks]]                      # ageing: cycles 4-103 at 1C
    repeat = 100
    steps = ["Charge at 1C until 4.5 V", "Hold at 4.5 V until C/20", "Discharge at 1C until 2.8 V"]

The experiment only describes the protocol; the integrator runs it (and applies a
block's stop_on_limit and the stop conditions). Error messages count blocks, steps and
stops from 1, as a user counts the tables in the file: "protocol.blocks[1]" is the first.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Iterator

from chemomech.protocol.steps import ProtocolError, Step, step_from_any

STOP_QUANTITIES = ("discharge capacity", "charge capacity")
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?"
_STOP = re.compile(r"(.*?)\s*(?:<|\bbelow\b)\s*(.*)", re.IGNORECASE)
_THRESHOLD = re.compile(rf"({_NUMBER})\s*%\s*of\s+cycle\s+({_NUMBER})", re.IGNORECASE)
ALLOWED_STOP = "'<quantity> < <percent> % of cycle <n>', like 'discharge capacity < 80 % of cycle 4'"


@dataclass(frozen=True)
class Block:
    """Steps run `repeat` times (>= 1); each repeat is one cycle.

    stop_on_limit (GITT): the block ends after the repeat in which a step with both a time
    limit and a voltage limit ended on its voltage limit instead of its time limit.
    """

    steps: tuple[Step, ...]
    repeat: int = 1
    stop_on_limit: bool = False

    def __post_init__(self):
        object.__setattr__(self, "steps", tuple(self.steps))
        if not self.steps or not all(isinstance(step, Step) for step in self.steps):
            raise ProtocolError(f"block steps = {self.steps!r}: give at least one Step")
        if isinstance(self.repeat, bool) or not isinstance(self.repeat, int) or self.repeat < 1:
            raise ProtocolError(f"block repeat = {self.repeat!r}: must be an integer >= 1")
        _check_block_steps(self.steps, self.stop_on_limit, "block")


@dataclass(frozen=True)
class StopCondition:
    """Whole-run stop, checked after every cycle, e.g. "discharge capacity < 80 % of cycle 4":
    the run ends after the first cycle whose `quantity` [mAh/g] is below `fraction` times
    that of cycle `reference_cycle`."""

    quantity: str  # "discharge capacity" or "charge capacity"
    fraction: float  # in (0, 1], e.g. 0.8
    reference_cycle: int  # >= 1

    def __post_init__(self):
        if self.quantity not in STOP_QUANTITIES:
            raise ProtocolError(f"stop quantity {self.quantity!r} unknown; allowed: {', '.join(STOP_QUANTITIES)}")
        if isinstance(self.fraction, bool) or not isinstance(self.fraction, (int, float)) \
                or not 0.0 < self.fraction <= 1.0:
            raise ProtocolError(f"stop fraction {self.fraction!r} out of range; allowed: (0, 1]")
        if isinstance(self.reference_cycle, bool) or not isinstance(self.reference_cycle, int) \
                or self.reference_cycle < 1:
            raise ProtocolError(f"stop reference_cycle {self.reference_cycle!r}: must be an integer >= 1")

    def describe(self) -> str:
        """The canonical sentence; `parse_stop` reads it back to an equal StopCondition."""
        return f"{self.quantity} < {_percent_text(self.fraction)} % of cycle {self.reference_cycle}"

    __str__ = describe


def _percent_text(fraction: float) -> str:
    """100 * fraction as text that `parse_stop` turns back into exactly `fraction`
    (float(text) / 100); the neighbours of the rounded product cover rounding."""
    percent = fraction * 100.0
    for candidate in (percent, math.nextafter(percent, math.inf), math.nextafter(percent, -math.inf)):
        if candidate / 100.0 == fraction:
            percent = candidate
            break
    text = repr(percent)
    return text[:-2] if text.endswith(".0") else text


def parse_stop(text: str) -> StopCondition:
    """A StopCondition from "<quantity> < <percent> % of cycle <n>" ("below" also works
    for "<"); quantity "discharge capacity" or "charge capacity"; case-insensitive."""
    if not isinstance(text, str):
        raise ProtocolError(f"stop {text!r}: not a sentence; allowed: {ALLOWED_STOP}")
    sentence = " ".join(text.split())

    def error(problem, allowed=ALLOWED_STOP):
        return ProtocolError(f'stop "{sentence}": {problem}; allowed: {allowed}')

    match = _STOP.fullmatch(sentence)
    if not match:
        raise error("missing '<' (or 'below')")
    quantity, threshold = match.group(1).lower(), match.group(2)
    if quantity not in STOP_QUANTITIES:
        raise error(f"unknown quantity {match.group(1)!r}", ", ".join(STOP_QUANTITIES))
    numbers = _THRESHOLD.fullmatch(threshold)
    if not numbers:
        raise error(f"bad threshold {threshold!r}")
    percent, cycle = float(numbers.group(1)), float(numbers.group(2))
    if not 0.0 < percent <= 100.0:
        raise error(f"percentage {numbers.group(1)!r} out of range", "(0, 100] %")
    if not (cycle.is_integer() and cycle >= 1):
        raise error(f"cycle {numbers.group(2)!r} is not a cycle number", "a whole number >= 1")
    return StopCondition(quantity, percent / 100.0, int(cycle))


@dataclass(frozen=True)
class Experiment:
    """Blocks run one after the other, each repeat of a block one cycle; the run also ends
    when a stop condition holds after a cycle.

    reference_cycle: the cycle whose discharge capacity retention is measured against
    (None: the default of `retention_reference`).
    start_at_rest: what the sample at t = 0 records. True: the cell at open circuit before
    the first step (current 0, V = OCV of the pristine state), as a cycler records it and
    as GITT needs it; False: the first step's constant current applied from t = 0 (V(0) =
    the voltage of the uniform pristine state under that current; the constant-current
    charge of kind "cc-charge").
    limit_key: the configuration key that set the voltage limits, when one key did
    ("protocol.v_max" for kinds "cc-charge" and "gitt"): error messages name it.
    """

    blocks: tuple[Block, ...]
    stops: tuple[StopCondition, ...] = ()
    reference_cycle: int | None = None
    start_at_rest: bool = True
    limit_key: str | None = field(default=None, compare=False)  # a label for messages only

    def __post_init__(self):
        object.__setattr__(self, "blocks", tuple(self.blocks))
        object.__setattr__(self, "stops", tuple(self.stops))
        if not self.blocks or not all(isinstance(block, Block) for block in self.blocks):
            raise ProtocolError(f"experiment blocks = {self.blocks!r}: give at least one Block")
        if not all(isinstance(stop, StopCondition) for stop in self.stops):
            raise ProtocolError(f"experiment stops = {self.stops!r}: must be StopConditions")
        _check_cycle_references(self.n_cycles, self.stops, self.reference_cycle, "experiment")

    def cycles(self) -> Iterator[tuple[int, int, tuple[Step, ...]]]:
        """(cycle number counted from 1 across blocks, block index into `blocks` counted
        from 0, steps) for every cycle, if nothing stops early."""
        cycle = 0
        for block_index, block in enumerate(self.blocks):
            for _ in range(block.repeat):
                cycle += 1
                yield cycle, block_index, block.steps

    @property
    def n_cycles(self) -> int:
        """Number of cycles (sum of the blocks' repeats) if nothing stops early."""
        return sum(block.repeat for block in self.blocks)

    @property
    def n_steps(self) -> int:
        """Number of step executions if nothing stops early."""
        return sum(block.repeat * len(block.steps) for block in self.blocks)

    def retention_reference(self) -> int:
        """The cycle capacity retention is measured against: reference_cycle if given, else
        the first cycle of the second block (after formation cycles) when there are two or
        more blocks, else cycle 1."""
        if self.reference_cycle is not None:
            return self.reference_cycle
        return self.blocks[0].repeat + 1 if len(self.blocks) >= 2 else 1

    def first_current_step(self) -> Step | None:
        """The first constant-current step of the experiment, or None."""
        for block in self.blocks:
            for step in block.steps:
                if step.mode == "current":
                    return step
        return None

    def to_table(self) -> dict:
        """The experiment as a protocol table (steps and stops as sentences);
        `experiment_from_table` reads it back to an equal Experiment."""
        blocks = []
        for block in self.blocks:
            table = {"repeat": block.repeat, "steps": [step.describe() for step in block.steps]}
            if block.stop_on_limit:
                table["stop_on_limit"] = True
            blocks.append(table)
        table = {"kind": "experiment", "blocks": blocks, "stops": [stop.describe() for stop in self.stops]}
        if self.reference_cycle is not None:
            table["reference_cycle"] = self.reference_cycle
        return table


def _check_block_steps(steps: tuple[Step, ...], stop_on_limit: bool, where: str) -> None:
    """Every discharge cutoff below every charge cutoff; stop_on_limit a bool that has a
    step to act on (one with both a time and a voltage limit)."""
    for charge in steps:
        for discharge in steps:
            if (charge.direction == "charge" and discharge.direction == "discharge"
                    and charge.until_V is not None and discharge.until_V is not None
                    and discharge.until_V >= charge.until_V):
                raise ProtocolError(
                    f'{where}: lower cutoff >= upper: "{discharge}" ends at {discharge.until_V:g} V, '
                    f'not below "{charge}" at {charge.until_V:g} V; allowed: discharge cutoffs '
                    f"below charge cutoffs")
    if not isinstance(stop_on_limit, bool):
        raise ProtocolError(f"{where}.stop_on_limit = {stop_on_limit!r}: must be true or false")
    if stop_on_limit and not any(step.duration_s is not None and step.until_V is not None for step in steps):
        raise ProtocolError(f"{where}.stop_on_limit = true has no effect: no step has both a time "
                            f"and a voltage limit; allowed: a step like 'Charge at C/10 for 10 min or "
                            f"until 4.5 V', or stop_on_limit = false")


def _check_cycle_references(n_cycles: int, stops, reference_cycle, where: str) -> None:
    """Stop conditions and the retention reference name cycles that exist (1..n_cycles)."""
    for number, stop in enumerate(stops, start=1):
        if stop.reference_cycle > n_cycles:
            raise ProtocolError(f'{where}.stops[{number}] = "{stop}": cycle {stop.reference_cycle} is '
                                f"after the last cycle; allowed: cycles 1 to {n_cycles}")
    if reference_cycle is not None and (isinstance(reference_cycle, bool) or not isinstance(reference_cycle, int)
                                        or not 1 <= reference_cycle <= n_cycles):
        raise ProtocolError(f"{where}.reference_cycle = {reference_cycle!r}: not a cycle of the experiment; "
                            f"allowed: an integer from 1 to {n_cycles}")


def experiment_from_table(protocol: dict, where: str = "protocol") -> Experiment:
    """An Experiment from a protocol table of kind "experiment".

    Keys: kind = "experiment"; blocks = list of tables with steps (non-empty list of
    sentences or step tables), repeat (integer >= 1, default 1) and stop_on_limit (bool,
    default false); stops = list of stop sentences (optional); reference_cycle (integer
    in 1..n_cycles, optional). Errors name the place, e.g. "protocol.blocks[2].repeat = 0".
    """
    allowed_keys = ("kind", "blocks", "stops", "reference_cycle")
    if not isinstance(protocol, dict):
        raise ProtocolError(f"{where} = {protocol!r}: not a table; allowed keys: {', '.join(allowed_keys)}")
    for key in protocol:
        if key not in allowed_keys:
            raise ProtocolError(f"{where}: unknown key {key!r}; allowed: {', '.join(allowed_keys)}")
    if protocol.get("kind") != "experiment":
        raise ProtocolError(f"{where}.kind = {protocol.get('kind')!r}: must be 'experiment' here")
    block_tables = protocol.get("blocks")
    if not isinstance(block_tables, list) or not block_tables:
        raise ProtocolError(f"{where}.blocks = {block_tables!r}: give at least one block "
                            f"([[{where}.blocks]] tables with steps = [...])")
    blocks = [_block_from_table(table, f"{where}.blocks[{number}]")
              for number, table in enumerate(block_tables, start=1)]

    stop_texts = protocol.get("stops", [])
    if not isinstance(stop_texts, list):
        raise ProtocolError(f"{where}.stops = {stop_texts!r}: must be a list of sentences like "
                            f"'discharge capacity < 80 % of cycle 4'")
    stops = []
    for number, text in enumerate(stop_texts, start=1):
        try:
            stops.append(parse_stop(text))
        except ProtocolError as error:
            raise ProtocolError(f"{where}.stops[{number}]: {error}") from None
    n_cycles = sum(block.repeat for block in blocks)
    reference_cycle = protocol.get("reference_cycle")
    _check_cycle_references(n_cycles, stops, reference_cycle, where)
    return Experiment(tuple(blocks), tuple(stops), reference_cycle)


def _block_from_table(table: dict, where: str) -> Block:
    """A Block from {steps = [...], repeat = n, stop_on_limit = bool}."""
    allowed_keys = ("steps", "repeat", "stop_on_limit")
    if not isinstance(table, dict):
        raise ProtocolError(f"{where} = {table!r}: not a table; allowed keys: {', '.join(allowed_keys)}")
    for key in table:
        if key not in allowed_keys:
            raise ProtocolError(f"{where}: unknown key {key!r}; allowed: {', '.join(allowed_keys)}")
    repeat = table.get("repeat", 1)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ProtocolError(f"{where}.repeat = {repeat!r}: must be an integer >= 1")
    items = table.get("steps")
    if items is None or items == []:
        raise ProtocolError(f"{where}.steps: empty; give at least one step")
    if not isinstance(items, list):
        raise ProtocolError(f"{where}.steps = {items!r}: must be a list of steps")
    steps = tuple(step_from_any(item, f"{where}.steps[{number}]") for number, item in enumerate(items, start=1))
    stop_on_limit = table.get("stop_on_limit", False)
    _check_block_steps(steps, stop_on_limit, where)
    return Block(steps, repeat, stop_on_limit)


def cc_charge(c_rate: float, v_max: float, cv_hold: bool = False, cv_end_c_rate: float = 0.05,
              cv_max_h: float = 10.0) -> Experiment:
    """A constant-current charge at c_rate [1/h] to v_max [V], optionally followed by a
    constant-voltage hold at v_max until the current falls to cv_end_c_rate [1/h] or
    cv_max_h [h] have passed: "Charge at 1C until 4.5 V", "Hold at 4.5 V until C/20 or
    for 10 h"."""
    steps = [Step("current", direction="charge", rate=c_rate, rate_unit="C", until_V=v_max)]
    if cv_hold:
        steps.append(Step("voltage", voltage_V=v_max, until_rate=cv_end_c_rate, until_rate_unit="C",
                          duration_s=cv_max_h * 3600.0))
    return Experiment((Block(tuple(steps), repeat=1),), start_at_rest=False, limit_key="protocol.v_max")


def gitt(c_rate: float, pulse_s: float, rest_s: float, v_max: float) -> Experiment:
    """A galvanostatic intermittent titration: charge pulses at c_rate [1/h] for pulse_s
    [s] (or until v_max [V]), each followed by an open-circuit rest of rest_s [s].

    The block repeats ceil(1.1 * 3600 / (c_rate * pulse_s)) + 1 times (the ceiling taken
    of the exact quotient), enough pulses for 110 % of the nominal capacity (each pulse
    passes c_rate * pulse_s / 3600 of it), and stops after the pulse that reaches v_max
    (stop_on_limit).
    """
    pulse = Step("current", direction="charge", rate=c_rate, rate_unit="C",
                 duration_s=pulse_s, until_V=v_max)
    rest = Step("rest", duration_s=rest_s)
    pulses_for_110_percent = 1.1 * 3600.0 / (c_rate * pulse_s)
    # the 1e-9 keeps float noise from adding a pulse (1.1 * 3600 / 60 = 66.00000000000001)
    repeat = math.ceil(pulses_for_110_percent - 1e-9) + 1
    return Experiment((Block((pulse, rest), repeat=repeat, stop_on_limit=True),), limit_key="protocol.v_max")


def check_start(experiment: Experiment, ocv_start_V: float, where: str = "protocol") -> None:
    """Check that the experiment can start on a pristine (fully lithiated) particle whose
    open-circuit voltage is ocv_start_V [V]: its first step that is not a rest must not
    push Li in (a discharge, or a hold at or below ocv_start_V), and a first charge step's
    voltage limit must lie above ocv_start_V, where the charge voltage starts."""
    for block in experiment.blocks:
        for step in block.steps:
            if step.mode == "rest":
                continue
            if step.direction == "discharge":
                raise ProtocolError(
                    f'{where}: first step "{step}" is a discharge, but the particle starts fully '
                    f"lithiated and cannot take more Li; allowed: start with a charge step")
            if step.mode == "voltage" and step.voltage_V <= ocv_start_V:
                raise ProtocolError(
                    f'{where}: first step "{step}" holds at or below the starting open-circuit '
                    f"voltage {ocv_start_V:g} V, which would push Li into the fully lithiated "
                    f"particle; allowed: a hold above {ocv_start_V:g} V, or start with a charge step")
            if step.direction == "charge" and step.until_V is not None and step.until_V <= ocv_start_V:
                raise ProtocolError(
                    f'{where}: first step "{step}": its limit {step.until_V:g} V can never be reached: '
                    f"the voltage of a charge starts at {ocv_start_V:g} V (the open circuit of the pristine particle) and "
                    f"rises; allowed: until_V above {ocv_start_V:g} V")
            return
