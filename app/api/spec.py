"""Operations: each API view is declared with its request and response models, and the
OpenAPI 3.1 document is built from those declarations (pydantic's JSON Schema is 2020-12,
which OpenAPI 3.1 uses as it is). The decorator is also what parses and validates: a body
or query the document allows is exactly one the view receives.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from http import HTTPStatus

from flask import Response, request
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from app.api import idempotency
from app.api.problems import PROBLEM_TYPE, ApiProblem, field_error
from app.api.schemas import Problem
from app.orm import MAX_INT

JSON = "application/json"
# Answers every operation may give, besides its own.
COMMON_ERRORS = (400, 401, 404, 405, 406, 422, 429, 500)
WRITE_ERRORS = (409, 412, 415, 422)


@dataclass
class Operation:
    method: str
    rule: str
    endpoint: str
    summary: str
    tag: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    errors: tuple[int, ...]
    description: str = ""
    etag: bool = False
    path_params: list[str] = field(default_factory=list)


OPERATIONS: list[Operation] = []


def validation_problem(exc: ValidationError, where: str = "") -> ApiProblem:
    errors = []
    for e in exc.errors(include_url=False, include_input=False):
        path = ".".join(str(p) for p in e["loc"]) or where or "body"
        message = e["msg"]
        if e["type"] == "extra_forbidden":
            message = "Unknown field: this API does not take it."
        errors.append(field_error(path, message.removeprefix("Value error, ")))
    return ApiProblem(422, "Some fields are not valid.", errors=errors)


def _parse_body(model: type[BaseModel]):
    if request.mimetype != JSON:
        raise ApiProblem(415, "Send the body as application/json.")
    data = request.get_json(silent=True)
    if data is None:
        raise ApiProblem(400, "The body is not valid JSON.", code="invalid_json")
    if not isinstance(data, dict):
        raise ApiProblem(
            422,
            "The body must be a JSON object.",
            errors=[field_error("body", "Expected an object.")],
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_problem(exc) from None


def _parse_query(model: type[BaseModel]):
    values = {}
    for key in request.args:
        got = request.args.getlist(key)
        if len(got) > 1:
            raise ApiProblem(
                422, "Give each query parameter once.", errors=[field_error(key, "Repeated.")]
            )
        values[key] = got[0]
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise validation_problem(exc) from None


def json_response(payload, status: int = 200, headers: dict | None = None) -> Response:
    if isinstance(payload, BaseModel):
        body = payload.model_dump_json()
    else:
        from flask import json

        body = json.dumps(payload)
    response = Response(body, status=status, mimetype=JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def operation(
    bp,
    method: str,
    rule: str,
    *,
    summary: str,
    tag: str,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    errors: tuple[int, ...] = (),
    etag: bool = False,
):
    """Register `view` at /api/v1`rule`. The view gets the path values, `body` and `query`
    (validated models) and returns a model (answered with `status`) or a Response."""

    def decorate(view):
        endpoint = view.__name__
        writes = method in ("POST", "PATCH")
        op_errors = tuple(
            sorted(set(COMMON_ERRORS) | set(errors) | (set(WRITE_ERRORS) if writes else set()))
        )

        @functools.wraps(view)
        def handle(**path):
            kwargs = dict(path)
            if query is not None:
                kwargs["query"] = _parse_query(query)
            elif request.args:
                unknown = sorted(request.args)[0]
                raise ApiProblem(
                    422,
                    "This operation takes no query parameters.",
                    errors=[field_error(unknown, "Unknown parameter.")],
                )
            if writes:
                return idempotency.run(lambda: _call(view, kwargs, body, status))
            return _call(view, kwargs, body, status)

        bp.add_url_rule("/v1" + rule, endpoint, handle, methods=[method])
        OPERATIONS.append(
            Operation(
                method=method,
                rule=rule,
                endpoint=endpoint,
                summary=summary,
                tag=tag,
                body=body,
                query=query,
                response=response,
                status=status,
                errors=op_errors,
                description=(view.__doc__ or "").strip(),
                etag=etag,
                path_params=re.findall(r"<int:(\w+)>", rule),
            )
        )
        return handle

    return decorate


def _call(view, kwargs, body, status):
    if body is not None:
        kwargs["body"] = _parse_body(body)
    result = view(**kwargs)
    if isinstance(result, Response):
        return result
    headers = {}
    if isinstance(result, tuple):
        result, headers = result
    return json_response(result, status, headers)


# -- the document ---------------------------------------------------------------------------


def _ref(model: type[BaseModel]) -> dict:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _query_parameters(model: type[BaseModel], defs: dict) -> list[dict]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs.update(schema.get("$defs", {}))
    return [
        {"name": name, "in": "query", "required": False, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def document(server_url: str = "/") -> dict:
    models = set()
    for op in OPERATIONS:
        for m in (op.body, op.response):
            if m is not None:
                models.add(m)
    models.add(Problem)
    ordered = sorted(models, key=lambda m: m.__name__)
    _, top = models_json_schema(
        [
            (m, "validation" if any(op.body is m for op in OPERATIONS) else "serialization")
            for m in ordered
        ],
        ref_template="#/components/schemas/{model}",
    )
    schemas = dict(top.get("$defs", {}))
    paths: dict = {}
    for op in OPERATIONS:
        path = "/api/v1" + re.sub(r"<int:(\w+)>", r"{\1}", op.rule)
        paths.setdefault(path, {})[op.method.lower()] = _operation(op, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Closeloop API",
            "version": "1.0.0",
            "description": (
                "Drive Closeloop from an ATS. Authenticate with `Authorization: Bearer <token>` "
                "(a token from your profile's API tokens page or `flask users token EMAIL`). "
                "Errors are RFC 9457 problem details. Their `title` and `detail` are English "
                "by design, whatever Accept-Language says: this is a machine contract, and "
                "they are written for the developer reading a log and may be reworded. Map "
                "the stable `code` instead (listed under the Problem schema; codes are only "
                "ever added). Every POST and PATCH takes an `Idempotency-Key`."
            ),
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": paths,
    }


def _operation(op: Operation, schemas: dict) -> dict:
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_INT},
        }
        for name in op.path_params
    ]
    if op.query is not None:
        parameters += _query_parameters(op.query, schemas)
    if op.method in ("POST", "PATCH"):
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "A retry with the same key gets the first answer (24 hours).",
                "schema": {"type": "string", "minLength": 1, "maxLength": 200},
            }
        )
    if op.etag and op.method == "PATCH":
        parameters.append(
            {
                "name": "If-Match",
                "in": "header",
                "required": False,
                "description": "The ETag last read: 412 if the record changed since.",
                "schema": {"type": "string", "maxLength": 200},
            }
        )
    responses: dict = {}
    ok = {"description": HTTPStatus(op.status).phrase}
    if op.response is not None:
        ok["content"] = {JSON: {"schema": _ref(op.response)}}
    if op.etag:
        ok["headers"] = {"ETag": {"schema": {"type": "string"}}}
    responses[str(op.status)] = ok
    for code in op.errors:
        responses[str(code)] = {
            "description": HTTPStatus(code).phrase,
            "content": {PROBLEM_TYPE: {"schema": _ref(Problem)}},
        }
    out = {
        "operationId": op.endpoint,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": parameters,
        "responses": responses,
    }
    if op.description:
        out["description"] = op.description
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": {JSON: {"schema": _ref(op.body)}}}
    return out
