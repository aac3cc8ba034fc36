"""API errors of the emulated Kubernetes API server, rendered as `Status` objects.

Every failure the handlers raise ends up here: the HTTP layer turns an `ApiError` into the
JSON body (`kind: Status`) and status code a real kube-apiserver answers with, so clients
(kubectl, kubernetes-asyncio) take the same error paths they take against a real cluster.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class StatusReason(StrEnum):
    """The `reason` field of a failed `Status`, as the real API server spells it."""

    BAD_REQUEST = "BadRequest"
    NOT_FOUND = "NotFound"
    ALREADY_EXISTS = "AlreadyExists"
    CONFLICT = "Conflict"
    INVALID = "Invalid"
    GONE = "Gone"
    EXPIRED = "Expired"
    METHOD_NOT_ALLOWED = "MethodNotAllowed"
    NOT_ACCEPTABLE = "NotAcceptable"
    UNSUPPORTED_MEDIA_TYPE = "UnsupportedMediaType"
    TOO_MANY_REQUESTS = "TooManyRequests"
    INTERNAL_ERROR = "InternalError"
    SERVICE_UNAVAILABLE = "ServiceUnavailable"
    FORBIDDEN = "Forbidden"

    @property
    def is_retryable(self) -> bool:
        """Whether a well-behaved client retries after this reason."""
        return self in (
            StatusReason.TOO_MANY_REQUESTS,
            StatusReason.INTERNAL_ERROR,
            StatusReason.SERVICE_UNAVAILABLE,
        )


class ApiError(Exception):
    """A failed API call: HTTP code, reason, message and optional details."""

    def __init__(
        self,
        code: int,
        reason: StatusReason,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        """The `Status` object a real API server sends as the body."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": str(self.reason),
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def qualified(group: str, plural: str) -> str:
    """`deployments.apps` or `configmaps`: how messages name a resource."""
    return f"{plural}.{group}" if group else plural


def _details(group: str, plural: str, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": plural}
    if group:
        details["group"] = group
    return details


def not_found(group: str, plural: str, name: str) -> ApiError:
    """404 for an object (or a namespace) that does not exist."""
    return ApiError(
        404,
        StatusReason.NOT_FOUND,
        f'{qualified(group, plural)} "{name}" not found',
        details=_details(group, plural, name),
    )


def already_exists(group: str, plural: str, name: str) -> ApiError:
    """409 for a create whose name is taken."""
    return ApiError(
        409,
        StatusReason.ALREADY_EXISTS,
        f'{qualified(group, plural)} "{name}" already exists',
        details=_details(group, plural, name),
    )


def stale_version(group: str, plural: str, name: str) -> ApiError:
    """409 for an update that carried an outdated resourceVersion."""
    return ApiError(
        409,
        StatusReason.CONFLICT,
        f'Operation cannot be fulfilled on {qualified(group, plural)} "{name}": the object '
        "has been modified; please apply your changes to the latest version and try again",
        details=_details(group, plural, name),
    )


def invalid(kind: str, name: str, field: str, detail: str, group: str = "") -> ApiError:
    """422 for a request body that fails validation."""
    details: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "causes": [{"reason": "FieldValueInvalid", "message": detail, "field": field}],
    }
    if group:
        details["group"] = group
    return ApiError(
        422,
        StatusReason.INVALID,
        f'{kind} "{name}" is invalid: {field}: {detail}',
        details=details,
    )


def bad_request(message: str) -> ApiError:
    """400 for a request the server cannot make sense of."""
    return ApiError(400, StatusReason.BAD_REQUEST, message)


def expired(message: str) -> ApiError:
    """410 for a resourceVersion or continue token older than the retained history."""
    return ApiError(410, StatusReason.EXPIRED, message)
