"""What an operation of the API declares about itself, next to its handler.

Where it sits: each view is decorated with `@Operation(...)`: its tag, its request body
(a model of `api.schemas`), its answers (types of `api.responses`), its query parameters
(`api.params`), its headers and the refusals only it makes. What the middleware adds to
every operation (401/403 from auth, 400 for an undeclared query parameter, 503 while the
database is away, Idempotency-Key on authenticated POSTs) is not declared here; the
OpenAPI document (`api.openapi`) is generated from both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from api.errors import Refusal

if TYPE_CHECKING:
    from api.params import Query

JSON = "application/json"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, kw_only=True)
class Answer:
    """A success (or the odd non-problem) answer: status, body type by media type, headers."""

    status: int
    description: str
    #: media type → the type whose JSON Schema describes the body
    content: Mapping[str, Any]
    #: response header → what it holds
    headers: Mapping[str, str] = field(default_factory=dict)
    #: media type of a streamed body (NDJSON, SSE) → the type of each of its items; OpenAPI
    #: 3.1 has no word for it (3.2's `itemSchema`), so it is given as `x-itemSchema`
    items: Mapping[str, Any] = field(default_factory=dict)


def json_answer(
    body: Any, description: str, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> Answer:
    """An `application/json` answer whose body is a `body`."""
    return Answer(
        status=status, description=description, content={JSON: body}, headers=headers or {}
    )


@dataclass(frozen=True, kw_only=True)
class Header:
    """A request header an operation reads."""

    name: str
    description: str
    schema: Any = str


@dataclass(frozen=True, kw_only=True)
class Operation:
    """One operation's contract; its summary and description are the handler's docstring."""

    tag: str
    answers: Sequence[Answer]
    #: the request body's type (a model of `api.schemas`); None: the operation reads none
    body: Any = None
    body_required: bool = True
    query: Sequence[Query] = ()
    headers: Sequence[Header] = ()
    #: refusals the view itself makes, beyond those every operation of its kind can make
    refusals: Sequence[Refusal] = ()

    def __call__(self, view: F) -> F:
        """Declare this as the contract of `view` (used as a decorator)."""
        view.__baton_operation__ = self  # type: ignore[attr-defined]
        return view


def operation_of(view: Callable[..., Any]) -> Operation | None:
    """The contract a view declares, or None."""
    found = getattr(view, "__baton_operation__", None)
    return found if isinstance(found, Operation) else None
