"""Errors of Relais. Each maps to one HTTP status and one stable code."""
from __future__ import annotations


class RelaisError(Exception):
    """Base of every error Relais reports to a client."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []

    def to_body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(RelaisError):
    """The request could not be read (malformed JSON, wrong content type)."""


class ValidationError(RelaisError):
    """The request was read but a field is missing, unknown or invalid."""

    status = 422
    code = "validation_error"


class Unauthorized(RelaisError):
    """No valid bearer token."""

    status = 401
    code = "unauthorized"


class Forbidden(RelaisError):
    """The caller is known but may not do this."""

    status = 403
    code = "forbidden"


class NotFound(RelaisError):
    """The record does not exist, or the caller may not know it exists."""

    status = 404
    code = "not_found"


class MethodNotAllowed(RelaisError):
    """The path exists, but not with this method."""

    status = 405
    code = "method_not_allowed"


class UnsupportedMediaType(RelaisError):
    """The body is in a content type the route does not read."""

    status = 415
    code = "unsupported_media_type"


class Conflict(RelaisError):
    """The record changed since the caller read it, or already exists."""

    status = 409
    code = "conflict"


class PayloadTooLarge(RelaisError):
    """The request body or a batch is over its limit."""

    status = 413
    code = "payload_too_large"


class TooManyRequests(RelaisError):
    """The caller sent too many requests; retry later."""

    status = 429
    code = "too_many_requests"


class ServiceUnavailable(RelaisError):
    """A service Relais depends on cannot be reached now; retry later."""

    status = 503
    code = "unavailable"


def field_error(field: str, message: str) -> ValidationError:
    """A validation error about one field, named in the details."""
    return ValidationError(f"{field}: {message}", [{"field": field, "message": message}])


class InternalError(RelaisError):
    """A fault of Relais itself; the details are logged, never sent."""

    status = 500
    code = "internal_error"
