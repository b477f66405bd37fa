"""The OpenAPI 3 description, derived from the route table so it cannot drift from it."""
from __future__ import annotations

import re
from typing import Iterable

from pydantic import BaseModel

ERROR_SCHEMA = {
    "type": "object", "required": ["error"],
    "properties": {"error": {
        "type": "object", "required": ["code", "message", "details"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "details": {"type": "array", "items": {"type": "object"}}}}},
}

ERROR_STATUSES = {"400": "Unreadable request", "401": "No valid token", "403": "Not allowed",
                  "404": "Not found", "409": "Conflict", "413": "Too large",
                  "422": "Invalid field",
                  "503": "Sign-in cannot be checked now: the identity provider is unreachable"}


def _hoist(schema: dict, components: dict) -> dict:
    """Move pydantic's $defs into components/schemas."""
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    return schema


def describe(specs, title: str = "Relais API", version: str = "1.0.0",
             switched_off: Iterable[str] = ()) -> dict:
    """The document for `specs`, leaving out the routes of modules in `switched_off`."""
    components: dict = {"Error": ERROR_SCHEMA}
    paths: dict = {}
    switched_off = set(switched_off)
    for spec in specs:
        if getattr(spec, "module", None) in switched_off:
            continue
        operation: dict = {
            "operationId": f"{spec.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', spec.path.lower()).strip('_') or 'root'}",
            "summary": spec.summary,
            "tags": [spec.tag],
            "responses": {str(spec.status): {"description": "Success", "content": {
                spec.content_types[0]: {"schema": {}}}}},
        }
        statuses = dict(ERROR_STATUSES)
        if not spec.auth:
            operation["security"] = []
            for status in ("401", "403", "503"):
                statuses.pop(status)
        for status, text in statuses.items():
            operation["responses"][status] = {"description": text, "content": {
                spec.content_types[0]: {"schema": {"$ref": "#/components/schemas/Error"}}}}
        parameters = [{"name": name, "in": "path", "required": True,
                       "schema": {"type": "string", "maxLength": 200}}
                      for name in re.findall(r"{(\w+)}", spec.path)]
        for query in spec.query:
            schema: dict = {"type": query.kind}
            if query.minimum is not None:
                schema["minimum"] = query.minimum
            if query.maximum is not None:
                schema["maximum"] = query.maximum
            parameters.append({"name": query.name, "in": "query", "required": False,
                               "description": query.description, "schema": schema})
        if parameters:
            operation["parameters"] = parameters
        if spec.body is not None:
            if isinstance(spec.body, type) and issubclass(spec.body, BaseModel):
                name = spec.body.__name__
                components[name] = _hoist(spec.body.model_json_schema(
                    ref_template="#/components/schemas/{model}"), components)
                body_schema = {"$ref": f"#/components/schemas/{name}"}
            else:
                body_schema = spec.body
            operation["requestBody"] = {"required": True, "content": {
                spec.content_types[0]: {"schema": body_schema}}}
        paths.setdefault(spec.path, {})[spec.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version,
                 "description": "Relais relays questions to the colleagues most likely to "
                                "answer them, and keeps the expertise directory."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
        "security": [{"bearer": []}],
    }
