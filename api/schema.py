"""OpenAPI 3 documentation of the API (drf-spectacular): the token scheme, the shared error
answers, paginated pages, and one ``doc`` decorator the views use. The schema is served at
/api/v1/schema/ and shown at /api/v1/docs/; tests/api/test_schema.py fuzzes it with schemathesis.
Imported by every view module that documents an endpoint, which registers the token scheme."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`: the key is shown once when the token is created (admin, API tokens).",
        }


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


_ERRORS = {
    400: OpenApiResponse(
        OpenApiTypes.OBJECT, description='Bad input, nothing changed: `{"<field>": ["<message>"]}` names each field at fault.'
    ),
    401: OpenApiResponse(DetailSerializer, description="No credentials, or an unknown or revoked token."),
    403: OpenApiResponse(DetailSerializer, description="Not allowed: the answer names the permission to ask for (docs/api.md)."),
    404: OpenApiResponse(DetailSerializer, description="No such object (another user's object answers the same)."),
    429: OpenApiResponse(DetailSerializer, description="Throttled (API_THROTTLE_ANON / API_THROTTLE_USER); see Retry-After."),
}


def doc(
    tag: str,
    summary: str,
    response,
    *,
    request=None,
    params=(),
    status: int = 200,
    errors=(400, 401, 403, 404),
    methods=None,
    description: str | None = None,
    extra: dict | None = None,
    operation_id: str | None = None,
):
    """extend_schema for one operation: its tag, summary, request body, query parameters, success
    answer (and ``extra`` ones) and the error answers it can give (429 always)."""
    responses = {status: response, **(extra or {}), **{code: _ERRORS[code] for code in (*errors, 429)}}
    return extend_schema(
        tags=[tag],
        summary=summary,
        description=description,
        request=request,
        parameters=list(params),
        responses=responses,
        methods=methods,
        operation_id=operation_id,
    )


def page_of(serializer_class, name: str):
    """A cursor-paginated page of ``serializer_class`` objects."""
    return inline_serializer(
        name,
        {
            "next": serializers.URLField(allow_null=True, help_text="The next page, or null."),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer_class(many=True),
        },
    )


def query(name: str, type_=str, description: str = "", **kwargs) -> OpenApiParameter:
    return OpenApiParameter(name, type_, OpenApiParameter.QUERY, required=False, description=description, **kwargs)


def bounded(low: int, high: int) -> dict:
    return {"type": "integer", "minimum": low, "maximum": high}


LIMIT = query("limit", bounded(1, 500), "How many, 1-500 (default 20).")
PAGE = [query("cursor", str, "From a page's next/previous link."), query("page_size", bounded(1, 500), "1-500 (default 50).")]


def _detail(description: str) -> dict:
    return {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Detail"}}}, "description": description}


def document_common_answers(result, generator, request, public):
    """drf-spectacular postprocessing hook: every operation with a path parameter can answer 404
    (no such object, or a parameter of the wrong shape); every operation that takes a body can
    answer 413 (over API_MAX_BODY_BYTES, or IMPORT_MAX_BYTES for an upload)."""
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if "{" in path:
                responses.setdefault("404", _detail("No such object, or a path parameter of the wrong shape."))
            if method in ("post", "put", "patch"):
                responses.setdefault("413", _detail("The request body is over the limit (API_MAX_BODY_BYTES; uploads: IMPORT_MAX_BYTES)."))
    return result
