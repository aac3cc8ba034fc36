"""What a validated text field may look like, in words as well as in a regular expression.

Where it sits: under every pydantic model that constrains a string by a pattern (the
environments file's models, the API's bodies). pydantic's own message for a mismatch
quotes the regular expression; a person reading a CLI line, a problem+json answer or a
config check wants the rule in words, so each pattern is declared with its meaning
(`pattern`) and errors are worded by `message`.
"""

from __future__ import annotations

from typing import Any

#: regular expression -> what it asks for, as the end of "must be ..."
_MEANINGS: dict[str, str] = {}


def pattern(regex: str, meaning: str) -> str:
    """`regex`, remembered with its meaning (for `Field(pattern=pattern(...))`)."""
    _MEANINGS[regex] = meaning
    return regex


def message(error: Any) -> str:
    """One pydantic error (an item of `ValidationError.errors()`) as a person reads it."""
    if error.get("type") == "string_pattern_mismatch":
        meaning = _MEANINGS.get((error.get("ctx") or {}).get("pattern", ""))
        return f"must be {meaning}" if meaning else "is not in a form baton accepts"
    if error.get("type") == "extra_forbidden":
        return "unknown key"
    if error.get("type") == "missing":
        return "is required"
    return str(error.get("msg", "is not valid")).removeprefix("Value error, ")
