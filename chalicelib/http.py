"""The HTTP edge: one decorator that authenticates, bounds and parses the request, maps
errors to JSON bodies, and records each route for the OpenAPI description."""
from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from chalice import Chalice, Response
from pydantic import BaseModel

from .auth import Caller
from .errors import (BadRequest, InternalError, MethodNotAllowed, NotFound, PayloadTooLarge,
                     RelaisError, UnsupportedMediaType, ValidationError, field_error)
from .schemas import parse

log = logging.getLogger("relais.http")

JSON_TYPES = ["application/json"]


@dataclass
class Query:
    """A query parameter a route accepts."""

    name: str
    kind: str = "string"  # string | integer | boolean
    description: str = ""
    minimum: int | None = None
    maximum: int | None = None


def error_response(error: RelaisError) -> Response:
    return Response(body=error.to_body(), status_code=error.status,
                    headers={"Content-Type": "application/json"})


@dataclass
class RouteSpec:
    path: str
    method: str
    summary: str
    tag: str
    auth: bool
    body: type[BaseModel] | dict | None
    query: list[Query]
    status: int
    content_types: list[str] = field(default_factory=lambda: list(JSON_TYPES))
    module: str | None = None  # a switchable module (services/modules.py); None: always on
    on_error: Callable[[RelaisError], Response] = error_response  # SCIM's on /scim


def chalice_error(code: str, message: str, request, response: Response,
                  content_types: list[str]) -> RelaisError | None:
    """The Relais error for one Chalice answers by itself (None: not one of those)."""
    if code == "MethodNotAllowedError":
        allowed = response.headers.get("Allow", "")
        return MethodNotAllowed(f"{request.method} is not allowed here (allowed: {allowed})",
                                [{"field": "method", "message": f"allowed: {allowed}"}])
    if code == "UnsupportedMediaType":
        sent = (request.headers or {}).get("content-type", "")
        return UnsupportedMediaType(
            f"the body must be sent as {' or '.join(content_types)}, not {sent}",
            [{"field": "Content-Type", "message": f"unsupported: {sent}"}])
    if code == "BadRequest":  # a binary response the Accept header does not take
        return BadRequest(message, [{"field": "Accept", "message": message}])
    if response.status_code >= 500:
        return InternalError("internal error")
    return None


class RouteTable:
    """Registers Chalice routes through one wrapper and remembers them for /openapi.json."""

    def __init__(self, app: Chalice, identify: Callable[[Any], Caller],
                 max_body_bytes: Callable[[], int],
                 module_on: Callable[[str], bool] = lambda module: True):
        self.app = app
        self.identify = identify
        self.max_body_bytes = max_body_bytes
        self.module_on = module_on
        self.specs: list[RouteSpec] = []
        self.specs_by_path: dict[str, dict[str, RouteSpec]] = {}
        app.register_middleware(self.own_error_shape, "http")

    def own_error_shape(self, request, get_response) -> Response:
        """Chalice answers some requests before any view runs (a method the path does not
        have, a content type the route does not read) in a shape of its own; they are given
        the path's error shape (Relais's, or SCIM's on /scim), like every other error."""
        response = get_response(request)
        body = response.body
        if not (isinstance(body, dict) and set(body) == {"Code", "Message"}):
            return response
        specs = self.specs_by_path.get((request.context or {}).get("resourcePath", ""), {})
        spec = specs.get(request.method) or next(iter(specs.values()), None)
        error = chalice_error(body["Code"], body["Message"], request, response,
                              spec.content_types if spec else JSON_TYPES)
        if error is None:
            return response
        shaped = (spec.on_error if spec else error_response)(error)
        for name, value in response.headers.items():  # Allow, and the CORS headers
            if name.lower() != "content-type":
                shaped.headers[name] = value
        return shaped

    def route(self, path: str, method: str = "GET", *, summary: str, tag: str, auth: bool = True,
              body: type[BaseModel] | dict | None = None, query: list[Query] | None = None,
              status: int = 200, content_types: list[str] | None = None,
              on_error: Callable[[RelaisError], Response] = error_response,
              module: str | None = None):
        """Decorate a view `fn(request_context, **url_params)`.

        The view receives a `Call` with the caller, parsed body and query parameters, and
        returns a dict/list (sent as JSON with `status`) or a chalice Response. A route of a
        `module` that is switched off answers 404, before anything else is looked at.
        """
        spec = RouteSpec(path, method, summary, tag, auth, body, query or [], status,
                         content_types or list(JSON_TYPES), module, on_error)
        self.specs.append(spec)
        self.specs_by_path.setdefault(path, {})[method] = spec

        def decorator(fn):
            @functools.wraps(fn)
            def view(**params):
                request = self.app.current_request
                try:
                    if spec.module and not self.module_on(spec.module):
                        raise NotFound(f"not found (the {spec.module} module is switched off)")
                    call = Call(request, spec, self, params)
                    result = fn(call, **params)
                except RelaisError as err:
                    return on_error(err)
                except Exception:  # a bug, not bad input: log it, never leak a trace
                    log.exception("unhandled error on %s %s", method, path)
                    return on_error(InternalError("internal error"))
                if isinstance(result, Response):
                    return result
                return Response(body=result, status_code=spec.status,
                                headers={"Content-Type": spec.content_types[0]})

            self.app.route(path, methods=[method], content_types=spec.content_types,
                           cors=True)(view)
            return fn

        return decorator


