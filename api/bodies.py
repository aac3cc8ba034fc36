"""Reading a JSON request body safely: its media type, its encoding and its nesting.

Where it sits: under `api.schemas.read_body` and the Git webhook, before any JSON parser
sees the bytes. A body that is not `application/json` is a 415, one that is not UTF-8 or
nests deeper than `MAX_DEPTH` a 400. The depth is found by one linear scan of the raw
bytes, so no parser ever recurses deeper than the limit, however deep the body.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any, NoReturn

from aiohttp import web

from api.errors import Problem, Refusal

#: objects and arrays nested deeper than this are refused (documented in the OpenAPI
#: document and the README); baton's own bodies nest two levels at most
MAX_DEPTH = 32
JSON = "application/json"
#: what reading any JSON body can answer
BODY_REFUSALS = (
    Refusal(
        400, f"the body is not UTF-8 JSON, or nests objects and arrays more than {MAX_DEPTH} deep"
    ),
    Refusal(413, "the body is too large"),
    Refusal(415, "the body is not `application/json` (see `field`: Content-Type)"),
)

# a JSON string, or the rest of the body after an unterminated one: possessive and
# alternation-free at each step, so one pass over any input takes linear time
_STRING = re.compile(rb'"(?:[^"\\]++|\\.?)*+(?:"|\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]++")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def nesting_depth(raw: bytes) -> int:
    """How deep objects and arrays nest in JSON text, without parsing it or recursing."""
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", raw))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def check_media_type(request: web.Request) -> None:
    """415 unless the request says its body is JSON."""
    if request.content_type != JSON:
        sent = request.headers.get("Content-Type", "none")
        raise Problem(
            415,
            "unsupported-media-type",
            "The body must be application/json",
            detail=f"Content-Type is {sent!r}; send the body as {JSON}",
            field="Content-Type",
        )


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(raw: bytes) -> Any:
    """The JSON value of `raw`: 400 for text that is not UTF-8, too deep, or not JSON."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(
            400,
            "invalid-utf8",
            "The body is not UTF-8",
            detail=f"byte {exc.start} ({raw[exc.start]:#04x}) does not start a UTF-8 character",
            field="body",
        ) from None
    depth = nesting_depth(raw)
    if depth > MAX_DEPTH:
        raise Problem(
            400,
            "too-deeply-nested",
            "The body nests too deeply",
            detail=f"objects and arrays nest {depth} levels deep; the limit is {MAX_DEPTH}",
            field="body",
            max_depth=MAX_DEPTH,
        )
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except ValueError as exc:
        raise Problem(
            400, "invalid-json", "The body is not valid JSON", detail=str(exc), field="body"
        ) from None


async def read_json(request: web.Request) -> Any:
    """The request's JSON body (`{}` when empty), checked as `parse_json` does."""
    raw = await request.read()
    if not raw.strip():
        return {}
    check_media_type(request)
    return parse_json(raw)
