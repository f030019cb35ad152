"""The protocol language: step sentences, step tables, blocks, experiments.

Expected values come from the grammar itself (chemomech/protocol/steps.py docstring): a
C-rate r is r times the nominal capacity per hour, C/n is 1/n, durations convert with
1 min = 60 s and 1 h = 3600 s, and voltage limits lie in (0, 6] V.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chemomech.errors import ConfigError
from chemomech.protocol import (
    Block,
    Experiment,
    ProtocolError,
    Step,
    StopCondition,
    cc_charge,
    check_start,
    experiment_from_table,
    gitt,
    parse_step,
    parse_stop,
    step_from_table,
)
from chemomech.protocol.steps import step_from_any

CAPACITY = 270.0  # mAh/g, the nominal capacity of the study's materials (design notes)


def charge(rate, unit="C", **limits):
    return Step("current", direction="charge", rate=rate, rate_unit=unit, **limits)


def discharge(rate, unit="C", **limits):
    return Step("current", direction="discharge", rate=rate, rate_unit=unit, **limits)


def hold(voltage_V, **limits):
    return Step("voltage", voltage_V=voltage_V, **limits)


# The grammar's example sentences, with the Step each means (values by hand from the grammar).
EXAMPLES = [
    ("Charge at 0.5C until 4.5 V", charge(0.5, until_V=4.5)),
    ("Charge at 2 C until 4.3 V", charge(2.0, until_V=4.3)),
    ("Discharge at C/10 until 2.8 V", discharge(0.1, until_V=2.8)),
    ("Charge at C/2.5 until 4.5 V", charge(0.4, until_V=4.5)),  # 1/2.5 = 0.4
    ("Charge at 1C for 30 min", charge(1.0, duration_s=1800.0)),
    ("Discharge at 2C for 10 min or until 2.8 V", discharge(2.0, duration_s=600.0, until_V=2.8)),
    ("Discharge at 2C until 2.8 V or for 10 min", discharge(2.0, duration_s=600.0, until_V=2.8)),
    ("Charge at 27 mA/g until 4.5 V", charge(27.0, "mA/g", until_V=4.5)),
    ("Hold at 4.5 V until C/20", hold(4.5, until_rate=0.05, until_rate_unit="C")),
    ("Hold at 4.5 V for 2 h", hold(4.5, duration_s=7200.0)),
    ("Hold at 4.5 V until C/20 or for 2 h", hold(4.5, until_rate=0.05, until_rate_unit="C", duration_s=7200.0)),
    ("Hold at 4.2 V until 5 mA/g", hold(4.2, until_rate=5.0, until_rate_unit="mA/g")),
    ("Rest for 1 h", Step("rest", duration_s=3600.0)),
    ("Rest for 90 s", Step("rest", duration_s=90.0)),
    ("Rest for 1.5 hours", Step("rest", duration_s=5400.0)),
    ("Rest for 2 minutes", Step("rest", duration_s=120.0)),
    ("Rest for 10 sec", Step("rest", duration_s=10.0)),
    ("Rest for 1 hr", Step("rest", duration_s=3600.0)),
]


@pytest.mark.parametrize("text, expected", EXAMPLES)
def test_example_sentences_parse_to_the_expected_step(text, expected):
    """Expected: the step the grammar defines for each example (values worked by hand)."""
    assert parse_step(text) == expected


@pytest.mark.parametrize("text, expected", EXAMPLES)
def test_describe_is_canonical_and_round_trips(text, expected):
    """describe() gives a sentence that parses back to the same step (the round-trip rule)."""
    assert parse_step(expected.describe()) == expected
    assert str(expected) == expected.describe()


def test_canonical_sentences():
    """The canonical forms listed for describe(): C/n for whole n >= 3, hours and minutes
    when exact, "for ... or until" for current steps, "until ... or for" for holds."""
    assert parse_step("charge at 0.5c until 4.5v").describe() == "Charge at 0.5C until 4.5 V"
    assert parse_step("Discharge at 0.1C until 2.8 V").describe() == "Discharge at C/10 until 2.8 V"
    assert parse_step("Charge at 1C for 1800 s").describe() == "Charge at 1C for 30 min"
    assert parse_step("Discharge at 2C until 2.8 V or for 600 s").describe() == \
        "Discharge at 2C for 10 min or until 2.8 V"
    assert parse_step("Hold at 4.5 V for 7200 s or until 0.05C").describe() == \
        "Hold at 4.5 V until C/20 or for 2 h"
    assert parse_step("Rest for 60 min").describe() == "Rest for 1 h"


def test_case_and_whitespace_do_not_matter():
    """The grammar is case-insensitive and whitespace-tolerant."""
    expected = discharge(2.0, duration_s=600.0, until_V=2.8)
    assert parse_step("DISCHARGE AT 2C FOR 10 MIN OR UNTIL 2.8 V") == expected
    assert parse_step("  discharge   at 2 c\tfor 10 Min\n or until 2.8v ") == expected
    assert parse_step("hold AT 4.5 v UNTIL c / 20") == hold(4.5, until_rate=0.05, until_rate_unit="C")
    assert parse_step("charge at 27 MA/G until 4.5 V") == charge(27.0, "mA/g", until_V=4.5)


def test_specific_current_sign_and_units():
    """Positive current = charge. 1C of 270 mAh/g is 270 mA/g = 270 A/kg; C/10 is 27 A/kg;
    mA/g is taken as given; holds and rests have no prescribed current."""
    assert parse_step("Charge at 1C until 4.5 V").specific_current(CAPACITY) == 270.0
    assert parse_step("Discharge at C/10 until 2.8 V").specific_current(CAPACITY) == pytest.approx(-27.0)
    assert parse_step("Charge at 27 mA/g until 4.5 V").specific_current(CAPACITY) == 27.0
    assert parse_step("Charge at 27 mA/g until 4.5 V").c_rate(CAPACITY) == pytest.approx(0.1)
    assert parse_step("Discharge at 2C for 1 h").c_rate(CAPACITY) == 2.0
    assert parse_step("Hold at 4.5 V until C/20").specific_current(CAPACITY) == 0.0
    assert parse_step("Hold at 4.5 V until C/20").c_rate(CAPACITY) == 0.0
    assert parse_step("Rest for 1 h").specific_current(CAPACITY) == 0.0
    # C/20 of 270 mAh/g ends the hold at 13.5 A/kg; a hold without a current limit has none
    assert parse_step("Hold at 4.5 V until C/20").end_current(CAPACITY) == pytest.approx(13.5)
    assert parse_step("Hold at 4.5 V until 5 mA/g").end_current(CAPACITY) == 5.0
    assert parse_step("Hold at 4.5 V for 2 h").end_current(CAPACITY) is None


# ---------------------------------------------------------------------------------------
# round trips over random valid steps (hypothesis)

positive_durations = st.one_of(
    st.floats(min_value=1e-3, max_value=1e7, allow_nan=False, allow_infinity=False),
    st.integers(min_value=1, max_value=10000).map(lambda n: n * 60.0),  # whole minutes
    st.integers(min_value=1, max_value=1000).map(lambda n: n * 3600.0),  # whole hours
)
voltages = st.floats(min_value=0.0, max_value=6.0, exclude_min=True)
c_rates = st.one_of(
    st.floats(min_value=0.0, max_value=100.0, exclude_min=True),
    st.integers(min_value=1, max_value=1000).map(lambda n: 1.0 / n),  # C/n
)
currents_mA_g = st.floats(min_value=0.0, max_value=1e5, exclude_min=True)
rates = st.one_of(st.tuples(c_rates, st.just("C")), st.tuples(currents_mA_g, st.just("mA/g")))
optional_durations = st.one_of(st.none(), positive_durations)


@st.composite
def valid_steps(draw):
    kind = draw(st.sampled_from(["charge", "discharge", "hold", "rest"]))
    if kind == "rest":
        return Step("rest", duration_s=draw(positive_durations))
    duration_s = draw(optional_durations)
    if kind == "hold":
        until = draw(st.one_of(st.none(), rates)) if duration_s is not None else draw(rates)
        until_rate, until_unit = until if until else (None, None)
        return Step("voltage", voltage_V=draw(voltages), duration_s=duration_s,
                    until_rate=until_rate, until_rate_unit=until_unit)
    rate, unit = draw(rates)
    until_V = draw(st.one_of(st.none(), voltages)) if duration_s is not None else draw(voltages)
    return Step("current", direction=kind, rate=rate, rate_unit=unit, duration_s=duration_s, until_V=until_V)


@settings(max_examples=300, deadline=None)
@given(valid_steps())
def test_text_round_trip(step):
    """Step -> text -> Step -> text gives the same step and the same text (describe writes
    every number with all the digits it needs)."""
    text = step.describe()
    again = parse_step(text)
    assert again == step
    assert again.describe() == text


@settings(max_examples=300, deadline=None)
@given(valid_steps())
def test_table_round_trip(step):
    """Step -> table -> Step is exact (the table holds the floats themselves)."""
    assert step_from_table(step.to_table()) == step
    assert step_from_any(step.to_table(), "protocol.blocks[1].steps[1]") == step
    assert step_from_any(step.describe(), "protocol.blocks[1].steps[1]") == step


# ---------------------------------------------------------------------------------------
# errors: one line, quoting the step, naming the bad token

SENTENCE_ERRORS = [
    # (sentence, the token the message must name) - one per kind of mistake in the grammar
    ("Jump at 1C for 1 h", "unknown verb 'Jump'"),
    ("Rest for 1 day", "unknown unit 'day'"),
    ("Charge at 0.5X until 4.5 V", "bad rate '0.5X'"),
    ("Charge at 0C until 4.5 V", "rate '0C'"),  # rates must be > 0
    ("Charge at 200C until 4.5 V", "rate '200C'"),  # at most 100C
    ("Charge at -27 mA/g until 4.5 V", "rate '-27 mA/g'"),
    ("Charge at 1C until 4.5 X", "bad voltage limit '4.5 X'"),
    ("Charge at 1C until 7 V", "voltage limit 7 V out of range"),
    ("Discharge at 1C until 0 V", "voltage limit 0 V out of range"),
    ("Charge at 1C until C/20", "bad voltage limit 'C/20'"),  # current limits end holds
    ("Charge at 1C", "missing limit after '1C'"),
    ("Hold at 4.5 V", "missing limit after '4.5 V'"),
    ("Hold at 7 V until C/20", "hold voltage 7 V out of range"),
    ("Hold at 0 V for 1 h", "hold voltage 0 V out of range"),
    ("Hold at 4.5 V until 4.4 V", "bad current limit '4.4 V'"),
    ("Rest for 0 s", "duration '0 s'"),
    ("Rest for -5 min", "duration '-5 min'"),
    ("Rest for 1e400 h", "duration '1e400 h'"),  # not finite
    ("Rest for ten min", "bad duration 'ten min'"),
    ("Charge at 1C until 4.5 V or until 4.4 V", "duplicated limit 'until 4.4 V'"),
    ("Hold at 4.5 V for 1 h or for 2 h", "duplicated limit 'for 2 h'"),
    ("Rest", "missing duration"),
    ("Rest until 3 V", "unexpected 'until 3 V'"),
    ("Charge at 1C until 4.5 V for 1 h", "expected 'or' before 'for 1 h'"),
    ("Charge 1C until 4.5 V", "expected 'at <rate>'"),
]


@pytest.mark.parametrize("text, token", SENTENCE_ERRORS)
def test_bad_sentences_raise_one_line_naming_the_token(text, token):
    """Every mistake: a ProtocolError (a ConfigError, so the CLI prints one line), quoting the
    step, naming the token, and saying what is allowed."""
    with pytest.raises(ProtocolError) as raised:
        parse_step(text)
    message = str(raised.value)
    assert isinstance(raised.value, ConfigError)
    assert "\n" not in message
    assert message.startswith(f'step "{text}":')
    assert token in message
    assert "allowed:" in message


def test_messages_match_the_documented_examples():
    """The four error messages written out in the specification of the grammar."""
    expected = {
        "Charge at 0.5X until 4.5 V": 'step "Charge at 0.5X until 4.5 V": bad rate \'0.5X\'; allowed: '
                                      "a C-rate like 0.5C or C/10, or a current like 27 mA/g",
        "Jump at 1C for 1 h": 'step "Jump at 1C for 1 h": unknown verb \'Jump\'; allowed: Charge, Discharge, Hold, Rest',
        "Rest for 1 day": 'step "Rest for 1 day": unknown unit \'day\'; allowed: s, min, h',
        "Hold at 7 V until C/20": 'step "Hold at 7 V until C/20": hold voltage 7 V out of range; allowed: (0, 6] V',
    }
    for text, message in expected.items():
        with pytest.raises(ProtocolError) as raised:
            parse_step(text)
        assert str(raised.value) == message


def test_multiline_input_gives_a_one_line_message():
    """Whitespace (newlines included) is collapsed before the step is quoted."""
    with pytest.raises(ProtocolError) as raised:
        parse_step("Charge at 1C\nuntil 9 V")
    assert "\n" not in str(raised.value)
    assert 'step "Charge at 1C until 9 V"' in str(raised.value)


TABLE_ERRORS = [
    # (table, text the message must contain) - unknown key, wrong type, missing keys, ranges
    ({"action": "charge", "c_rate": 1.0, "until_V": 4.5, "colour": "red"}, "unknown key 'colour'"),
    ({"action": "jump", "c_rate": 1.0}, "where.action = 'jump'"),
    ({"c_rate": 1.0, "until_V": 4.5}, "where.action = None"),
    ({"action": "charge", "c_rate": "fast", "until_V": 4.5}, "where.c_rate = 'fast'"),
    ({"action": "charge", "c_rate": True, "until_V": 4.5}, "where.c_rate = True"),
    ({"action": "charge", "until_V": 4.5}, "c_rate or current_mA_g"),
    ({"action": "charge", "c_rate": 1.0, "current_mA_g": 27.0, "until_V": 4.5}, "c_rate or current_mA_g"),
    ({"action": "charge", "c_rate": 1.0}, "needs a limit"),
    ({"action": "charge", "c_rate": 1.0, "voltage_V": 4.5}, "where.voltage_V: not used by a 'charge' step"),
    ({"action": "charge", "c_rate": 1.0, "until_V": 9.0}, "where.until_V = 9.0"),
    ({"action": "hold", "until_c_rate": 0.05}, "needs voltage_V"),
    ({"action": "hold", "voltage_V": 4.5}, "needs a limit"),
    ({"action": "hold", "voltage_V": 7.0, "duration_s": 60}, "where.voltage_V = 7.0"),
    ({"action": "rest"}, "needs duration_s"),
    ({"action": "rest", "duration_s": 0}, "where.duration_s = 0.0"),
    ({"action": "rest", "duration_s": 60, "until_V": 3.0}, "where.until_V: not used by a 'rest' step"),
]


@pytest.mark.parametrize("table, token", TABLE_ERRORS)
def test_bad_tables_raise_one_line_naming_where_and_the_key(table, token):
    """Table mistakes name `where` and the key, in one line, and say what is allowed
    (or, for a missing key, which key to give)."""
    with pytest.raises(ProtocolError) as raised:
        step_from_table(table, "where")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("where")
    assert token in message


def test_step_from_any_prefixes_the_place():
    """A bad sentence inside a protocol file is reported with its place."""
    with pytest.raises(ProtocolError, match=r"^protocol\.blocks\[1\]\.steps\[2\]: step \"Jump"):
        step_from_any("Jump at 1C for 1 h", "protocol.blocks[1].steps[2]")
    with pytest.raises(ProtocolError, match="not a step"):
        step_from_any(42, "protocol.blocks[1].steps[1]")


def test_direct_construction_is_checked():
    """Steps built in code obey the same rules as parsed ones."""
    with pytest.raises(ProtocolError, match="needs until_V and/or duration_s"):
        charge(1.0)
    with pytest.raises(ProtocolError, match="out of range"):
        hold(7.0, duration_s=60.0)
    with pytest.raises(ProtocolError, match="not used"):
        Step("rest", duration_s=60.0, until_V=3.0)


# ---------------------------------------------------------------------------------------
# blocks and experiments

FORMATION_AND_AGEING = {  # 3 formation cycles at C/10, then 100 at 1C (the module docstring)
    "kind": "experiment",
    "stops": ["discharge capacity < 80 % of cycle 4"],
    "blocks": [
        {"repeat": 3, "steps": ["Charge at C/10 until 4.5 V", "Discharge at C/10 until 2.8 V"]},
        {"repeat": 100, "steps": ["Charge at 1C until 4.5 V", "Hold at 4.5 V until C/20",
                                  {"action": "discharge", "c_rate": 1.0, "until_V": 2.8}]},
    ],
}


def test_cycles_are_numbered_across_blocks():
    """3 + 100 repeats -> cycles 1..103; cycles 1-3 from block 0, 4-103 from block 1."""
    experiment = experiment_from_table(FORMATION_AND_AGEING)
    cycles = list(experiment.cycles())
    assert [number for number, _, _ in cycles] == list(range(1, 104))
    assert [block for _, block, _ in cycles] == [0] * 3 + [1] * 100
    assert cycles[0][2] == experiment.blocks[0].steps
    assert cycles[3][2][1] == hold(4.5, until_rate=0.05, until_rate_unit="C")
    assert experiment.n_cycles == 103
    assert experiment.n_steps == 3 * 2 + 100 * 3
    assert experiment.stops == (StopCondition("discharge capacity", 0.8, 4),)


def test_retention_reference_default():
    """Default: the first cycle after the formation block (3 + 1 = 4) with two blocks,
    cycle 1 with one block; an explicit reference_cycle wins."""
    assert experiment_from_table(FORMATION_AND_AGEING).retention_reference() == 4
    one_block = {"kind": "experiment", "blocks": [FORMATION_AND_AGEING["blocks"][1]]}
    assert experiment_from_table(one_block).retention_reference() == 1
    assert experiment_from_table({**FORMATION_AND_AGEING, "reference_cycle": 10}).retention_reference() == 10


def test_experiment_table_round_trip():
    """to_table() holds sentences; reading it back gives an equal experiment."""
    experiment = experiment_from_table({**FORMATION_AND_AGEING, "reference_cycle": 5})
    assert experiment_from_table(experiment.to_table()) == experiment
    titration = gitt(0.1, 600.0, 3600.0, 4.5)
    assert experiment_from_table(titration.to_table()) == titration
    assert titration.to_table()["blocks"][0]["stop_on_limit"] is True


def test_first_current_step():
    """The first constant-current step, skipping rests; None when there is none."""
    experiment = experiment_from_table({"kind": "experiment", "blocks": [
        {"steps": ["Rest for 10 min", "Charge at C/3 until 4.4 V"]}]})
    assert experiment.first_current_step() == charge(1.0 / 3.0, until_V=4.4)
    assert Experiment((Block((Step("rest", duration_s=60.0),)),)).first_current_step() is None


def block_error(blocks, **extra):
    with pytest.raises(ProtocolError) as raised:
        experiment_from_table({"kind": "experiment", "blocks": blocks, **extra})
    assert "\n" not in str(raised.value)
    return str(raised.value)


def test_block_errors_name_the_place():
    """Messages count blocks and steps from 1, as they appear in the file."""
    steps = ["Charge at 1C until 4.5 V"]
    assert block_error([{"steps": steps}, {"repeat": 0, "steps": steps}]) == \
        "protocol.blocks[2].repeat = 0: must be an integer >= 1"
    assert block_error([{"repeat": 1.5, "steps": steps}]).startswith("protocol.blocks[1].repeat = 1.5")
    assert block_error([{"repeat": 2, "steps": []}]) == "protocol.blocks[1].steps: empty; give at least one step"
    assert block_error([{"repeat": 2}]) == "protocol.blocks[1].steps: empty; give at least one step"
    assert block_error([]).startswith("protocol.blocks = []: give at least one block")
    assert "unknown key 'repeats'" in block_error([{"repeats": 2, "steps": steps}])
    assert block_error([{"steps": ["Charge at 1C until 4.5 V", "Jump"]}]).startswith(
        'protocol.blocks[1].steps[2]: step "Jump": unknown verb')
    assert "unknown key 'cycles'" in block_error([{"steps": steps}], cycles=3)
    assert "protocol.kind = 'cc-charge'" in block_error([{"steps": steps}], kind="cc-charge")


def test_lower_cutoff_at_or_above_upper_is_an_error():
    """A discharge that must end at or above the charge's cutoff would never cycle; the
    message names both steps."""
    message = block_error([{"repeat": 2, "steps": ["Charge at 1C until 4.2 V", "Discharge at 1C until 4.3 V"]}])
    assert message.startswith("protocol.blocks[1]: lower cutoff >= upper")
    assert '"Discharge at 1C until 4.3 V"' in message and '"Charge at 1C until 4.2 V"' in message
    assert "lower cutoff" in block_error([{"steps": ["Charge at 1C until 4.2 V", "Discharge at 1C until 4.2 V"]}])
    with pytest.raises(ProtocolError, match="lower cutoff"):
        Block((charge(1.0, until_V=4.2), discharge(1.0, until_V=4.3)), repeat=1)


def test_stop_conditions():
    """Grammar "<quantity> < <percent> % of cycle <n>" ('below' also works); the reference
    cycle must exist."""
    assert parse_stop("discharge capacity < 80 % of cycle 4") == StopCondition("discharge capacity", 0.8, 4)
    assert parse_stop("Charge Capacity below 70% of cycle 1") == StopCondition("charge capacity", 0.7, 1)
    stop = StopCondition("discharge capacity", 0.8, 4)
    assert stop.describe() == "discharge capacity < 80 % of cycle 4"
    assert parse_stop(stop.describe()) == stop
    for text, token in [("energy < 80 % of cycle 4", "unknown quantity 'energy'"),
                        ("discharge capacity < 80 of cycle 4", "bad threshold '80 of cycle 4'"),
                        ("discharge capacity > 80 % of cycle 4", "missing '<'"),
                        ("discharge capacity < 180 % of cycle 4", "percentage '180'"),
                        ("discharge capacity < 80 % of cycle 0", "cycle '0'")]:
        with pytest.raises(ProtocolError) as raised:
            parse_stop(text)
        assert str(raised.value).startswith(f'stop "{text}": ') and token in str(raised.value)
    steps = ["Charge at 1C until 4.5 V", "Discharge at 1C until 2.8 V"]
    assert block_error([{"repeat": 3, "steps": steps}], stops=["discharge capacity < 80 % of cycle 4"]) == \
        'protocol.stops[1] = "discharge capacity < 80 % of cycle 4": cycle 4 is after the last cycle; ' \
        "allowed: cycles 1 to 3"
    assert block_error([{"steps": steps}], stops=["capacity < 80 % of cycle 1"]).startswith(
        'protocol.stops[1]: stop "capacity < 80 % of cycle 1": unknown quantity')
    assert block_error([{"steps": steps}], reference_cycle=2).startswith("protocol.reference_cycle = 2")


# ---------------------------------------------------------------------------------------
# builders and the start check


def test_cc_charge_builder():
    """One block, one cycle: the CC charge, plus the CV hold when asked (cv_max_h in h)."""
    assert cc_charge(1.0, 4.5) == Experiment((Block((parse_step("Charge at 1C until 4.5 V"),)),),
                                             start_at_rest=False, limit_key="protocol.v_max")
    with_hold = cc_charge(0.5, 4.4, cv_hold=True, cv_end_c_rate=0.05, cv_max_h=10.0)
    assert [step.describe() for step in with_hold.blocks[0].steps] == [
        "Charge at 0.5C until 4.4 V", "Hold at 4.4 V until C/20 or for 10 h"]
    assert with_hold.n_cycles == 1


def test_gitt_builder():
    """C/10 pulses of 10 min pass 1/60 of the capacity each: ceil(1.1 * 3600 / 60) + 1 = 67
    repeats, enough for 110 % of the capacity; the block stops when a pulse hits v_max."""
    titration = gitt(0.1, 600.0, 3600.0, 4.5)
    (block,) = titration.blocks
    assert [step.describe() for step in block.steps] == ["Charge at C/10 for 10 min or until 4.5 V", "Rest for 1 h"]
    assert block.repeat == 67
    assert gitt(1.0, 7.0, 60.0, 4.5).blocks[0].repeat == math.ceil(3960 / 7) + 1 == 567
    assert block.stop_on_limit is True


def test_stop_on_limit_needs_a_step_it_can_act_on():
    """stop_on_limit only acts on a step with both a time and a voltage limit."""
    message = block_error([{"steps": ["Charge at 1C until 4.5 V"], "stop_on_limit": True}])
    assert message.startswith("protocol.blocks[1].stop_on_limit = true has no effect")


def test_check_start_on_a_pristine_particle():
    """A pristine particle is fully lithiated at its open-circuit voltage (3.45 V for the
    study's materials, an illustrative value here): it can only be charged first."""
    ocv = 3.45
    check_start(cc_charge(1.0, 4.5), ocv)
    check_start(experiment_from_table({"kind": "experiment", "blocks": [
        {"steps": ["Rest for 1 h", "Charge at 1C until 4.5 V", "Discharge at 1C until 2.8 V"]}]}), ocv)
    cases = [
        (["Rest for 1 h", "Discharge at 1C until 2.8 V"], "is a discharge"),
        (["Hold at 3.4 V for 1 h"], "at or below the starting open-circuit voltage 3.45 V"),
        (["Hold at 3.45 V for 1 h"], "at or below the starting open-circuit voltage 3.45 V"),
        (["Charge at 1C until 3.0 V"], "can never be reached"),
    ]
    for steps, reason in cases:
        experiment = Experiment((Block(tuple(parse_step(text) for text in steps)),))
        with pytest.raises(ProtocolError) as raised:
            check_start(experiment, ocv)
        message = str(raised.value)
        assert "\n" not in message and message.startswith("protocol: first step") and reason in message
