"""The API's routes as data, and the OpenAPI document made from them.

Every `/api/` route is declared once with `Api.route`: its method, path,
who may call it, what body it takes and what it answers, as pydantic models.
The router is built from the declarations and so is `/api/openapi.json`, so
the document cannot drift from the code. The declarations are also what the
permission tests walk: a route added without a test of who may call it fails
them.

Every JSON body is read here (`read_json`, and `parse` on top of it), by
anyone, signed in or not: its size and its nesting are bounded before the
decoder sees it, since Python's decoder recurses once per level and a few KB
of brackets would make it raise (a 500) instead of answering a 400. Text with
a NUL is refused too: PostgreSQL's text cannot hold one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from ivr.errors import DataError, explain

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)
REF = "#/components/schemas/{model}"
JSON_BODY_MAX = 256 * 1024  # a whole department's menu is about 40 KB
# The deepest nesting of arrays and objects a body may have; a menu draft,
# the deepest real body, nests 5 levels.
JSON_DEPTH_MAX = 32
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"\[\]|\{\}")
# The error answers an operation may give, each an ErrorOut. Every operation
# may answer 400, 401 (unless public) and 403; one whose path names a thing
# (a call, a case, a scope) 404; the others only those it declares (`errors`).
ERRORS = {
    400: "Bad input",
    401: "Not signed in",
    403: "Not allowed",
    404: "No such thing, or none the user may see",
    409: "In conflict with what is there now",
    410: "Gone: removed under the retention rules",
    413: "Too large",
    422: "The menu does not validate: details.problems says why",
    429: "Too many attempts: wait, then try again",
    502: "Asterisk refused or failed the request behind this one",
    503: "No Asterisk is connected: try again soon",
}
_RETRY_AFTER = {"description": "seconds until one more is allowed", "schema": {"type": "integer"}}


class ErrorOut(BaseModel):
    """Every error: a stable id, a sentence a person reads, and details."""

    error_id: str
    message: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    many: bool = False  # the response is a list of `response`
    media: str = "application/json"  # of a response that is not a model
    status: int = 200
    public: bool = False  # no sign-in needed
    parameters: tuple[tuple[str, str], ...] = ()  # (query parameter, description)
    limited: bool = False  # per-user rate limit: 429 with Retry-After (ivr/admin/limits.py)
    errors: tuple[int, ...] = ()  # error answers beyond those every operation gives
    also: tuple[int, ...] = ()  # other statuses answering the same body (health: 503)


@dataclass
class Api:
    title: str
    version: str
    endpoints: list[Endpoint] = field(default_factory=list)

    def route(
        self, method: str, path: str, summary: str, tag: str, **options: Any
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.endpoints.append(Endpoint(method, path, handler, summary, tag, **options))
            return handler

        return register

    def add_to(self, app: web.Application) -> None:
        for endpoint in self.endpoints:
            app.router.add_route(endpoint.method, endpoint.path, endpoint.handler)

    def find(self, method: str, path: str) -> Endpoint | None:
        for endpoint in self.endpoints:
            if endpoint.method == method and endpoint.path == path:
                return endpoint
        return None

    def document(self) -> dict[str, Any]:
        models = {e.body for e in self.endpoints if e.body} | {
            e.response for e in self.endpoints if e.response
        }
        models.add(ErrorOut)
        bodies = {e.body for e in self.endpoints if e.body}
        keys: list[tuple[type[BaseModel], JsonSchemaMode]] = [
            (m, "validation" if m in bodies else "serialization") for m in models
        ]
        found, schemas = models_json_schema(
            sorted(keys, key=lambda k: k[0].__name__), ref_template=REF
        )
        refs = {model: schema for (model, _), schema in found.items()}
        paths: dict[str, dict[str, Any]] = {}
        for endpoint in self.endpoints:
            operation = _operation(endpoint, refs)
            paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version},
            "paths": paths,
            "components": {
                "schemas": schemas.get("$defs", {}),
                "securitySchemes": {
                    "session": {"type": "apiKey", "in": "cookie", "name": "ivr_session"},
                    "token": {"type": "http", "scheme": "bearer"},
                },
            },
            "security": [{"session": []}, {"token": []}],
        }


def _operation(endpoint: Endpoint, refs: dict[Any, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    if endpoint.response is not None:
        schema = refs[endpoint.response]
        if endpoint.many:
            schema = {"type": "array", "items": schema}
        # A stream of events (text/event-stream) is described by one event's data.
        answer = {"description": "OK", "content": {endpoint.media: {"schema": schema}}}
        responses[str(endpoint.status)] = answer
        for status in endpoint.also:
            responses[str(status)] = {**answer, "description": "The same body, with this status"}
    elif endpoint.status == 204:
        responses["204"] = {"description": "Done, nothing to say"}
    else:
        # A file (audio, a spreadsheet), or a JSON document of its own (this one).
        json_doc = endpoint.media == "application/json"
        schema = {"type": "object"} if json_doc else {"type": "string", "format": "binary"}
        responses[str(endpoint.status)] = {
            "description": "OK",
            "content": {endpoint.media: {"schema": schema}},
        }
    for status in _error_statuses(endpoint):
        responses[str(status)] = {"description": ERRORS[status], **_ERROR_CONTENT}
    if endpoint.limited:
        responses["429"] = {
            "description": "Too many of these for this user just now",
            **_ERROR_CONTENT,
        }
    if "429" in responses:
        # Every 429 of this API says when to try again (ivr/admin/limits.py).
        responses["429"]["headers"] = {"Retry-After": _RETRY_AFTER}
    operation: dict[str, Any] = {
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "operationId": f"{endpoint.method.lower()}_{endpoint.handler.__name__}",
        "responses": responses,
    }
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _path_names(endpoint.path)
    ]
    parameters += [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": text,
            "schema": {"type": "string"},
        }
        for name, text in endpoint.parameters
    ]
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not None:
        body_schema = refs[endpoint.body]
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body_schema}},
        }
    if endpoint.public:
        operation["security"] = []
    return operation


_ERROR_CONTENT = {
    "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorOut")}}}
}


def _error_statuses(endpoint: Endpoint) -> list[int]:
    statuses = {400, 403, *endpoint.errors}
    if not endpoint.public:
        statuses.add(401)
    if _path_names(endpoint.path):
        statuses.add(404)
    return sorted(statuses)


def _path_names(path: str) -> list[str]:
    names = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            names.append(part[1:-1].split(":")[0])
    return names


async def read_json(request: web.Request) -> Any:
    """The JSON body (an empty one is `{}`); a DataError if it is too large,
    too deeply nested, or not JSON."""
    if request.content_length is not None and request.content_length > JSON_BODY_MAX:
        raise DataError(f"the body is larger than {JSON_BODY_MAX // 1024} KB")
    raw = await request.read()
    if len(raw) > JSON_BODY_MAX:
        raise DataError(f"the body is larger than {JSON_BODY_MAX // 1024} KB")
    try:
        text = raw.decode("utf-8") or "{}"
        if not _nested_within(text, JSON_DEPTH_MAX):
            raise ValueError("nested too deeply")
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise DataError(
            f"the body must be JSON (UTF-8), nested at most {JSON_DEPTH_MAX} deep"
        ) from None
    if _holds_nul(data):
        raise DataError("no text of the body may hold a NUL character (\\u0000)")
    return data


def _holds_nul(value: Any) -> bool:
    """Whether a NUL is in any text of `value` (keys too): PostgreSQL's text
    cannot hold one. Recursive: `value` nests at most JSON_DEPTH_MAX deep."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _nested_within(text: str, depth: int) -> bool:
    """Whether the arrays and objects of `text` nest at most `depth` deep,
    found without recursion: the strings taken out, then the innermost pairs
    of brackets, once per level. Unbalanced brackets are no JSON: False."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    for _ in range(depth):
        if not brackets:
            return True
        brackets = _INNERMOST.sub("", brackets)
    return not brackets


async def parse(request: web.Request, model: type[M]) -> M:
    """The JSON body as `model`; a DataError naming each bad field otherwise."""
    data = await read_json(request)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise DataError(explain(exc), errors=_errors(exc)) from None


def whole_number(text: str, what: str, field: str) -> int:
    """`what` (a version's number, an escalation's id) from a path or query:
    a whole number from 1."""
    # isascii: "³".isdigit() is true, and int("³") raises.
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 10**9:
        raise DataError(f"{what} is a whole number from 1, not {text!r}", field=field)
    return int(text)


def version_number(text: str, field: str = "number") -> int:
    return whole_number(text, "a version number", field)


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """The query parameter `name`: a whole number from `low` to `high`, `default` if absent."""
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise DataError(f"{name} must be a whole number, not {raw!r}", parameter=name) from None
    if not low <= value <= high:
        raise DataError(f"{name} must be between {low} and {high}", parameter=name)
    return value


def bool_param(request: web.Request, name: str) -> bool:
    """The query parameter `name`: true (1, true, yes) or false (absent, empty, 0, false, no)."""
    raw = request.query.get(name)
    if raw in (None, "", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise DataError(f"{name} is true or false, not {raw!r}", parameter=name)


def _errors(exc: ValidationError) -> list[dict[str, str]]:
    return [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()[:20]]
