"""PyBaMM side of the cycling benchmark: SPM with particle cracking and stress-driven
loss of active material, N constant-current cycles at 0.5C, solved with IDAKLU.

    python benchmarks/bench_cycling_pybamm.py [--cycles 100] [--repeats 3]

PyBaMM is an optional benchmark dependency (``pip install ".[bench]"``); nothing in
chemomech, its tests or its runs imports it.

What is run
-----------
* Model: ``pybamm.lithium_ion.SPM(OPTIONS)`` with
  ``{"particle mechanics": "swelling and cracking",
  "loss of active material": "stress-driven"}`` (the option strings accepted by
  PyBaMM 26.x; see the "Particle Cracking" and "Active Material" submodel pages of
  the PyBaMM API documentation, https://docs.pybamm.org/en/stable/source/api/models/).
  Default discretisation (PyBaMM's default mesh points) and default output period.
* Parameters: ``pybamm.ParameterValues("OKane2022")``, the LG M50 (NMC811 /
  graphite-SiOx) set of O'Kane et al., "Lithium-ion battery degradation: how to
  model it", Phys. Chem. Chem. Phys. 24, 7909 (2022), which carries the Paris'-law
  cracking and the stress-driven LAM parameters; its voltage window is 2.5-4.2 V,
  nominal capacity 5 A h.
* Experiment: ``pybamm.Experiment([("Discharge at 0.5C until 2.5 V",
  "Charge at 0.5C until 4.2 V")] * cycles)`` (CC only, no CV hold, no rests),
  starting from the parameter set's initial state (about 4.11 V).
* Solver: ``pybamm.IDAKLUSolver()`` (SUNDIALS IDA + KLU, shipped in the
  ``pybammsolvers`` wheel).

How it is timed
---------------
One warm-up build-and-solve (imports, casadi/IDAKLU first-call overheads) is done and
discarded. Then, for each repeat, everything is built afresh (model, parameter values,
experiment, Simulation, solver) and two wall times (``time.perf_counter``) are taken:

* ``solve_s``: ``sim.solve()`` alone, on a fresh Simulation whose experiment models
  were already parameterised and discretised by ``sim.build_for_experiment()`` outside
  the timer. It still contains the IDAKLU set-up (casadi function generation,
  Jacobian sparsity) and the time integration of all steps.
* ``build_and_solve_s``: model construction + ``Simulation(...)`` +
  ``sim.solve()`` with the Simulation's own lazy build, i.e. model set-up,
  parameterisation, meshing, discretisation, solver set-up and integration.

``median_s`` / ``times_s`` refer to ``solve_s``. The telemetry of PyBaMM is switched
off (``PYBAMM_DISABLE_TELEMETRY=true``, unless already set) so that importing it never
prompts or touches the network.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

OPTIONS = {
    "particle mechanics": "swelling and cracking",
    "loss of active material": "stress-driven",
}
PARAMETER_SET = "OKane2022"
C_RATE = 0.5
V_MIN = 2.5  # OKane2022 "Lower voltage cut-off [V]"
V_MAX = 4.2  # OKane2022 "Upper voltage cut-off [V]"
CYCLE = (f"Discharge at {C_RATE}C until {V_MIN} V", f"Charge at {C_RATE}C until {V_MAX} V")


def _import_pybamm():
    os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")
    try:
        import pybamm
    except ImportError as error:
        raise ImportError(
            'PyBaMM is an optional benchmark dependency: pip install ".[bench]"'
        ) from error
    return pybamm


def _simulation(pybamm, cycles: int):
    """A freshly built (nothing shared between calls) Simulation of `cycles` cycles."""
    model = pybamm.lithium_ion.SPM(dict(OPTIONS))
    experiment = pybamm.Experiment([CYCLE] * cycles)
    solver = pybamm.IDAKLUSolver()
    sim = pybamm.Simulation(
        model,
        parameter_values=pybamm.ParameterValues(PARAMETER_SET),
        experiment=experiment,
        solver=solver,
    )
    if not isinstance(sim.solver, pybamm.IDAKLUSolver):
        raise RuntimeError(f"expected the IDAKLU solver, got {type(sim.solver).__name__}")
    return sim


def _cycles_completed(solution, cycles: int) -> int:
    """Cycles whose two steps both ran to their voltage cut-off."""
    done = [c for c in solution.cycles if c is not None and len(c.steps) == len(CYCLE)]
    return min(len(done), cycles)


def time_pybamm_cycles(cycles: int = 100, repeats: int = 3) -> dict:
    """Wall time of PyBaMM's SPM + cracking + stress-driven LAM for `cycles` 0.5C cycles.

    Returns a dict with ``median_s`` and ``times_s`` (``sim.solve()`` on an already
    discretised fresh Simulation), ``build_and_solve_s`` / ``build_and_solve_times_s``
    (model construction through the end of the solve), ``cycles_completed``,
    ``model``, ``solver`` and ``pybamm_version``. Raises ImportError if PyBaMM is
    missing.
    """
    pybamm = _import_pybamm()
    if repeats < 1:
        raise ValueError("repeats must be >= 1")

    _simulation(pybamm, cycles).solve()  # warm-up, not counted

    solve_times, total_times = [], []
    completed = []
    capacities = None
    for _ in range(repeats):
        # model build + discretisation + solve, lazily built by sim.solve()
        start = time.perf_counter()
        sim = _simulation(pybamm, cycles)
        solution = sim.solve()
        total_times.append(time.perf_counter() - start)
        completed.append(_cycles_completed(solution, cycles))

        # sim.solve() alone, model already parameterised and discretised
        sim = _simulation(pybamm, cycles)
        sim.build_for_experiment()
        start = time.perf_counter()
        solution = sim.solve()
        solve_times.append(time.perf_counter() - start)
        completed.append(_cycles_completed(solution, cycles))

        if capacities is None:
            q = [
                float(c.steps[0]["Discharge capacity [A.h]"].entries[-1]
                      - c.steps[0]["Discharge capacity [A.h]"].entries[0])
                for c in solution.cycles if c is not None
            ]
            capacities = (q[0], q[-1]) if q else (float("nan"), float("nan"))

    return {
        "median_s": statistics.median(solve_times),
        "times_s": solve_times,
        "solve_s": statistics.median(solve_times),
        "build_and_solve_s": statistics.median(total_times),
        "build_and_solve_times_s": total_times,
        "cycles_requested": cycles,
        "cycles_completed": min(completed),
        "discharge_capacity_first_last_Ah": capacities,
        "model": (
            f"pybamm.lithium_ion.SPM({OPTIONS}), parameters {PARAMETER_SET}, "
            f"experiment [{CYCLE}] * {cycles}"
        ),
        "solver": "IDAKLU",
        "pybamm_version": pybamm.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    result = time_pybamm_cycles(args.cycles, args.repeats)
    q_first, q_last = result["discharge_capacity_first_last_Ah"]
    print(f"PyBaMM {result['pybamm_version']}, solver {result['solver']}")
    print(f"model: {result['model']}")
    print(f"cycles completed: {result['cycles_completed']} / {result['cycles_requested']}, "
          f"discharge capacity first / last cycle: {q_first:.4f} / {q_last:.4f} A h")
    print(f"{'what':<18} {'median [s]':>11} {'min [s]':>9} {'max [s]':>9}  (n = {args.repeats})")
    for name, times in (("solve", result["times_s"]),
                        ("build_and_solve", result["build_and_solve_times_s"])):
        print(f"{name:<18} {statistics.median(times):>11.3f} {min(times):>9.3f} "
              f"{max(times):>9.3f}")


if __name__ == "__main__":
    main()
