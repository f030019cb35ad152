"""The cycle-life run: representative cycles in full, damage extrapolated between them.

Damage changes slowly from cycle to cycle. A cycle is simulated in full (integrator.
run_protocol) with the damage state D_n of its start held fixed; its time history gives
the increment dD(D_n) of one cycle (the mechanisms' modules). Between simulated cycles the
damage is extrapolated: a jump of k cycles from cycle n is

    one jump:        D_a = D_n + k dD(D_n)
    two half jumps:  D_m = D_n + h dD(D_n),  cycle n + h simulated with D_m,
                     D_b = D_m + (k - h) dD(D_m)             (h = k // 2)

The difference |D_a - D_b| (the model's difference: DamageState.difference, the active
fraction, layer thickness and share of boundary broken; polycrystals add the share of
lattice in grains cut off) estimates the error of the one jump
(forward Euler in the cycle number, error ~ k^2). The jump is accepted when it is within
`tolerance` (D_b is kept: the more accurate of the two; cycle n + h was a real simulated
cycle and is recorded), and the next jump is k * min(2, 0.9 sqrt(tol / err)); otherwise k
shrinks by the same rule and the jump is tried again. Jumps stay inside a block of the
protocol (cycles of one block are alike) and land on every cycle that must be simulated:
the first and last of each block, the retention reference, the cycles whose states are
kept, and the last. A jump of one cycle is cycle-by-cycle simulation, exact by definition
(a rejected jump of two or three cycles keeps its middle cycle as that next cycle, and
jumping is tried again from there); with min_jump > 1 a jump that must fall below it is
an error.

Skipped cycles have no time series: their charge and discharge capacities are
interpolated linearly in the cycle number between the simulated cycles around them and
flagged (cycle_simulated False); time and charge of the series jump over them by the
duration and net charge of the cycle simulated before the jump.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chemomech.errors import SolverError
from chemomech.protocol import Block, Experiment, ProtocolError
from chemomech.transport.integrator import History, run_protocol


@dataclass(frozen=True)
class JumpOptions:
    """enabled: extrapolate damage between simulated cycles (False: every cycle in full);
    tolerance: largest accepted difference of one jump and two half jumps [-] (fractions
    of the quantities of DamageState.difference); max_jump, min_jump: cycles per jump."""

    enabled: bool = True
    tolerance: float = 2e-3
    max_jump: int = 25
    min_jump: int = 1


@dataclass
class SimulatedCycle:
    """One cycle run in full: its number, the damage at its start, its History (times from
    0) and its increment and Li balance."""

    number: int
    state: object
    history: History
    increment: object
    li_balance_error: float


@dataclass
class CycleLifeRun:
    """What a cycle-life run returns: the simulated cycles in order, the damage state at
    the end, the charge and discharge capacity [C/kg] of every cycle, which were simulated,
    and the jump counts."""

    cycles: list
    final_state: object
    charge_capacity: np.ndarray
    discharge_capacity: np.ndarray
    simulated: np.ndarray
    accepted_jumps: int = 0
    rejected_jumps: int = 0
    end_reason: str = "protocol complete"
    history: History = None
    states_by_cycle: dict = field(default_factory=dict)


def _must_simulate(experiment: Experiment, keep_cycles) -> set:
    """Cycles a jump must land on: the first and last of every block, the retention
    reference, the kept cycles and the last cycle."""
    must, first = set(), 1
    for block in experiment.blocks:
        must |= {first, first + block.repeat - 1}
        first += block.repeat
    must.add(experiment.retention_reference())
    must |= set(keep_cycles or ())
    return must


def run_cycle_life(model, x_start: np.ndarray, experiment: Experiment, solver, capacity_nominal: float,
                   options: JumpOptions = JumpOptions(), progress=None, keep_cycles=None) -> CycleLifeRun:
    """Run `experiment` on a particle whose damage `model` (degradation.sphere.SphereDamage
    or the voxel ones) turns into steppers and increments; module docstring."""
    if experiment.stops:
        raise ProtocolError("protocol.stops: a cycle-life run with degradation does not take whole-run stops "
                            "(skipped cycles have no measured capacity); allowed: leave protocol.stops out")
    cycles = list(experiment.cycles())
    total = len(cycles)
    block_of = {number: block for number, block, _ in cycles}
    steps_of = {number: steps for number, _, steps in cycles}
    block_end = {}
    for number, block, _ in cycles:
        block_end[block] = number
    must = _must_simulate(experiment, keep_cycles)
    simulated: dict[int, SimulatedCycle] = {}
    state = model.pristine()
    x = np.array(x_start, dtype=float)
    jump = 1 if not options.enabled else 2
    accepted = rejected = 0
    end_reason = "protocol complete"

    def simulate(number, damage, x_from, first):
        block = Block(steps_of[number], 1)
        stepper = model.stepper(damage)
        history = run_protocol(stepper, x_from, model.x_initial, Experiment((block,)), solver, capacity_nominal,
                               None, None, resolution_hint=model.resolution_hint, uniform_start=first)
        increment = model.increment(damage, stepper, history)
        balance = model.li_balance(stepper, x_from, history)
        if keep_cycles is not None and number not in keep_cycles:  # its states served the increment
            history.states, history.state_rows = [], np.zeros(0, dtype=np.int64)
        if progress is not None:
            progress(min(1.0, number / total), f"cycle {number}/{total} (simulated {len(simulated) + 1})")
        return SimulatedCycle(number, damage, history, increment, balance)

    n = 1
    current = None
    while n <= total:
        if current is None or current.number != n:
            try:
                current = simulate(n, state, x, n == 1)
            except ProtocolError as error:
                if n == 1:
                    raise
                end_reason = f"cycle {n} cannot run on the damaged particle: {error}"
                break
            simulated[n] = current
        room = min(block_end[block_of[n]], min((m for m in must if m > n), default=total)) - n
        k = min(jump, room, options.max_jump) if options.enabled else 1
        if k < 2:
            state = state.advance(current.increment, 1, model.face_size)
            x = current.history.final_state
            n += 1
            continue
        one = state.advance(current.increment, k, model.face_size)
        h = k // 2
        middle_state = state.advance(current.increment, h, model.face_size)
        try:
            middle = simulate(n + h, middle_state, current.history.final_state, False)
        except ProtocolError as error:
            end_reason = f"cycle {n + h} cannot run on the damaged particle: {error}"
            break
        two = middle_state.advance(middle.increment, k - h, model.face_size)
        error = model.difference(one, two)
        if not np.isfinite(error):
            raise SolverError(f"cycle jumping at cycle {n}: the damage increment is not finite; allowed: "
                              f"degradation parameters in their ranges (models/README.md, 'Degradation')")
        growth = 0.9 * np.sqrt(options.tolerance / error) if error > 0 else 2.0
        if error <= options.tolerance:
            accepted += 1
            simulated[n + h] = middle
            state, x = two, middle.history.final_state
            n += k
            jump = max(2, int(k * min(2.0, growth)))
            current = None
            continue
        rejected += 1
        jump = int(k * max(0.25, min(growth, 0.9)))
        if jump < max(options.min_jump, 2):
            if options.min_jump > 1:
                raise SolverError(
                    f"cycle jumping cannot converge at cycle {n}: a jump of {k} cycles differs from two half jumps "
                    f"by {error:.2e} > degradation.jump_tolerance = {options.tolerance:g}, and a shorter one is below "
                    f"degradation.min_jump_cycles = {options.min_jump}; allowed: a larger jump_tolerance, or "
                    f"min_jump_cycles = 1 (cycle by cycle)")
            # cycle by cycle: the middle cycle n + h was simulated with D_n + h dD(D_n); with
            # h = 1 that is exactly the next cycle, kept instead of run again
            state = state.advance(current.increment, 1, model.face_size)
            x = current.history.final_state
            n += 1
            if h == 1:
                simulated[n] = current = middle
            jump = 2  # try jumping again from the next cycle
    return _assemble(simulated, state, total, accepted, rejected, end_reason, keep_cycles)


def _assemble(simulated: dict, state, total: int, accepted: int, rejected: int, end_reason: str,
              keep_cycles) -> CycleLifeRun:
    """One History over the simulated cycles (module docstring) and the capacities of all
    cycles."""
    numbers = sorted(simulated)
    last = numbers[-1]
    charge = np.full(last, np.nan)
    discharge = np.full(last, np.nan)
    for number in numbers:
        q_charge, q_discharge = simulated[number].history.cycle_capacity[1]
        charge[number - 1], discharge[number - 1] = q_charge, q_discharge
    done = np.zeros(last, dtype=bool)
    done[np.array(numbers) - 1] = True
    cycle_axis = np.arange(1, last + 1)
    for values in (charge, discharge):
        values[~done] = np.interp(cycle_axis[~done], cycle_axis[done], values[done])

    time, voltage, current, q, step, cycle = [], [], [], [], [], []
    states, state_rows, records = [], [], []
    t0 = q0 = 0.0
    previous = None
    for number in numbers:
        part = simulated[number]
        h = part.history
        if previous is not None:  # cycles skipped since the last simulated one
            skipped = number - previous.number - 1
            t0 += skipped * (previous.history.time[-1] - previous.history.time[0])
            q0 += skipped * (previous.history.charge[-1] - previous.history.charge[0])
        first = 0 if not time else 1  # row 0 repeats the end of the previous simulated cycle
        offset_rows = len(time) - first
        keep = keep_cycles is None or number in keep_cycles
        for row in range(first, h.time.size):
            time.append(t0 + h.time[row])
            voltage.append(h.voltage[row])
            current.append(h.current[row])
            q.append(q0 + h.charge[row])
            step.append(len(records) + int(h.step[row]))
            cycle.append(number)
        if keep:  # row 0 of a later cycle is the previous cycle's last row: stored once
            for state_row, stored in zip(h.state_rows, h.states):
                row = offset_rows + int(state_row)
                if not state_rows or row > state_rows[-1]:
                    states.append(stored)
                    state_rows.append(row)
        for record in h.steps:
            record.cycle = number
            record.start_time += t0
            record.end_time += t0
            record.start_row += offset_rows  # row 0 of a later cycle is the previous cycle's last row
            record.end_row += offset_rows
            records.append(record)
        t0, q0 = time[-1], q[-1]
        previous = part
    final = simulated[last].history.final_state
    if not state_rows or state_rows[-1] != len(time) - 1:
        states.append(final)
        state_rows.append(len(time) - 1)
    history = History(
        time=np.array(time), voltage=np.array(voltage), current=np.array(current), charge=np.array(q),
        step=np.array(step, dtype=np.int32), cycle=np.array(cycle, dtype=np.int32), steps=records, states=states,
        state_rows=np.array(state_rows, dtype=np.int64), end_reason=end_reason,
        rejected_steps=sum(simulated[n].history.rejected_steps for n in numbers), final_state=final,
        cycle_capacity={n: (charge[n - 1], discharge[n - 1]) for n in range(1, last + 1)},
    )
    return CycleLifeRun(cycles=[simulated[n] for n in numbers], final_state=state, charge_capacity=charge,
                        discharge_capacity=discharge, simulated=done, accepted_jumps=accepted,
                        rejected_jumps=rejected, end_reason=end_reason, history=history,
                        states_by_cycle={n: simulated[n].state for n in numbers})
