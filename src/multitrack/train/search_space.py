"""The search space of `multitrack tune`: YAML over config keys, checked by the config's own dataclasses.

    optim.lr: {log_uniform: [1.0e-4, 3.0e-3]}   # a float drawn on a log scale
    model.dropout: {uniform: [0.0, 0.3]}        # a float
    model.n_layers: {int: [2, 6]}               # an integer, both ends included
    model.d_model: {choice: [96, 192]}          # one of the listed values

Each key is a dotted config key (README, "Config reference"); every bound and choice is put
through `config_from_dict`, so a key that does not exist or a value the key cannot hold fails
as it would in `--set`, naming the key. Keys the prepared folder fixes (`data.*`, `window.*`)
are refused: a trial cannot re-cut the data it trains on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml

from multitrack.config import Config, config_from_dict, config_to_dict
from multitrack.errors import ConfigError

KINDS = ("uniform", "log_uniform", "int", "choice")
FIXED_BY_PREPARED = ("data", "window")  # sections the prepared folder was cut with


@dataclass(frozen=True)
class Dimension:
    """One searched config key: `kind` from KINDS, with (low, high) or the choices."""

    key: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high))
        return trial.suggest_float(self.key, self.low, self.high, log=self.kind == "log_uniform")

    def to_dict(self) -> dict[str, Any]:
        """The YAML form, as the study records it (a rerun must search the same space)."""
        if self.kind == "choice":
            return {self.key: {"choice": list(self.choices)}}
        return {self.key: {self.kind: [self.low, self.high]}}


def load_space(path: str | Path, base: Config) -> list[Dimension]:
    """The dimensions in a search-space YAML file, each checked against `base`'s dataclasses."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read search space: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return parse_space(raw, base)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def parse_space(raw: Any, base: Config) -> list[Dimension]:
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(
            f"expected a mapping of config keys to ranges (optim.lr: {{log_uniform: [1.0e-4, 3.0e-3]}}), got {raw!r}"
        )
    return [parse_dimension(str(key), spec, base) for key, spec in raw.items()]


def parse_dimension(key: str, spec: Any, base: Config) -> Dimension:
    section, _, leaf = key.partition(".")
    if not leaf:
        raise ConfigError(f"{key}: expected a dotted config key such as optim.lr")
    if section in FIXED_BY_PREPARED:
        raise ConfigError(
            f"{key}: {section}.* is fixed by the prepared folder ({', '.join(f'{s}.*' for s in FIXED_BY_PREPARED)} "
            "cannot be tuned: prepare another folder instead)"
        )
    _check_known_key(base, key)
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in KINDS:
        raise ConfigError(f"{key}: expected one of {{{': …}, {'.join(KINDS)}: …}}, got {spec!r}")
    ((kind, bounds),) = spec.items()
    if kind == "choice":
        dimension = _choice(key, bounds)
    else:
        dimension = _range(key, kind, bounds)
    for value in _values_to_check(dimension):
        try:
            with_value(base, {key: value})  # the key's own type check, naming the key
        except ConfigError as exc:
            raise ConfigError(f"{exc}, which {kind} would give it") from None
    return dimension


def with_value(base: Config, params: dict[str, Any]) -> Config:
    """`base` with each dotted key set to its value, type-checked as `--set` would be."""
    raw = config_to_dict(base)
    for key, value in params.items():
        *parents, leaf = key.split(".")
        node: Any = raw
        for part in parents:
            node = node.setdefault(part, {})  # an unknown section: config_from_dict names it
            if not isinstance(node, dict):
                raise ConfigError(f"{key}: {part} is not a config section")
        node[leaf] = value
    return config_from_dict(raw)


def _check_known_key(base: Config, key: str) -> None:
    """An unknown key fails with the config's own message; a section is not a key."""
    node: Any = config_to_dict(base)
    for part in key.split("."):
        if not isinstance(node, dict):
            raise ConfigError(f"{key}: not a config key ({part} is inside a value, not a section)")
        if part not in node:
            with_value(base, {key: None})  # raises "unknown key …" listing the known ones
        node = node[part]
    if isinstance(node, dict):
        raise ConfigError(f"{key}: a config section, not a key")


def _choice(key: str, options: Any) -> Dimension:
    if not isinstance(options, list) or not options:
        raise ConfigError(f"{key}: choice: expected a non-empty list of values, got {options!r}")
    for option in options:
        if option is not None and not isinstance(option, (bool, int, float, str)):
            raise ConfigError(f"{key}: choice: {option!r} is not a number, string, boolean or null")
    if len(set(map(repr, options))) != len(options):
        raise ConfigError(f"{key}: choice: {options!r} lists a value twice")
    return Dimension(key, "choice", choices=tuple(options))


def _range(key: str, kind: str, bounds: Any) -> Dimension:
    if not isinstance(bounds, list) or len(bounds) != 2:
        raise ConfigError(f"{key}: {kind}: expected [low, high], got {bounds!r}")
    low, high = (_number(key, kind, bound) for bound in bounds)
    if kind == "int" and not all(isinstance(bound, int) for bound in (low, high)):
        raise ConfigError(f"{key}: int: bounds must be integers, got {bounds!r}")
    if not low < high:
        raise ConfigError(f"{key}: {kind}: low {low:g} must be below high {high:g}")
    if kind == "log_uniform" and low <= 0:
        raise ConfigError(f"{key}: log_uniform: low {low:g} must be above 0 on a log scale")
    return Dimension(key, kind, low, high)


def _number(key: str, kind: str, value: Any) -> float | int:
    if isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string, as config.py allows
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{key}: {kind}: bounds must be finite numbers, got {value!r}")
    return value


def _values_to_check(dimension: Dimension) -> list[Any]:
    """Values that show whether the key can hold what the dimension draws."""
    if dimension.kind == "choice":
        return list(dimension.choices)
    if dimension.kind == "int":
        return [int(dimension.low), int(dimension.high)]
    return [float(dimension.low), float(dimension.high)]  # a float: refused by an int key
