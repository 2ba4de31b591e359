"""The API's description: an OpenAPI document with the error shape the server really sends,
and Swagger UI at /api/docs from package files (no CDN, no inline script: it renders under
the CSP in headers.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from teamtalk.errors import NotFound

DOCS_URL = "/api/docs"
PAGE_DIR = Path(__file__).parent / "swagger"
REF = "#/components/schemas/{model}"
SAFE_METHODS = frozenset({"get", "head", "options"})


class FieldError(BaseModel):
    field: str = Field(description="The field at fault, dotted for nested ones.")
    message: str
    type: str | None


class ErrorInfo(BaseModel):
    code: str = Field(description="Stable machine code, such as `not_found` or `invalid`.")
    message: str = Field(description="A sentence to show to people.")
    details: list[FieldError] | dict[str, Any] | None = Field(
        description="422: the fields at fault. 429 and 503: `retry_after` in seconds."
    )


class Error(BaseModel):
    """The body of every error response (errors.error_payload)."""

    error: ErrorInfo


# When each error applies: "all" API operations, those with path parameters, or those that
# change state (origin check, request bodies).
ERRORS: dict[str, tuple[str, str]] = {
    "401": ("all", "Not signed in, or the session has ended."),
    "403": ("all", "Not allowed for this user, or a cross-site request."),
    "404": ("path", "No such resource."),
    "409": ("change", "Conflicts with the current state."),
    "413": ("change", "The request body is too large."),
    "422": ("change", "The request is not valid; `details` names the fields."),
    "429": ("all", "Too many requests; see the Retry-After header."),
    "503": ("all", "The service is busy or a dependency is down; see Retry-After."),
}


def add_api_docs(api: FastAPI) -> None:
    """Describe errors in /api/openapi.json and serve the docs page; before the SPA route."""
    generate = api.openapi
    described: list[dict[str, Any]] = []  # FastAPI builds the document once; so do we

    def openapi() -> dict[str, Any]:
        if not described:
            described.append(describe_errors(generate()))
        return described[0]

    api.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented hook
    vendor = _swagger_ui_files()
    files = {
        "swagger-ui-bundle.js": vendor / "swagger-ui-bundle.js",
        "swagger-ui.css": vendor / "swagger-ui.css",
        "init.js": PAGE_DIR / "init.js",
    }

    @api.get(DOCS_URL, include_in_schema=False)
    async def docs_page() -> FileResponse:
        return FileResponse(PAGE_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    @api.get(DOCS_URL + "/{name}", include_in_schema=False)
    async def docs_file(name: str) -> FileResponse:
        if name not in files:
            raise NotFound()
        return FileResponse(files[name])


def describe_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Our error schema for 4xx/5xx answers in place of FastAPI's `{detail}`."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error_schema = Error.model_json_schema(ref_template=REF)
    components.update(error_schema.pop("$defs"))
    components["Error"] = error_schema
    content = {"application/json": {"schema": {"$ref": REF.format(model="Error")}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if _is_fastapi_422(responses.get("422")):  # on any operation with parameters
                responses["422"] = {"description": ERRORS["422"][1], "content": content}
            if not path.startswith("/api/"):
                continue
            for status, (when, description) in ERRORS.items():
                applies = (
                    when == "all"
                    or (when == "path" and "{" in path)
                    or (when == "change" and method not in SAFE_METHODS)
                )
                if applies:
                    responses.setdefault(status, {"description": description, "content": content})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def _is_fastapi_422(response: dict[str, Any] | None) -> bool:
    schema = (response or {}).get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))


def _swagger_ui_files() -> Path:
    # Only the files of swagger-ui-py: its Python side is for other web frameworks.
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed; run scripts/install")
    return Path(spec.submodule_search_locations[0]) / "static"
