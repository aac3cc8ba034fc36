"""YAML with line numbers: the first step of loading ``environments/*.yaml``.

Where it sits: the config loader reads each file through :func:`load_with_lines`, then
validates the plain data with pydantic and uses the line map to point every problem at
``file:line: key``. PyYAML's composer nodes carry the marks we need, so no second YAML
library is required.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class LineMap:
    """1-based line of each key path in one YAML document (``("apps", 0, "name")``)."""

    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Sequence[str | int]) -> int:
        """Line of the deepest known prefix of ``path`` (1 when nothing is known)."""
        key = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), 1)


class YamlSyntaxError(ValueError):
    """The text is not YAML; carries the 1-based line of the problem."""

    def __init__(self, message: str, *, line: int) -> None:
        super().__init__(message)
        self.line = line


def load_with_lines(text: str) -> tuple[Any, LineMap]:
    """Parse one YAML document into plain data plus the line of every key path."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlSyntaxError(str(exc.problem or exc), line=line) from exc
    if node is None:
        return None, LineMap({(): 1})
    lines: dict[Path_, int] = {}
    data = _Walker().walk(node, (), lines)
    return data, LineMap(lines)


class _Walker:
    """Build plain data from composed nodes, noting where each key path starts."""

    def __init__(self) -> None:
        # One safe constructor resolves scalars (ints, bools, nulls) and merge keys.
        self._loader = yaml.SafeLoader("")

    def walk(self, node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
        """Plain data for ``node``; records the line of ``path`` and of every key below."""
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            self._loader.flatten_mapping(node)
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.scalar(key_node)
                lines[(*path, key)] = key_node.start_mark.line + 1
                out[key] = self.walk(value_node, (*path, key), lines)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.walk(item, (*path, i), lines) for i, item in enumerate(node.value)]
        return self.scalar(node)

    def scalar(self, node: yaml.Node) -> Any:
        """Resolve one scalar node to its Python value."""
        if not isinstance(node, yaml.ScalarNode):
            raise YamlSyntaxError(
                "a mapping key must be a plain value", line=node.start_mark.line + 1
            )
        return self._loader.construct_object(node, deep=True)
