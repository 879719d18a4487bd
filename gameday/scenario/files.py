"""One loader for every config file: YAML read strictly (a key given twice, base-60 numbers and octal refused),
bounded in size, then validated into its model; whatever is wrong is one ``ConfigError`` line naming the file,
the field and the reason. A scenario's errors are ``ScenarioError`` (INVALID SCENARIO); every other file's,
``slo.yaml`` and ``abort.yaml`` among them, are ``ConfigError`` (INVALID CONFIG)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from gameday.core.errors import ConfigError
from gameday.core.text import printable
from gameday.scenario.inputs import read_text_bounded

MAX_CONFIG_BYTES = 256 * 1024


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(None, None, "a key that is not a plain value",
                                                        key_node.start_mark) from None
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {printable(key, 60)!r}",
                                                        key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


# Plain numbers as YAML 1.2 reads them: no base-60 (``1:30`` stays text, not 90), no ``0b``/``0o``-less octal.
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"),
                                    list("-+0123456789"))
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)"
               r"|\.(?:nan|NaN|NAN))$"), list("-+.0123456789"))


def parse_yaml(text: str, shown: str, error: type[ConfigError] = ConfigError) -> Any:
    """The YAML document in ``text``, or ``error`` naming the file and why, whatever its characters."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise error(shown, where, f"not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    except RecursionError:
        raise error(shown, "(file)", "nested too deeply") from None
    except (ValueError, TypeError, OverflowError) as exc:  # a tag such as !!float on a value it does not fit
        raise error(shown, "(file)", f"not valid YAML: {type(exc).__name__}: {exc}") from None


def read_yaml(path: Path, shown: str | None = None, error: type[ConfigError] = ConfigError,
              what: str = "a config file", limit: int = MAX_CONFIG_BYTES) -> Any:
    """The YAML document in ``path``, or ``error`` naming the file and why, whatever its bytes."""
    shown = str(path) if shown is None else shown
    try:
        text = read_text_bounded(path, limit, what)
    except OSError as exc:
        raise error(shown, "(file)", exc.strerror or type(exc).__name__) from None
    return parse_yaml(text, shown, error)


def field_of(err: Any) -> str:
    return ".".join(str(p) for p in err["loc"]) or "(top level)"


def validated(data: Any, shape: Any, shown: str, default: Any = None) -> Any:
    """``data`` (a parsed document) validated into ``shape``; anything wrong is one ``ConfigError`` line."""
    try:
        return TypeAdapter(shape).validate_python(data if data is not None else default)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(shown, field_of(err), err["msg"].removeprefix("Value error, ")) from None
    except RecursionError:
        raise ConfigError(shown, "(file)", "nested too deeply") from None


def load_config(path: Path, shape: Any, what: str, default: Any = None, shown: str | None = None) -> Any:
    """``path`` read and validated into ``shape`` (a model or a type such as ``list[Model]``); a missing file
    is ``default``; anything wrong is one ``ConfigError`` line."""
    shown = str(path) if shown is None else shown
    if not path.exists():
        return default
    return validated(read_yaml(path, shown, what=what), shape, shown, default)
