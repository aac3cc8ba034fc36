"""Label and field selectors of list and watch requests.

Parsed once per request (`handlers.py`, `watch.py`) into small predicates over objects.
Grammar as in the API server: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kubesim.errors import bad_request


class Operator(StrEnum):
    """Label selector operators."""

    EQUALS = "="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"


@dataclass(frozen=True, slots=True)
class Requirement:
    """One term of a label selector."""

    key: str
    op: Operator
    values: frozenset[str] = frozenset()

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether a label map satisfies this term."""
        match self.op:
            case Operator.EQUALS:
                return labels.get(self.key) in self.values
            case Operator.NOT_EQUALS:
                return labels.get(self.key) not in self.values
            case Operator.IN:
                return self.key in labels and labels[self.key] in self.values
            case Operator.NOT_IN:
                return labels.get(self.key) not in self.values
            case Operator.EXISTS:
                return self.key in labels
            case Operator.DOES_NOT_EXIST:
                return self.key not in labels
        return False


_SET_TERM = re.compile(r"^\s*([^\s!=()]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ_TERM = re.compile(r"^\s*([^\s!=()]+)\s*(==|=|!=)\s*([^\s,()]*)\s*$")
_EXISTS_TERM = re.compile(r"^\s*(!?)\s*([^\s!=()]+)\s*$")


def _split_terms(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    terms: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(ch)
    terms.append("".join(current))
    return [t for t in terms if t.strip()]


def parse_label_selector(text: str) -> list[Requirement]:
    """Parse `labelSelector`; a malformed one is a 400 like the real server's."""
    out = []
    for term in _split_terms(text):
        if m := _SET_TERM.match(term):
            values = frozenset(v.strip() for v in m.group(3).split(",") if v.strip())
            out.append(Requirement(m.group(1), Operator(m.group(2)), values))
        elif m := _EQ_TERM.match(term):
            op = Operator.NOT_EQUALS if m.group(2) == "!=" else Operator.EQUALS
            out.append(Requirement(m.group(1), op, frozenset({m.group(3)})))
        elif m := _EXISTS_TERM.match(term):
            op = Operator.DOES_NOT_EXIST if m.group(1) else Operator.EXISTS
            out.append(Requirement(m.group(2), op))
        else:
            raise bad_request(f"unable to parse requirement: {term.strip()!r}")
    return out


_FIELDS: dict[str, Callable[[dict[str, Any]], str]] = {
    "metadata.name": lambda o: o.get("metadata", {}).get("name", ""),
    "metadata.namespace": lambda o: o.get("metadata", {}).get("namespace", ""),
    "status.phase": lambda o: str(o.get("status", {}).get("phase", "")),
    "spec.nodeName": lambda o: str(o.get("spec", {}).get("nodeName", "")),
    "type": lambda o: str(o.get("type", "")),
}


def _dotted(path: str) -> Callable[[dict[str, Any]], str]:
    parts = path.split(".")

    def getter(obj: dict[str, Any]) -> str:
        node: Any = obj
        for part in parts:
            node = node.get(part) if isinstance(node, dict) else None
        return "" if node is None else str(node)

    return getter


def parse_field_selector(text: str) -> list[tuple[Callable[[dict[str, Any]], str], bool, str]]:
    """Parse `fieldSelector` into (getter, wanted-equal, value) terms."""
    out = []
    for term in _split_terms(text):
        m = _EQ_TERM.match(term)
        if not m:
            raise bad_request(f"invalid selector: {text!r}; can't understand {term.strip()!r}")
        # Beyond the well-known labels any dotted path works (e.g. involvedObject.name,
        # which `kubectl describe` asks of events); a real server is stricter per kind.
        getter = _FIELDS.get(m.group(1)) or _dotted(m.group(1))
        out.append((getter, m.group(2) != "!=", m.group(3)))
    return out


@dataclass(frozen=True, slots=True)
class Selector:
    """A parsed label and field selector pair."""

    labels: tuple[Requirement, ...] = ()
    fields: tuple[tuple[Callable[[dict[str, Any]], str], bool, str], ...] = ()

    @classmethod
    def parse(cls, label_selector: str, field_selector: str) -> Selector:
        """Both selectors of a request."""
        return cls(
            tuple(parse_label_selector(label_selector)),
            tuple(parse_field_selector(field_selector)),
        )

    @property
    def empty(self) -> bool:
        """Whether everything matches."""
        return not self.labels and not self.fields

    def matches(self, obj: dict[str, Any]) -> bool:
        """Whether an object is selected."""
        if self.labels:
            labels = obj.get("metadata", {}).get("labels") or {}
            if not all(r.matches(labels) for r in self.labels):
                return False
        return all((getter(obj) == value) == wanted for getter, wanted, value in self.fields)
