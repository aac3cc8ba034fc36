"""Request bodies: pydantic models that reject unknown fields, and the reader that uses them.

Where it sits: the first thing a write view does. A body that is not JSON (`api.bodies`),
not an object, has a wrong type, a missing or an unknown field, or text the event log
cannot hold (NUL, lone surrogates: the store's own check) is answered with a 4xx problem
naming the offending field(s). The OpenAPI document takes its request schemas from these
models (pydantic's JSON Schema), so they are the one definition of what a body may hold.
"""

from __future__ import annotations

from typing import Annotated, Any, Self, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from api.bodies import read_json
from api.errors import Problem, Refusal
from engine.patterns import message, pattern
from engine.store.types import dotted, find_unstorable

NAME_PATTERN = pattern(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$",
    "a name of letters, digits, '_', '.' and '-' (at most 100, starting with a letter or digit)",
)
SHA_PATTERN = pattern(
    r"^[0-9a-f]{7,64}$", "a commit SHA or a prefix of it (7 to 64 lowercase hex digits)"
)

NOT_BLANK = pattern(r"\S", "more than blanks")

Name = Annotated[str, Field(pattern=NAME_PATTERN, description="an app or environment name")]
Sha = Annotated[str, Field(pattern=SHA_PATTERN, description="a commit SHA or a unique prefix")]
Text = Annotated[str, Field(max_length=1000)]

M = TypeVar("M", bound=BaseModel)
#: what `read_body` answers for a body its model refuses
INVALID_BODY = Refusal(
    422,
    "a field is not valid, or holds text that cannot be stored (NUL, a lone surrogate); "
    "see `field` and `errors`",
)


class Body(BaseModel):
    """Every body: unknown fields are errors, strings are not coerced from numbers."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class OverrideBody(Body):
    """An admin's override of pipeline order or a freeze window."""

    reason: Annotated[str, Field(min_length=1, max_length=1000, pattern=NOT_BLANK)]


class PromotionCreate(Body):
    """POST /promotions."""

    app: Name
    environment: Name
    release: Sha | None = None
    from_environment: Name | None = None
    reason: Text = ""
    override: OverrideBody | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.release is None) == (self.from_environment is None):
            raise ValueError("give exactly one of release and from_environment")
        return self


class ApprovalBody(Body):
    """POST /promotions/{id}/approve."""

    comment: Text = ""


class DecisionBody(Body):
    """POST /promotions/{id}/reject and /cancel."""

    reason: Text = ""


class RollbackCreate(Body):
    """POST /rollbacks; without a release, the last verified one before the current."""

    app: Name
    environment: Name
    release: Sha | None = None
    reason: Text = ""


class HealthExplain(Body):
    """POST /health/explain: the objects to explain, as the cluster returns them."""

    objects: Annotated[
        list[dict[str, Any]],
        Field(max_length=1000, description="Kubernetes objects (a `kind: List` is expanded)"),
    ]


class ReplayCreate(Body):
    """POST /admin/replay; without names, every projection."""

    projections: Annotated[list[Name], Field(max_length=50)] | None = None


def _field(loc: tuple[int | str, ...]) -> str:
    return dotted(loc) or "body"


def _unstorable(data: dict[str, Any]) -> Problem | None:
    """422 naming the first field whose text the event log could not hold."""
    found = find_unstorable(data)
    if found is None:
        return None
    field = _field(found[0])
    return Problem(
        422,
        "validation-error",
        "The body holds text that cannot be stored",
        detail=f"{field}: {found[1]}",
        field=field,
        errors=[{"field": field, "message": found[1]}],
    )


async def read_body(request: web.Request, model: type[M]) -> M:
    """Parse and validate the JSON body as `model` (an empty body is `{}`)."""
    return validate_body(await read_json(request), model)


def validate_body(data: Any, model: type[M]) -> M:
    """`data` validated as `model` (as a JSON body or the console's form); 422 naming the
    field at fault."""
    if not isinstance(data, dict):
        raise Problem(
            422,
            "validation-error",
            "The body must be a JSON object",
            field="body",
            errors=[{"field": "body", "message": "expected an object"}],
        )
    problem = _unstorable(data)
    if problem is not None:
        raise problem
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            {"field": _field(e["loc"]), "message": message(e)}
            for e in exc.errors(include_url=False)
        ]
        raise Problem(
            422,
            "validation-error",
            "The body is not valid",
            detail="; ".join(f"{p['field']}: {p['message']}" for p in problems),
            field=problems[0]["field"] if problems else "body",
            errors=problems,
        ) from None