class Call:
    """One request as a view sees it."""

    def __init__(self, request, spec: RouteSpec, table: RouteTable, params: dict):
        self.request = request
        self.spec = spec
        raw = request.raw_body or b""
        if len(raw) > table.max_body_bytes():
            raise PayloadTooLarge(f"the body is over {table.max_body_bytes()} bytes")
        self.caller: Caller | None = table.identify(request) if spec.auth else None
        self.query = self._read_query(request.query_params or {})
        self.raw_body = raw
        self.json = None
        if spec.body is not None:
            self.json = self._read_json(raw)
        self.body = parse(spec.body, self.json) if isinstance(spec.body, type) else self.json

    @staticmethod
    def _read_json(raw: bytes):
        if not raw.strip():
            raise BadRequest("a JSON body is required", [{"field": "body", "message": "missing"}])
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"the body is not valid JSON: {exc}",
                             [{"field": "body", "message": "invalid JSON"}]) from None
        except RecursionError:
            raise BadRequest("the body is nested too deeply",
                             [{"field": "body", "message": "nested too deeply"}]) from None

    def _read_query(self, raw: dict) -> dict:
        known = {q.name: q for q in self.spec.query}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise ValidationError(f"unknown query parameter {unknown[0]!r}",
                                  [{"field": name, "message": "unknown query parameter"}
                                   for name in unknown])
        values: dict[str, Any] = {}
        for name, value in raw.items():
            spec = known[name]
            if len(value) > 1000:
                raise field_error(name, "at most 1000 characters")
            if spec.kind == "integer":
                try:
                    number = int(value)
                except ValueError:
                    raise field_error(name, "must be an integer") from None
                if (spec.minimum is not None and number < spec.minimum) or (
                        spec.maximum is not None and number > spec.maximum):
                    raise field_error(name, f"must be between {spec.minimum} and {spec.maximum}")
                values[name] = number
            elif spec.kind == "boolean":
                if value.lower() not in ("true", "false", "1", "0"):
                    raise field_error(name, "must be true or false")
                values[name] = value.lower() in ("true", "1")
            else:
                values[name] = value
        return values


PAGING = [Query("limit", "integer", "Page size (1-100, default 20).", 1, 100),
          Query("cursor", "string", "The `next_cursor` of the previous page.")]


def page_body(page, render) -> dict:
    return {"items": [render(item) for item in page.items], "next_cursor": page.next_cursor,
            "total": page.total}
