"""Sweep files (TOML): a base run configuration and the axes to vary, expanded to the full
grid of run configurations, every one validated before anything runs.

    base = "sphere_1d.toml"               # a run config, relative to this file (or an inline table)
    [set]                                 # optional fixed overrides of the base, dotted keys
    "output.snapshots" = 10
    [axes]                                # one grid dimension per key, in this order
    material = ["nc91", "nm91"]                                 # a list of values
    "protocol.c_rate" = [0.1, 0.2, 0.33, 0.5, 1, 2]
    "particle.radius_um" = {start = 0.5, stop = 5.0, num = 10}  # a range
    "protocol.blocks" = {labels = ["0.5C", "1C"], values = [[...], [...]]}  # labelled values

Axis and [set] keys are run-configuration keys written with dots: `material`,
`section.key` for the keys of chemomech.io.config.SCHEMA (particle.radius_um,
protocol.c_rate, particle.geometry, ...), `material_overrides.<material key>`
(e.g. "material_overrides.diffusivity.out_of_plane_ratio") and, when the base material is
a blend (materials/blend.py), `material.blend.<end member>`: that member's fraction, the
other members keeping their proportions while they fill the rest, e.g.
    "material.blend.nc91" = {start = 0, stop = 1, num = 6}    # with base material
                                                              # { blend = { nc91 = 0.5, nm91 = 0.5 } }
Unquoted dotted keys (TOML nested tables) mean the same as quoted ones.

Labelled values ({labels, values}, two lists of the same length) give any values - a
protocol's blocks, a list of mechanisms - with the names the points and summary.nc use
for them (labels: distinct strings).

Ranges (inclusive of both ends; values rounded to 12 significant digits so that
0.1 + 0.2 prints as 0.3):
    {start, stop, num}              num values evenly spaced (numpy.linspace)
    {start, stop, num, log = true}  num values evenly spaced in log (numpy.geomspace)
    {start, stop, step}             start, start + step, ... up to stop (numpy.arange, with stop
                                    included when it falls on the grid to 1e-9 of a step)
An integer key (particle.cells, output.snapshots, ...) takes a range only when all its
values are whole numbers.

The grid is the outer product of the axes, the first axis varying slowest. Every point's
configuration goes through chemomech.io.config.resolve_config here, so a bad value is a
one-line ConfigError naming the key (or the point) before any run starts.

Each point is stored under DIR/points/<name>, <name> being its axis values, e.g.
"material=nc91__c_rate=0.33" (keys shortened to their last part; characters outside
[A-Za-z0-9._=+,-] replaced by "_"). Names do not contain the point's index, so adding values
to an axis keeps the existing points (and their results) in place.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chemomech.errors import ChemomechError, ConfigError, MaterialError
from chemomech.io.config import OPTIONAL_SCHEMA, SCHEMA, flatten_keys, material_in_folder, read_config, resolve_config
from chemomech.materials.blend import BLEND, check_blend, material_source, resolve_members, with_fraction

SWEEP_KEYS = ("base", "set", "axes")
RANGE_KEYS = ("start", "stop", "num", "step", "log")
MAX_POINTS = 100_000
MAX_NAME_LENGTH = 200
NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._=+,-]")
BLEND_PREFIX = "material.blend."


@dataclass(frozen=True)
class Axis:
    """One grid dimension: the dotted config key, the dimension name used in summary.nc,
    the config values and their coordinate labels (the value itself, or a string for a list
    value such as a c_axis)."""

    key: str
    name: str
    values: tuple
    labels: tuple
    labelled: bool = False  # labels given in the sweep file ({labels, values}): point names use them


@dataclass(frozen=True)
class SweepPoint:
    """One grid point: its position on each axis, the axis values by dotted key, the
    directory name under DIR/points/, the resolved run configuration and its hash."""

    index: tuple[int, ...]
    values: dict
    name: str
    config: dict
    config_hash: str


@dataclass(frozen=True)
class Sweep:
    """An expanded sweep: the base configuration (raw, with [set] applied), the axes and
    the points of the full grid (C order: the last axis varies fastest)."""

    name: str
    base: dict
    axes: tuple[Axis, ...]
    points: tuple[SweepPoint, ...]
    source: Path | None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(axis.values) for axis in self.axes)

    def resolved_toml(self) -> str:
        """The sweep as a self-contained sweep file: the base as an inline table (material
        paths absolute, [set] merged in) and every axis as an explicit list. Running it
        again gives the same points (DIR/sweep.toml)."""
        import tomli_w

        header = f"# chemomech sweep {self.name!r}: {len(self.points)} points ({' x '.join(map(str, self.shape))})\n"
        if self.source is not None:
            header += f"# from {self.source.resolve()}\n"
        body = {"base": self.base, "axes": {axis.key: list(axis.values) for axis in self.axes}}
        return header + tomli_w.dumps(body)


def load_sweep(source: str | Path | dict) -> Sweep:
    """Read a sweep file (TOML path) or dict, expand its axes to the full grid and resolve
    every point's configuration. Raises ConfigError (one line naming the key or the point)
    for unknown keys, empty or malformed axes, and values a run configuration refuses."""
    if isinstance(source, dict):
        raw, path, where = copy.deepcopy(source), None, "sweep: "
        folder = Path.cwd()
    else:
        path = Path(source)
        where = f"sweep file {str(path)!r}: "
        if not path.is_file():
            raise ConfigError(f"{where}does not exist")
        try:
            raw = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{where}malformed TOML ({exc})") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{where}not a UTF-8 text file") from None
        folder = path.parent

    unknown = [k for k in raw if k not in SWEEP_KEYS]
    if unknown:
        raise ConfigError(f"{where}unknown key {unknown[0]!r}; allowed: {', '.join(SWEEP_KEYS)}")
    base = _read_base(raw.get("base"), folder, where)

    fixed = raw.get("set", {})
    if not isinstance(fixed, dict):
        raise ConfigError(f"{where}[set] must be a table of dotted config keys, e.g. \"output.snapshots\" = 10")
    fixed = _flatten(fixed, where, "set", ranges=False)
    for key, value in fixed.items():
        _check_key(key, where, "set")
        set_key(base, key, _material_beside(value, folder) if key == "material" else value)

    table = raw.get("axes")
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"{where}no [axes]; give at least one, e.g. \"protocol.c_rate\" = [0.5, 1, 2]")
    axes_raw = _flatten(table, where, "axes", ranges=True)
    values_by_key = {}
    for key, spec in axes_raw.items():
        _check_key(key, where, "axes")
        if key in fixed:
            raise ConfigError(f"{where}{key!r} is both an axis and in [set]; give it in one place")
        if _is_labelled(spec):
            values_by_key[key] = _labelled_values(key, spec, where)
            continue
        values = _axis_values(key, spec, where)
        if key == "material":
            values = [_material_beside(v, folder) for v in values]
        values_by_key[key] = (values, None)
    axes = _make_axes(values_by_key)

    total = int(np.prod([len(a.values) for a in axes]))
    if total > MAX_POINTS:
        raise ConfigError(f"{where}{total} points; allowed: at most {MAX_POINTS}")
    points = _expand(base, axes, where)
    name = path.stem if path is not None else "sweep"
    if name.endswith(".sweep"):
        name = name[: -len(".sweep")]
    return Sweep(name=name, base=base, axes=axes, points=points, source=path)


def _read_base(base, folder: Path, where: str) -> dict:
    """The base run configuration: a path (relative to the sweep file) or an inline table.
    A relative material path in it is made absolute (relative to the file that names it)."""
    if base is None:
        raise ConfigError(f"{where}missing key 'base': a run configuration file (e.g. base = \"sphere_1d.toml\") or an inline table")
    if isinstance(base, str):
        base_path = Path(base) if Path(base).is_absolute() else folder / base
        if not base_path.is_file():
            raise ConfigError(f"{where}base = {base!r}: file {str(base_path)!r} does not exist")
        config, _ = read_config(base_path)
        base_folder = base_path.parent
    elif isinstance(base, dict):
        config, base_folder = copy.deepcopy(base), folder
    else:
        raise ConfigError(f"{where}base = {base!r}: must be a path to a run configuration or a table")
    if isinstance(config.get("material"), dict):  # a blend: its member paths relative to the base's folder
        try:
            config["material"] = {BLEND: resolve_members(check_blend(config["material"]), base_folder)}
        except MaterialError as exc:
            raise ConfigError(f"{where}base: {exc}") from None
    elif "material" in config:
        config["material"] = _material_beside(config["material"], base_folder)
    return config


def _material_beside(material, folder: Path):
    """A relative material path (ends in .toml or has a folder) that exists relative to
    `folder` is made absolute, so it names the same file from any working directory and on
    every worker; names ("nc91") and other values are returned unchanged."""
    beside = material_in_folder(material, folder) if isinstance(material, str) else None
    return material if beside is None else str(beside.resolve())


def _is_range(value) -> bool:
    return isinstance(value, dict) and "start" in value


def _is_labelled(value) -> bool:
    return isinstance(value, dict) and set(value) == {"labels", "values"}


def _labelled_values(key: str, spec: dict, where: str) -> tuple[list, list]:
    """(values, labels) of a labelled axis {labels = [...], values = [...]}: the same
    non-zero length, labels distinct non-empty strings."""
    values, labels = spec["values"], spec["labels"]
    if not isinstance(values, list) or not isinstance(labels, list) or not values or len(values) != len(labels):
        raise ConfigError(f"{where}axis {key!r}: labels and values must be two non-empty lists of the same length")
    if not all(isinstance(label, str) and label for label in labels) or len(set(labels)) != len(labels):
        raise ConfigError(f"{where}axis {key!r}: labels = {labels!r}: must be distinct non-empty strings")
    return values, labels


def _flatten(table: dict, where: str, section: str, ranges: bool, prefix: str = "") -> dict:
    """Nested tables (unquoted dotted TOML keys) -> {dotted key: value}; with ranges=True a
    table holding `start` is a range, not a nesting level."""
    flat = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and not (ranges and (_is_range(value) or _is_labelled(value))):
            nested = _flatten(value, where, section, ranges, f"{dotted}.")
            if not nested:
                raise ConfigError(f"{where}[{section}] {dotted!r}: an empty table; give values")
            flat.update(nested)
        else:
            if dotted in flat:
                raise ConfigError(f"{where}[{section}] {dotted!r} given twice")
            flat[dotted] = value
    return flat


def config_keys() -> list[str]:
    """The dotted run-configuration keys a sweep may vary."""
    return ["material", "material.blend.<end member>", "material_overrides.<material key>",
            *(f"{section}.{name}" for schema in (SCHEMA, OPTIONAL_SCHEMA) for section, keys in schema.items()
              for name in keys)]


def schema_key(key: str):
    """The chemomech.io.config.Key of a dotted `section.name`, or None (material keys)."""
    section, _, name = key.partition(".")
    return SCHEMA.get(section, {}).get(name) or OPTIONAL_SCHEMA.get(section, {}).get(name)


def _check_key(key: str, where: str, section: str) -> None:
    section_name, _, rest = key.partition(".")
    known = (key == "material" or (section_name == "material_overrides" and rest)
             or (key.startswith(BLEND_PREFIX) and len(key) > len(BLEND_PREFIX))
             or schema_key(key) is not None)
    if not known:
        raise ConfigError(f"{where}[{section}] {key!r}: unknown config key; allowed: {', '.join(config_keys())}")


def set_key(config: dict, key: str, value) -> None:
    """config[section][name] = value for a dotted key (material_overrides takes the rest of
    the key as one dotted material key; nested override tables are flattened first)."""
    if key == "material":
        config["material"] = value
        return
    if key.startswith(BLEND_PREFIX):
        set_blend_fraction(config, key[len(BLEND_PREFIX):], value)
        return
    section, _, rest = key.partition(".")
    table = config.get(section, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{section} must be a table ([{section}]) in the base configuration")
    if section == "material_overrides":
        table = flatten_keys(table)
    table[rest] = value
    config[section] = table


def set_blend_fraction(config: dict, member: str, value) -> None:
    """"material.blend.<member>" = value (materials/blend.with_fraction)."""
    try:
        config["material"] = with_fraction(config.get("material"), member, value, f"{BLEND_PREFIX}{member}")
    except MaterialError as exc:
        raise ConfigError(str(exc)) from None


def _axis_values(key: str, spec, where: str) -> list:
    """The values of one axis: a non-empty list of distinct scalars (or of number lists for
    list keys such as particle.c_axis), or a range table."""
    if _is_range(spec):
        values = _range_values(key, spec, where)
    elif isinstance(spec, list):
        values = spec
        if not values:
            raise ConfigError(f"{where}axis {key!r}: empty list; give at least one value")
        for value in values:
            ok = isinstance(value, (str, int, float, bool)) or (
                isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value))
            if not ok:
                raise ConfigError(f"{where}axis {key!r}: value {value!r} is not a number, string, boolean or list of numbers")
    else:
        raise ConfigError(
            f"{where}axis {key!r} = {spec!r}: must be a list of values or a range "
            "{start = ..., stop = ..., num = ...} (or step = ...)")
    labels = [_label(v) for v in values]
    counts = Counter(labels)
    duplicate = next((v for v, lab in zip(values, labels) if counts[lab] > 1), None)
    if duplicate is not None:
        raise ConfigError(f"{where}axis {key!r}: value {duplicate!r} given twice; axis values must be distinct")
    return list(values)


def _range_values(key: str, spec: dict, where: str) -> list:
    """numpy.linspace / geomspace / arange of a range table, inclusive of stop."""
    extra = [k for k in spec if k not in RANGE_KEYS]
    if extra:
        raise ConfigError(f"{where}axis {key!r}: unknown range key {extra[0]!r}; allowed: {', '.join(RANGE_KEYS)}")
    for bound in ("start", "stop"):
        value = spec.get(bound)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ConfigError(f"{where}axis {key!r}: range needs numbers start and stop (got {bound} = {value!r})")
    start, stop = float(spec["start"]), float(spec["stop"])
    if ("num" in spec) == ("step" in spec):
        raise ConfigError(f"{where}axis {key!r}: range needs exactly one of num (count) or step")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{where}axis {key!r}: range log = {log!r}: must be true or false")
    if "num" in spec:
        num = spec["num"]
        if not isinstance(num, int) or isinstance(num, bool) or not 1 <= num <= MAX_POINTS:
            raise ConfigError(f"{where}axis {key!r}: range num = {num!r}: must be an integer from 1 to {MAX_POINTS}")
        if log:
            if start <= 0 or stop <= 0:
                raise ConfigError(f"{where}axis {key!r}: a log range needs start > 0 and stop > 0")
            values = np.geomspace(start, stop, num)
        else:
            values = np.linspace(start, stop, num)
    else:
        if log:
            raise ConfigError(f"{where}axis {key!r}: log = true goes with num, not step")
        step = spec["step"]
        if not isinstance(step, (int, float)) or isinstance(step, bool) or step == 0 or (stop - start) * step < 0:
            raise ConfigError(f"{where}axis {key!r}: range step = {step!r}: must be a nonzero number leading from start to stop")
        count = int(np.floor((stop - start) / step + 1e-9)) + 1
        if count > MAX_POINTS:
            raise ConfigError(f"{where}axis {key!r}: range has {count} values; allowed: at most {MAX_POINTS}")
        values = start + step * np.arange(count)
    values = [float(f"{v:.12g}") for v in values]
    spec_key = schema_key(key)
    if spec_key is not None and spec_key.kind is int:
        if any(v != round(v) for v in values):
            raise ConfigError(f"{where}axis {key!r}: an integer key; the range gives non-integer values {values!r}")
        values = [int(round(v)) for v in values]
    elif spec_key is not None and spec_key.kind not in (int, float):
        raise ConfigError(f"{where}axis {key!r}: a range needs a numeric key; give a list of values")
    return values


def _label(value):
    """The coordinate label of an axis value: the value itself, a list as "0,0,1"."""
    if isinstance(value, list):
        return ",".join(f"{v:g}" for v in value)
    return value


def _short(value) -> str:
    """An axis value as it appears in a point name: floats in their shortest form
    (1.0 -> "1", 0.33 -> "0.33"), material paths by their file stem."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        text = f"{value:g}"
        return text if float(text) == value else repr(value)
    if isinstance(value, str) and (value.endswith(".toml") or "/" in value):
        return Path(value).stem
    return str(_label(value))


def _make_axes(values_by_key: dict) -> tuple[Axis, ...]:
    """Axes from {key: (values, labels or None)}, with dimension names: the last part of
    the key (c_rate, radius_um, material), or the whole key with dots as "_" where two keys
    end alike."""
    short = {key: key.rsplit(".", 1)[-1] for key in values_by_key}
    names = {key: (s if list(short.values()).count(s) == 1 else key.replace(".", "_")) for key, s in short.items()}
    return tuple(Axis(key=key, name=names[key], values=tuple(values),
                      labels=tuple(labels) if labels is not None else tuple(_label(v) for v in values),
                      labelled=labels is not None)
                 for key, (values, labels) in values_by_key.items())


def point_name(axes: tuple[Axis, ...], values: tuple) -> str:
    """"material=nc91__c_rate=0.33": the axis values (a labelled axis: the value's label),
    file-system safe."""
    parts = []
    for axis, v in zip(axes, values):
        text = axis.labels[axis.values.index(v)] if axis.labelled else _short(v)
        parts.append(f"{axis.key.rsplit('.', 1)[-1]}={text}")
    return NAME_UNSAFE.sub("_", "__".join(parts))


def _expand(base: dict, axes: tuple[Axis, ...], where: str) -> tuple[SweepPoint, ...]:
    """The outer product of the axes; each point's configuration resolved and hashed."""
    grid = list(itertools.product(*(range(len(axis.values)) for axis in axes)))
    names = [point_name(axes, tuple(axis.values[i] for axis, i in zip(axes, index))) for index in grid]
    counts = Counter(names)
    width = len(str(len(grid) - 1))
    points = []
    for number, (index, name) in enumerate(zip(grid, names)):
        if counts[name] > 1 or len(name) > MAX_NAME_LENGTH:  # distinct values, same text
            name = f"{number:0{width}d}_{name[:MAX_NAME_LENGTH]}"
        values = {axis.key: axis.values[i] for axis, i in zip(axes, index)}
        raw = copy.deepcopy(base)
        for key, value in values.items():
            set_key(raw, key, value)
        try:
            config = resolve_config(raw)
        except ChemomechError as exc:
            raise ConfigError(f"{where}point {name}: {exc}") from None
        points.append(SweepPoint(index=index, values=values, name=name, config=config,
                                 config_hash=config_hash(config)))
    return tuple(points)


def config_hash(config: dict) -> str:
    """SHA-256 of a resolved run configuration (canonical JSON, sorted keys) together with
    the bytes of its material file, so that editing models/nc91.toml makes the points of
    NC91 stale as well. Code changes are not part of the hash."""
    material = material_source(config["material"])[0].encode("utf-8")
    payload = json.dumps({"config": config, "material_sha256": hashlib.sha256(material).hexdigest()},
                         sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()
