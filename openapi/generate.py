#!/usr/bin/env python3
"""Writes openapi/openapi.json: Orderly's OpenAPI 3.1 document.

The document is data, but most of it repeats (every operation answers the same problem
documents, every response carries X-Request-Id and traceparent), so it is written here
once and generated. The JSON file is what the docs component embeds and serves; commit
both. Usage:

    python3 openapi/generate.py          # rewrite openapi/openapi.json
    python3 openapi/generate.py --check  # exit 1 if openapi/openapi.json is stale

Only the standard library is used.
"""

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "openapi.json"

PROBLEM_JSON = "application/problem+json"
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
FORM = "application/x-www-form-urlencoded"
HTML = "text/html"

RATE_LIMIT_PER_MINUTE = 300

API_SCOPES = {
    "products:read": "Read the catalogue (the catalogue is also public).",
    "products:write": "Create, replace, update and delete products.",
    "orders:read": "Read your orders (any user's with `admin`).",
    "orders:write": "Place orders and change their status.",
    "users:read": "Read your account (`/api/v1/users/me`).",
    "users:write": "Update or delete your account.",
    "admin": "Everything, for every user; satisfies every other scope.",
}
OIDC_SCOPES = {
    "openid": "Sign in with OpenID Connect: an ID token and /oauth2/userinfo.",
    "profile": "Your display name in the ID token and userinfo.",
    "email": "Your email address in the ID token and userinfo.",
}

UUID_EXAMPLE = "0192f0c4-6d2a-7c3e-9a51-3c1f2b4d5e6f"
USER_ID_EXAMPLE = "0192f0c4-1111-7c3e-9a51-3c1f2b4d5e6f"
ORDER_ID_EXAMPLE = "0192f0c4-2222-7c3e-9a51-3c1f2b4d5e6f"
TIME_EXAMPLE = "2026-11-25T13:45:00.123Z"
ETAG_EXAMPLE = '"3-9f86d081884c7d65"'

CURRENCIES = (
    "AED ARS AUD BGN BHD BRL CAD CHF CLP CNY COP CZK DKK EGP EUR GBP HKD HUF IDR ILS INR "
    "ISK JOD JPY KES KRW KWD MAD MXN MYR NGN NOK NZD OMR PEN PHP PKR PLN QAR RON RSD SAR "
    "SEK SGD THB TND TRY TWD UAH UGX USD VND ZAR"
).split()


# What the domain's text parser refuses (crates/domain/src/text.rs): control characters
# and the invisible formatting characters (bidi overrides, zero-width, BOM, separators,
# non-characters); and blank text. Descriptions may hold line feeds and tabs.
_INVISIBLE = "\\u00AD\\u061C\\u180E\\u200B-\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u206F\\uFEFF\\uFFF9-\\uFFFB\\uFFFE\\uFFFF"
_FORBIDDEN = "\\u0000-\\u001F\\u007F-\\u009F" + _INVISIBLE
_FORBIDDEN_MULTILINE = "\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F" + _INVISIBLE
ONE_LINE_TEXT = f"^[^{_FORBIDDEN}]*[^\\s{_FORBIDDEN}][^{_FORBIDDEN}]*$"
MULTILINE_TEXT = f"^[^{_FORBIDDEN_MULTILINE}]*[^\\s{_FORBIDDEN_MULTILINE}][^{_FORBIDDEN_MULTILINE}]*$"


def text(max_length, nullable=False, multiline=False):
    """Free text as the domain parses it: trimmed, not blank, no control characters."""
    return {
        "type": ["string", "null"] if nullable else "string",
        "minLength": 1,
        "maxLength": max_length,
        "pattern": MULTILINE_TEXT if multiline else ONE_LINE_TEXT,
    }


# Every id on the wire is a UUIDv7 in lower-case hyphenated form (crates/domain/src/id.rs).
UUID_V7 = "^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


def uuid7(description=None):
    value = {"type": "string", "format": "uuid", "pattern": UUID_V7}
    if description:
        value["description"] = description
    return value


def ref(kind, name):
    return {"$ref": f"#/components/{kind}/{name}"}


def schema(name):
    return ref("schemas", name)


# ------------------------------------------------------------------ headers

HEADERS = {
    "X-Request-Id": {
        "description": "The request id: the client's if it sent a well-formed one, else "
        "a new one. Also in every problem document (`request_id`).",
        "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": 128},
        "example": "01JDQ4ZB7ZK8Y4S7W9C2M0VQ1E",
    },
    "traceparent": {
        "description": "W3C Trace Context: the caller's trace continued with our span, "
        "or a new trace.",
        "required": True,
        "schema": {
            "type": "string",
            "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
        },
        "example": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    },
    "ETag": {
        "description": "Strong entity tag of this representation (RFC 9110 §8.8.3). "
        "Send it back in `If-None-Match` (304) or `If-Match` (optimistic concurrency).",
        "schema": {"type": "string"},
        "example": ETAG_EXAMPLE,
    },
    "Cache-Control": {
        "description": "`public, max-age=…` for the catalogue, metadata and docs; "
        "`private`/`no-store` for user data, tokens and errors.",
        "schema": {"type": "string"},
        "example": "no-store",
    },
    "Vary": {
        "description": "Request headers the representation depends on.",
        "schema": {"type": "string"},
        "example": "Authorization",
    },
    "Location": {
        "description": "The URL of the created resource.",
        "required": True,
        "schema": {"type": "string"},
        "example": f"/api/v1/orders/{ORDER_ID_EXAMPLE}",
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
        "example": 5,
    },
    "RateLimit-Policy": {
        "description": "The quota policy (IETF httpapi ratelimit-headers draft), e.g. "
        '`"default";q=300;w=60`.',
        "schema": {"type": "string"},
        "example": '"default";q=300;w=60',
    },
    "RateLimit": {
        "description": "What is left of the quota and when it resets (IETF httpapi "
        'ratelimit-headers draft), e.g. `"default";r=297;t=42`.',
        "schema": {"type": "string"},
        "example": '"default";r=297;t=42',
    },
    "WWW-Authenticate": {
        "description": "RFC 6750 §3 Bearer challenge: `error=\"invalid_token\"` for a "
        "bad token, `insufficient_scope` with the `scope` needed, no error code when no "
        "credentials were sent. Basic for failed client authentication at the token "
        "endpoint.",
        "required": True,
        "schema": {"type": "string"},
        "example": 'Bearer realm="orderly", error="invalid_token", '
        'error_description="the token has expired"',
    },
    "Allow": {
        "description": "The methods this resource supports.",
        "required": True,
        "schema": {"type": "string"},
        "example": "GET, HEAD, POST",
    },
    "Idempotent-Replayed": {
        "description": "`true` when this response is the stored first response to an "
        "earlier request with the same `Idempotency-Key` and body.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Set-Cookie": {
        "description": "The sign-in page's CSRF cookie (`SameSite=Strict`) and, after a "
        "successful sign-in, the session cookie (`HttpOnly`, `SameSite=Lax`; `__Host-` "
        "and `Secure` over https).",
        "schema": {"type": "string"},
    },
    "Pragma": {
        "description": "`no-cache` on token responses (RFC 6749 §5.1).",
        "schema": {"type": "string"},
    },
}

EDGE_HEADERS = ["X-Request-Id", "traceparent"]
LIMIT_HEADERS = ["RateLimit-Policy", "RateLimit"]


def headers(*names):
    return {name: ref("headers", name) for name in [*EDGE_HEADERS, *names]}


# ------------------------------------------------------------------ schemas

LINK = {
    "type": "object",
    "description": "A hypermedia link (HATEOAS): where to go and, for actions, how.",
    "required": ["href"],
    "properties": {
        "href": {"type": "string", "description": "A URL, relative to the server."},
        "method": {"type": "string", "description": "The method, when not GET."},
        "type": {"type": "string", "description": "The media type of the body to send."},
        "body": {
            "type": "object",
            "description": "The body to send to take this action.",
        },
    },
    "additionalProperties": False,
}

LINKS = {
    "type": "object",
    "description": "Links: `self` always, then the actions the caller may take.",
    "required": ["self"],
    "properties": {"self": schema("Link")},
    "additionalProperties": schema("Link"),
}

COLLECTION_LINKS = {
    "type": "object",
    "description": "`self`, and `next`/`prev` pages where they exist (opaque signed "
    "keyset cursors).",
    "required": ["self"],
    "properties": {
        "self": schema("Link"),
        "next": schema("Link"),
        "prev": schema("Link"),
    },
    "additionalProperties": schema("Link"),
}

FIELD_ERROR = {
    "type": "object",
    "description": "One invalid input.",
    "required": ["pointer", "code", "message"],
    "properties": {
        "pointer": {
            "type": "string",
            "description": "A JSON Pointer (RFC 6901) into the request body (`/email`), "
            "or `query/<name>` / `header/<name>` for other inputs.",
            "examples": ["/email"],
        },
        "code": {
            "type": "string",
            "description": "A stable machine code (`required`, `too_long`, "
            "`invalid_format`, `unknown_field`, …).",
            "examples": ["invalid_format"],
        },
        "message": {
            "type": "string",
            "description": "For people; never echoes the input.",
            "examples": ["email must contain an @"],
        },
    },
    "additionalProperties": False,
}

PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details. `detail` appears on 4xx only: a 5xx says "
    "that we failed, never why. Extension members (e.g. `/ready`'s `checks`, an "
    "out-of-stock 409's `sku`/`requested`/`available`) may follow.",
    "required": ["type", "title", "status", "instance", "request_id"],
    "properties": {
        "type": {
            "type": "string",
            "description": "`urn:orderly:problem:<name>`, derived from the status "
            "unless a more specific problem is named.",
            "examples": ["urn:orderly:problem:not-found"],
        },
        "title": {
            "type": "string",
            "description": "The status' reason phrase.",
            "examples": ["Not Found"],
        },
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "This occurrence, for people (4xx)."},
        "instance": {
            "type": "string",
            "description": "`urn:orderly:request:<request id>`.",
            "examples": ["urn:orderly:request:01JDQ4ZB7ZK8Y4S7W9C2M0VQ1E"],
        },
        "request_id": {"type": "string", "description": "As in `X-Request-Id`."},
        "errors": {
            "type": "array",
            "description": "Per-field errors (400 and 422 only).",
            "items": schema("FieldError"),
        },
    },
    "additionalProperties": True,
}

OAUTH_ERROR = {
    "type": "object",
    "description": "RFC 6749 §5.2 error (also RFC 7009 / RFC 7662 / OIDC).",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "string",
            "enum": [
                "invalid_request",
                "invalid_client",
                "invalid_grant",
                "unauthorized_client",
                "unsupported_grant_type",
                "invalid_scope",
                "unsupported_token_type",
                "invalid_token",
                "insufficient_scope",
            ],
        },
        "error_description": {"type": "string"},
        "error_uri": {"type": "string"},
    },
    "additionalProperties": False,
}

TIMESTAMP = {"type": "string", "format": "date-time", "examples": [TIME_EXAMPLE]}
VERSION = {
    "type": "integer",
    "minimum": 1,
    "description": "Increments with every change; the ETag is derived from it.",
}

USER = {
    "type": "object",
    "description": "A user account. Never carries the password hash.",
    "required": [
        "id",
        "email",
        "display_name",
        "roles",
        "status",
        "version",
        "created_at",
        "updated_at",
        "_links",
    ],
    "properties": {
        "id": uuid7(),
        "email": {"type": "string", "format": "email", "maxLength": 254},
        "display_name": {"type": ["string", "null"], "maxLength": 100},
        "roles": {
            "type": "array",
            "items": {"type": "string", "enum": ["customer", "admin"]},
            "minItems": 1,
        },
        "status": {"type": "string", "enum": ["active", "disabled"]},
        "version": VERSION,
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
        "_links": schema("Links"),
    },
    "additionalProperties": False,
}

USER_EXAMPLE = {
    "id": USER_ID_EXAMPLE,
    "email": "ada@example.com",
    "display_name": "Ada Lovelace",
    "roles": ["customer"],
    "status": "active",
    "version": 1,
    "created_at": TIME_EXAMPLE,
    "updated_at": TIME_EXAMPLE,
    "_links": {
        "self": {"href": f"/api/v1/users/{USER_ID_EXAMPLE}"},
        "update": {"href": f"/api/v1/users/{USER_ID_EXAMPLE}", "method": "PATCH"},
        "delete": {"href": f"/api/v1/users/{USER_ID_EXAMPLE}", "method": "DELETE"},
        "orders": {"href": f"/api/v1/users/{USER_ID_EXAMPLE}/orders"},
    },
}

REGISTRATION = {
    "type": "object",
    "description": "Self-registration. Unknown members (`roles`, `status`, `id`, …) "
    "are refused with 400 (OWASP API3).",
    "required": ["email", "password"],
    "properties": {
        "email": {"type": "string", "format": "email", "maxLength": 254},
        "password": {
            "type": "string",
            "minLength": 8,
            "maxLength": 128,
            "description": "NIST SP 800-63B: 8 to 128 characters, not a common "
            "password, not containing the email's local part. Never echoed.",
            "writeOnly": True,
        },
        "display_name": text(100, nullable=True),
    },
    "additionalProperties": False,
}

USER_PATCH = {
    "type": "object",
    "description": "JSON Merge Patch (RFC 7396). `roles` and `status` need `admin`.",
    "properties": {
        "display_name": text(100, nullable=True),
        "roles": {
            "type": "array",
            "items": {"type": "string", "enum": ["customer", "admin"]},
            "minItems": 1,
            "uniqueItems": True,
        },
        "status": {"type": "string", "enum": ["active", "disabled"]},
    },
    "additionalProperties": False,
}

USER_LIST = {
    "type": "object",
    "required": ["items", "_links"],
    "properties": {
        "items": {"type": "array", "items": schema("User")},
        "_links": schema("CollectionLinks"),
    },
    "additionalProperties": False,
}

PRICE = {
    "type": "object",
    "description": "Money in minor units of an ISO 4217 currency (never floating point).",
    "required": ["amount_minor", "currency"],
    "properties": {
        "amount_minor": {
            "type": "integer",
            "minimum": 0,
            "maximum": 9223372036854775807,
            "examples": [1999],
        },
        "currency": schema("Currency"),
    },
    "additionalProperties": False,
}

SKU = {
    "type": "string",
    "pattern": "^[A-Z0-9][A-Z0-9-]{2,31}$",
    "description": "Stock-keeping unit, unique across the catalogue (409 on reuse).",
    "examples": ["MUG-BLUE-350"],
}

PRODUCT = {
    "type": "object",
    "description": "A catalogue product.",
    "required": [
        "id",
        "sku",
        "name",
        "description",
        "price",
        "stock",
        "status",
        "version",
        "created_at",
        "updated_at",
        "_links",
    ],
    "properties": {
        "id": uuid7(),
        "sku": schema("Sku"),
        "name": text(200),
        "description": text(2000, nullable=True, multiline=True),
        "price": schema("Price"),
        "stock": {"type": "integer", "minimum": 0, "maximum": 2147483647},
        "status": {"type": "string", "enum": ["active", "archived"]},
        "version": VERSION,
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
        "_links": schema("Links"),
    },
    "additionalProperties": False,
}

PRODUCT_ID_EXAMPLE = UUID_EXAMPLE
PRODUCT_EXAMPLE = {
    "id": PRODUCT_ID_EXAMPLE,
    "sku": "MUG-BLUE-350",
    "name": "Blue mug, 350 ml",
    "description": "Stoneware, dishwasher safe.",
    "price": {"amount_minor": 1299, "currency": "EUR"},
    "stock": 42,
    "status": "active",
    "version": 1,
    "created_at": TIME_EXAMPLE,
    "updated_at": TIME_EXAMPLE,
    "_links": {
        "self": {"href": f"/api/v1/products/{PRODUCT_ID_EXAMPLE}"},
        "collection": {"href": "/api/v1/products"},
    },
}

PRODUCT_INPUT = {
    "type": "object",
    "description": "A whole product (POST, PUT). Unknown members are refused (400).",
    "required": ["sku", "name", "price", "stock"],
    "properties": {
        "sku": schema("Sku"),
        "name": text(200),
        "description": text(2000, nullable=True, multiline=True),
        "price": schema("Price"),
        "stock": {"type": "integer", "minimum": 0, "maximum": 2147483647},
        "status": {"type": "string", "enum": ["active", "archived"]},
    },
    "additionalProperties": False,
}

PRODUCT_PATCH = {
    "type": "object",
    "description": "JSON Merge Patch (RFC 7396) of a product: members present are "
    "set, `null` clears `description`. Unknown members are refused (400).",
    "properties": {
        "sku": schema("Sku"),
        "name": text(200),
        "description": text(2000, nullable=True, multiline=True),
        "price": schema("Price"),
        "stock": {"type": "integer", "minimum": 0, "maximum": 2147483647},
        "status": {"type": "string", "enum": ["active", "archived"]},
    },
    "additionalProperties": False,
}

PRODUCT_LIST = {
    "type": "object",
    "required": ["items", "limit", "_links"],
    "properties": {
        "limit": {"type": "integer", "minimum": 1, "maximum": 100, "description": "The page size used."},
        "items": {
            "type": "array",
            "items": {
                "description": "A product, or with `fields=` only the selected members "
                "(and `id`, `_links`).",
                "$ref": "#/components/schemas/ProductSummary",
            },
        },
        "_links": schema("CollectionLinks"),
    },
    "additionalProperties": False,
}

PRODUCT_SUMMARY = {
    "type": "object",
    "description": "A product in a list: every member of Product unless `fields=` "
    "selected some.",
    "required": ["id", "_links"],
    "properties": {k: v for k, v in PRODUCT["properties"].items()},
    "additionalProperties": False,
}

ORDER_STATUS = {
    "type": "string",
    "enum": ["pending", "paid", "shipped", "delivered", "cancelled"],
    "description": "pending → paid → shipped → delivered; pending or paid → cancelled.",
}

ORDER_ITEM = {
    "type": "object",
    "description": "One line, with the product's SKU, name and price captured when "
    "the order was placed.",
    "required": [
        "line_no",
        "product_id",
        "sku",
        "name",
        "unit_price_minor",
        "currency",
        "quantity",
        "line_total_minor",
    ],
    "properties": {
        "line_no": {"type": "integer", "minimum": 1},
        "product_id": uuid7(),
        "sku": schema("Sku"),
        "name": {"type": "string"},
        "unit_price_minor": {"type": "integer", "minimum": 0},
        "currency": schema("Currency"),
        "quantity": {"type": "integer", "minimum": 1, "maximum": 1000},
        "line_total_minor": {"type": "integer", "minimum": 0},
    },
    "additionalProperties": False,
}

ORDER_FIELDS = {
    "id": uuid7(),
    "user_id": uuid7(),
    "status": schema("OrderStatus"),
    "currency": schema("Currency"),
    "total_minor": {"type": "integer", "minimum": 0},
    "version": VERSION,
    "created_at": TIMESTAMP,
    "updated_at": TIMESTAMP,
}

ORDER = {
    "type": "object",
    "description": "An order with its lines. `_links` offers the status changes the "
    "caller may make (`pay`, `ship`, `deliver`, `cancel`) as PATCH actions.",
    "required": [*ORDER_FIELDS.keys(), "items", "_links"],
    "properties": {
        **ORDER_FIELDS,
        "items": {"type": "array", "items": schema("OrderItem"), "minItems": 1},
        "_links": schema("Links"),
    },
    "additionalProperties": False,
}

ORDER_EXAMPLE = {
    "id": ORDER_ID_EXAMPLE,
    "user_id": USER_ID_EXAMPLE,
    "status": "pending",
    "currency": "EUR",
    "total_minor": 2598,
    "version": 1,
    "created_at": TIME_EXAMPLE,
    "updated_at": TIME_EXAMPLE,
    "items": [
        {
            "line_no": 1,
            "product_id": PRODUCT_ID_EXAMPLE,
            "sku": "MUG-BLUE-350",
            "name": "Blue mug, 350 ml",
            "unit_price_minor": 1299,
            "currency": "EUR",
            "quantity": 2,
            "line_total_minor": 2598,
        }
    ],
    "_links": {
        "self": {"href": f"/api/v1/orders/{ORDER_ID_EXAMPLE}"},
        "collection": {"href": f"/api/v1/users/{USER_ID_EXAMPLE}/orders"},
        "cancel": {
            "href": f"/api/v1/orders/{ORDER_ID_EXAMPLE}",
            "method": "PATCH",
            "type": MERGE_PATCH,
            "body": {"status": "cancelled"},
        },
    },
}

ORDER_SUMMARY = {
    "type": "object",
    "description": "An order in a list: its summary members (not its lines), or with "
    "`fields=` only those selected (and `id`, `_links`).",
    "required": ["id", "_links"],
    "properties": {**ORDER_FIELDS, "_links": schema("Links")},
    "additionalProperties": False,
}

ORDER_LIST = {
    "type": "object",
    "required": ["orders", "_links"],
    "properties": {
        "orders": {"type": "array", "items": schema("OrderSummary")},
        "_links": schema("CollectionLinks"),
    },
    "additionalProperties": False,
}

PLACE_ORDER = {
    "type": "object",
    "description": "1 to 50 lines, each product at most once. Unknown members are "
    "refused (400).",
    "required": ["items"],
    "properties": {
        "items": {
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "items": {
                "type": "object",
                "required": ["product_id", "quantity"],
                "properties": {
                    "product_id": uuid7(),
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 1000},
                },
                "additionalProperties": False,
            },
        }
    },
    "additionalProperties": False,
}

ORDER_PATCH = {
    "type": "object",
    "description": "JSON Merge Patch (RFC 7396): only `status` may change, along the "
    "state machine (409 otherwise). Customers may only cancel; `admin` moves orders on.",
    "required": ["status"],
    "properties": {"status": schema("OrderStatus")},
    "additionalProperties": False,
}

HEALTH = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"type": "string", "enum": ["ok"]}},
    "additionalProperties": False,
}

CHECK = {
    "type": "object",
    "required": ["name", "status", "duration_ms"],
    "properties": {
        "name": {"type": "string", "examples": ["mariadb"]},
        "status": {"type": "string", "enum": ["ok", "fail"]},
        "duration_ms": {"type": "number", "minimum": 0},
    },
    "additionalProperties": False,
}

READY = {
    "type": "object",
    "required": ["status", "checks"],
    "properties": {
        "status": {"type": "string", "enum": ["ok"]},
        "checks": {"type": "array", "items": schema("Check")},
    },
    "additionalProperties": False,
}

NOT_READY = {
    "description": "A 503 problem naming the failed checks (never their causes).",
    "allOf": [
        schema("Problem"),
        {
            "type": "object",
            "required": ["checks", "failed_checks"],
            "properties": {
                "checks": {"type": "array", "items": schema("Check")},
                "failed_checks": {"type": "array", "items": {"type": "string"}},
            },
        },
    ],
}

STRING_LIST = {"type": "array", "items": {"type": "string"}}

METADATA = {
    "type": "object",
    "description": "RFC 8414 authorization server metadata / OpenID Connect Discovery "
    "1.0. `issuer` is byte-identical to every `iss` we sign and to the RFC 9207 `iss` "
    "authorization response parameter.",
    "required": [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "response_types_supported",
    ],
    "properties": {
        "issuer": {"type": "string"},
        "authorization_endpoint": {"type": "string"},
        "token_endpoint": {"type": "string"},
        "revocation_endpoint": {"type": "string"},
        "introspection_endpoint": {"type": "string"},
        "userinfo_endpoint": {"type": "string"},
        "jwks_uri": {"type": "string"},
        "response_types_supported": STRING_LIST,
        "response_modes_supported": STRING_LIST,
        "grant_types_supported": STRING_LIST,
        "code_challenge_methods_supported": STRING_LIST,
        "token_endpoint_auth_methods_supported": STRING_LIST,
        "revocation_endpoint_auth_methods_supported": STRING_LIST,
        "introspection_endpoint_auth_methods_supported": STRING_LIST,
        "scopes_supported": STRING_LIST,
        "subject_types_supported": STRING_LIST,
        "id_token_signing_alg_values_supported": STRING_LIST,
        "authorization_response_iss_parameter_supported": {"type": "boolean"},
        "claims_supported": STRING_LIST,
        "prompt_values_supported": STRING_LIST,
        "request_parameter_supported": {"type": "boolean"},
        "request_uri_parameter_supported": {"type": "boolean"},
        "claims_parameter_supported": {"type": "boolean"},
    },
    "additionalProperties": True,
}

METADATA_EXAMPLE = {
    "issuer": "http://127.0.0.1:3000",
    "authorization_endpoint": "http://127.0.0.1:3000/oauth2/authorize",
    "token_endpoint": "http://127.0.0.1:3000/oauth2/token",
    "revocation_endpoint": "http://127.0.0.1:3000/oauth2/revoke",
    "introspection_endpoint": "http://127.0.0.1:3000/oauth2/introspect",
    "userinfo_endpoint": "http://127.0.0.1:3000/oauth2/userinfo",
    "jwks_uri": "http://127.0.0.1:3000/oauth2/jwks",
    "response_types_supported": ["code"],
    "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
    "code_challenge_methods_supported": ["S256"],
    "scopes_supported": [*OIDC_SCOPES, *API_SCOPES],
    "id_token_signing_alg_values_supported": ["ES256"],
    "authorization_response_iss_parameter_supported": True,
}

JWK = {
    "type": "object",
    "description": "A public EC P-256 key (RFC 7517 / RFC 7518).",
    "required": ["kty", "crv", "x", "y", "kid"],
    "properties": {
        "kty": {"type": "string", "enum": ["EC"]},
        "crv": {"type": "string", "enum": ["P-256"]},
        "x": {"type": "string"},
        "y": {"type": "string"},
        "kid": {"type": "string"},
        "use": {"type": "string", "enum": ["sig"]},
        "alg": {"type": "string", "enum": ["ES256"]},
    },
    "additionalProperties": True,
}

JWKS = {
    "type": "object",
    "description": "The keys access and ID tokens are verified with: the current key, "
    "the next one (published before it signs) and retired ones until their tokens "
    "expire.",
    "required": ["keys"],
    "properties": {"keys": {"type": "array", "items": schema("Jwk")}},
    "additionalProperties": False,
}

TOKEN_RESPONSE = {
    "type": "object",
    "description": "RFC 6749 §5.1. The access token is an ES256 JWT (RFC 9068, "
    "`typ: at+jwt`, 15 minutes). A refresh token comes with the authorization code "
    "grant and is rotated on every use; `id_token` when `openid` was granted.",
    "required": ["access_token", "token_type", "expires_in"],
    "properties": {
        "access_token": {"type": "string"},
        "token_type": {"type": "string", "enum": ["Bearer"]},
        "expires_in": {"type": "integer", "minimum": 1},
        "scope": {"type": "string"},
        "refresh_token": {"type": "string"},
        "id_token": {"type": "string"},
    },
    "additionalProperties": False,
}

TOKEN_REQUEST = {
    "type": "object",
    "description": "RFC 6749 §4.1.3 (authorization_code + PKCE `code_verifier`), §6 "
    "(refresh_token) and §4.4 (client_credentials). Confidential clients authenticate "
    "with HTTP Basic (`client_secret_basic`) or `client_id` + `client_secret` in the "
    "body; public clients send `client_id` only. The password and implicit grants are "
    "not offered (`unsupported_grant_type`).",
    "required": ["grant_type"],
    "properties": {
        "grant_type": {
            "type": "string",
            "enum": ["authorization_code", "refresh_token", "client_credentials"],
        },
        "code": {"type": "string"},
        "redirect_uri": {"type": "string"},
        "code_verifier": {
            "type": "string",
            "description": "RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9._~-]` "
            "(authorization_code only; other grants ignore it).",
        },
        "refresh_token": {"type": "string"},
        "scope": {"type": "string"},
        "client_id": {"type": "string"},
        "client_secret": {"type": "string", "writeOnly": True},
    },
}

REVOKE_REQUEST = {
    "type": "object",
    "required": ["token"],
    "properties": {
        "token": {"type": "string"},
        "token_type_hint": {
            "type": "string",
            "description": "`access_token` or `refresh_token`; only a hint (RFC 7009 §2.1: "
            "an unknown hint is ignored and every kind of token is searched).",
        },
        "client_id": {"type": "string"},
        "client_secret": {"type": "string", "writeOnly": True},
    },
}

INTROSPECTION = {
    "type": "object",
    "description": "RFC 7662 §2.2. For an unknown, expired or revoked token only "
    "`{\"active\": false}`.",
    "required": ["active"],
    "properties": {
        "active": {"type": "boolean"},
        "scope": {"type": "string"},
        "client_id": {"type": "string"},
        "sub": {"type": "string"},
        "aud": {"oneOf": [{"type": "string"}, STRING_LIST]},
        "iss": {"type": "string"},
        "exp": {"type": "integer"},
        "iat": {"type": "integer"},
        "nbf": {"type": "integer"},
        "jti": {"type": "string"},
        "token_type": {"type": "string"},
        "username": {"type": "string"},
    },
    "additionalProperties": True,
}

USERINFO = {
    "type": "object",
    "description": "OIDC Core §5.3: `sub`, then `email`/`email_verified` with the "
    "`email` scope and `name` with `profile`.",
    "required": ["sub"],
    "properties": {
        "sub": {"type": "string"},
        "email": {"type": "string", "format": "email"},
        "email_verified": {"type": "boolean"},
        "name": {"type": "string"},
    },
    "additionalProperties": False,
}

LOGIN_FORM = {
    "type": "object",
    "description": "The sign-in form, posted by the page `/login` renders. It carries "
    "the pending authorization request and a CSRF token.",
    "required": ["email", "password"],
    "properties": {
        "email": {"type": "string"},
        "password": {"type": "string", "writeOnly": True},
        "csrf": {"type": "string"},
        "request": {
            "type": "string",
            "description": "The signed, pending authorization request.",
        },
    },
}

SCHEMAS = {
    "Problem": PROBLEM,
    "FieldError": FIELD_ERROR,
    "OAuthError": OAUTH_ERROR,
    "Link": LINK,
    "Links": LINKS,
    "CollectionLinks": COLLECTION_LINKS,
    "Health": HEALTH,
    "Ready": READY,
    "NotReady": NOT_READY,
    "Check": CHECK,
    "AuthorizationServerMetadata": METADATA,
    "Jwks": JWKS,
    "Jwk": JWK,
    "TokenRequest": TOKEN_REQUEST,
    "TokenResponse": TOKEN_RESPONSE,
    "RevocationRequest": REVOKE_REQUEST,
    "IntrospectionRequest": REVOKE_REQUEST,
    "IntrospectionResponse": INTROSPECTION,
    "UserInfo": USERINFO,
    "LoginForm": LOGIN_FORM,
    "User": USER,
    "UserRegistration": REGISTRATION,
    "UserPatch": USER_PATCH,
    "UserList": USER_LIST,
    "Currency": {
        "type": "string",
        "description": "ISO 4217 alphabetic code of a supported currency.",
        "enum": CURRENCIES,
        "examples": ["EUR"],
    },
    "Sku": SKU,
    "Price": PRICE,
    "Product": PRODUCT,
    "ProductSummary": PRODUCT_SUMMARY,
    "ProductInput": PRODUCT_INPUT,
    "ProductPatch": PRODUCT_PATCH,
    "ProductList": PRODUCT_LIST,
    "OrderStatus": ORDER_STATUS,
    "OrderItem": ORDER_ITEM,
    "Order": ORDER,
    "OrderSummary": ORDER_SUMMARY,
    "OrderList": ORDER_LIST,
    "PlaceOrder": PLACE_ORDER,
    "OrderPatch": ORDER_PATCH,
}

# ------------------------------------------------------------------ shared responses


def problem_content(example_status, title, detail=None, errors=None, type_name=None):
    example = {
        "type": "urn:orderly:problem:"
        + (type_name or title.lower().replace(" ", "-").replace("'", "")),
        "title": title,
        "status": example_status,
        "instance": "urn:orderly:request:01JDQ4ZB7ZK8Y4S7W9C2M0VQ1E",
        "request_id": "01JDQ4ZB7ZK8Y4S7W9C2M0VQ1E",
    }
    if detail:
        example["detail"] = detail
    if errors:
        example["errors"] = errors
    return {PROBLEM_JSON: {"schema": schema("Problem"), "example": example}}


def problem_response(status, title, description, detail=None, extra_headers=(), errors=None):
    return {
        "description": description,
        "headers": headers(*extra_headers),
        "content": problem_content(status, title, detail, errors),
    }


RESPONSES = {
    "BadRequest": problem_response(
        400,
        "Bad Request",
        "Malformed or invalid input: every invalid field is listed in `errors` "
        "(JSON Pointer, code, message). Also a token sent other than in the "
        "Authorization header.",
        "The request has invalid fields.",
        errors=[
            {
                "pointer": "/email",
                "code": "missing_at",
                "message": "email must contain an @",
            }
        ],
    ),
    "Unauthorized": problem_response(
        401,
        "Unauthorized",
        "No, or an invalid, expired or revoked bearer token.",
        "The access token was refused: the token has expired.",
        extra_headers=["WWW-Authenticate"],
    ),
    "Forbidden": problem_response(
        403,
        "Forbidden",
        "The token lacks the scope this needs (or the object belongs to someone else).",
        "This request needs the `orders:write` scope.",
    ),
    "NotFound": problem_response(
        404, "Not Found", "No such resource (or one the caller may not see).", "No such resource."
    ),
    "MethodNotAllowed": problem_response(
        405,
        "Method Not Allowed",
        "The resource does not support this method; `Allow` lists those it does.",
        "Allowed methods: GET, HEAD.",
        extra_headers=["Allow"],
    ),
    "NotAcceptable": problem_response(
        406,
        "Not Acceptable",
        "Nothing we can send matches `Accept`.",
        "This resource can be represented as: application/json.",
    ),
    "Conflict": problem_response(
        409,
        "Conflict",
        "The request conflicts with the resource's state (a taken SKU or email, a "
        "forbidden status change, out of stock, a resource still referenced).",
        "A product with this SKU already exists.",
    ),
    "PreconditionFailed": problem_response(
        412,
        "Precondition Failed",
        "`If-Match` does not name the current version: someone changed it since you "
        "read it. GET it again.",
        "If-Match does not match the resource's current ETag.",
    ),
    "ContentTooLarge": problem_response(
        413,
        "Payload Too Large",
        "The body exceeds the route's cap (64 KiB unless stated).",
        "The request body exceeds the limit of 65536 bytes.",
    ),
    "UnsupportedMediaType": problem_response(
        415,
        "Unsupported Media Type",
        "Missing or wrong `Content-Type`.",
        "Content-Type must be one of: application/json.",
    ),
    "UnprocessableContent": problem_response(
        422,
        "Unprocessable Entity",
        "Well-formed but semantically invalid.",
        "The request cannot be processed.",
    ),
    "PreconditionRequired": problem_response(
        428,
        "Precondition Required",
        "This change needs `If-Match` with the resource's current ETag.",
        "This request requires an If-Match header with the resource's current ETag.",
    ),
    "TooManyRequests": problem_response(
        429,
        "Too Many Requests",
        "Rate limit exceeded; retry after `Retry-After` seconds.",
        "Too many requests; retry after 42 seconds.",
        extra_headers=["Retry-After", *LIMIT_HEADERS],
    ),
    "InternalServerError": problem_response(
        500,
        "Internal Server Error",
        "Our fault. The body says nothing more; quote `request_id` to support.",
    ),
    "ServiceUnavailable": problem_response(
        503,
        "Service Unavailable",
        "A dependency is down or its circuit breaker is open; retry after "
        "`Retry-After` seconds.",
        extra_headers=["Retry-After"],
    ),
    "NotModified": {
        "description": "Your cached copy (`If-None-Match`) is current.",
        "headers": headers("ETag", "Cache-Control", "Vary"),
    },
    "OAuthBadRequest": {
        "description": "RFC 6749 §5.2 error: `invalid_request`, `invalid_grant`, "
        "`unauthorized_client`, `unsupported_grant_type` or `invalid_scope`.",
        "headers": headers("Cache-Control", "Pragma"),
        "content": {
            JSON: {
                "schema": schema("OAuthError"),
                "example": {
                    "error": "invalid_grant",
                    "error_description": "the authorization code is invalid or expired",
                },
            }
        },
    },
    "OAuthUnauthorized": {
        "description": "RFC 6749 §5.2 `invalid_client`: client authentication failed.",
        "headers": headers("WWW-Authenticate", "Cache-Control", "Pragma"),
        "content": {
            JSON: {
                "schema": schema("OAuthError"),
                "example": {
                    "error": "invalid_client",
                    "error_description": "client authentication failed",
                },
            }
        },
    },
}

# ------------------------------------------------------------------ parameters

PARAMETERS = {
    "UserId": {
        "name": "id",
        "in": "path",
        "required": True,
        "description": "A user id (UUIDv7). Anything else is 404.",
        "schema": uuid7(),
        "example": USER_ID_EXAMPLE,
    },
    "ProductId": {
        "name": "id",
        "in": "path",
        "required": True,
        "description": "A product id (UUIDv7). Anything else is 404.",
        "schema": uuid7(),
        "example": PRODUCT_ID_EXAMPLE,
    },
    "OrderId": {
        "name": "id",
        "in": "path",
        "required": True,
        "description": "An order id (UUIDv7). Anything else is 404.",
        "schema": uuid7(),
        "example": ORDER_ID_EXAMPLE,
    },
    "Limit": {
        "name": "limit",
        "in": "query",
        "description": "Page size, 1 to 100 (default 20); larger is a 400, never "
        "silently more.",
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
    },
    "Cursor": {
        "name": "cursor",
        "in": "query",
        "description": "An opaque, signed keyset cursor from a `next`/`prev` link; only "
        "valid with the sort and filters it was issued for (400 otherwise).",
        "schema": {"type": "string", "maxLength": 512},
    },
    "IfNoneMatch": {
        "name": "If-None-Match",
        "in": "header",
        "description": "ETags of representations you hold; a match answers 304.",
        "schema": {"type": "string"},
    },
    "IfMatch": {
        "name": "If-Match",
        "in": "header",
        "required": True,
        "description": "The ETag you read (optimistic concurrency): 428 without it, "
        "412 when it is not the current one.",
        "schema": {"type": "string"},
        "example": ETAG_EXAMPLE,
    },
    "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "description": "1 to 255 printable ASCII characters. A retry with the same key "
        "and body returns the first response (with `Idempotent-Replayed: true`) and "
        "creates nothing; the same key with another body is 422; a retry while the "
        "first is still running is 409 + `Retry-After`.",
        "schema": {"type": "string", "pattern": "^[!-~]([ -~]{0,253}[!-~])?$"},
        "example": "8e0f3b9c-0b7a-4a57-9d0e-3f4f1b2f7a11",
    },
}

# ------------------------------------------------------------------ operations

PUBLIC = []
OPTIONAL_TOKEN = [{}, {"oauth2": []}, {"bearerAuth": []}]


def scoped(*scopes):
    return [{"oauth2": list(scopes)}, {"bearerAuth": list(scopes)}]


def rate_limit(limit=RATE_LIMIT_PER_MINUTE, window=60, key="client address", note=None):
    value = {"limit": limit, "window_seconds": window, "key": key}
    if note:
        value["note"] = note
    return value


def shared(*names):
    codes = {
        "BadRequest": "400",
        "Unauthorized": "401",
        "Forbidden": "403",
        "NotFound": "404",
        "MethodNotAllowed": "405",
        "NotAcceptable": "406",
        "Conflict": "409",
        "PreconditionFailed": "412",
        "ContentTooLarge": "413",
        "UnsupportedMediaType": "415",
        "UnprocessableContent": "422",
        "PreconditionRequired": "428",
        "TooManyRequests": "429",
        "InternalServerError": "500",
        "ServiceUnavailable": "503",
        "NotModified": "304",
    }
    return {codes[name]: ref("responses", name) for name in names}


def ok(description, content_schema=None, example=None, extra_headers=(), media=JSON):
    response = {"description": description, "headers": headers(*extra_headers)}
    if content_schema is not None:
        body = {"schema": content_schema}
        if example is not None:
            body["example"] = example
        response["content"] = {media: body}
    return response


def operation(
    op_id,
    tag,
    summary,
    description,
    security,
    responses,
    parameters=None,
    request_body=None,
    limit=None,
):
    op = {
        "operationId": op_id,
        "tags": [tag],
        "summary": summary,
        "description": description,
        "security": security,
        "x-rate-limit": limit or rate_limit(),
    }
    if parameters:
        op["parameters"] = parameters
    if request_body:
        op["requestBody"] = request_body
    op["responses"] = dict(sorted(responses.items()))
    return op


def body(media_schema, example, media=JSON, description=None, extra_media=()):
    content = {media: {"schema": media_schema, "example": example}}
    for other in extra_media:
        content[other] = {"schema": media_schema, "example": example}
    result = {"required": True, "content": content}
    if description:
        result["description"] = description
    return result


P = lambda name: ref("parameters", name)  # noqa: E731

READ_ERRORS = ("NotAcceptable", "TooManyRequests", "InternalServerError", "ServiceUnavailable")
AUTH_ERRORS = ("BadRequest", "Unauthorized", "Forbidden")
WRITE_ERRORS = ("ContentTooLarge", "UnsupportedMediaType")

USER_HEADERS = ("ETag", "Cache-Control", "Vary", *LIMIT_HEADERS)
PRODUCT_HEADERS = ("ETag", "Cache-Control", "Vary", *LIMIT_HEADERS)

paths = {}

# --- health
paths["/health"] = {
    "get": operation(
        "getHealth",
        "health",
        "Liveness",
        "No I/O: 200 while the component runs.",
        PUBLIC,
        {
            "200": ok("Alive.", schema("Health"), {"status": "ok"}, ["Cache-Control"]),
            **shared("NotAcceptable", "InternalServerError"),
        },
    )
}
paths["/ready"] = {
    "get": operation(
        "getReady",
        "health",
        "Readiness",
        "Checks MariaDB and both key-value stores concurrently, each with a timeout and "
        "a timing.",
        PUBLIC,
        {
            "200": ok(
                "Every dependency answered.",
                schema("Ready"),
                {
                    "status": "ok",
                    "checks": [
                        {"name": "mariadb", "status": "ok", "duration_ms": 1.8},
                        {"name": "kv_default", "status": "ok", "duration_ms": 0.4},
                        {"name": "kv_shared", "status": "ok", "duration_ms": 0.9},
                    ],
                },
                ["Cache-Control"],
            ),
            "503": {
                "description": "A dependency failed; the problem names which.",
                "headers": headers("Retry-After", "Cache-Control"),
                "content": {PROBLEM_JSON: {"schema": schema("NotReady")}},
            },
            **shared("NotAcceptable", "InternalServerError"),
        },
    )
}

# --- identity
METADATA_RESPONSES = {
    "200": ok(
        "The metadata document.",
        schema("AuthorizationServerMetadata"),
        METADATA_EXAMPLE,
        ["Cache-Control", *LIMIT_HEADERS],
    ),
    **shared("NotAcceptable", "TooManyRequests", "InternalServerError"),
}
paths["/.well-known/openid-configuration"] = {
    "get": operation(
        "getOpenIdConfiguration",
        "identity",
        "OpenID Connect Discovery",
        "OpenID Connect Discovery 1.0 §3.",
        PUBLIC,
        METADATA_RESPONSES,
    )
}
paths["/.well-known/oauth-authorization-server"] = {
    "get": operation(
        "getAuthorizationServerMetadata",
        "identity",
        "OAuth 2.0 authorization server metadata",
        "RFC 8414 §3.",
        PUBLIC,
        METADATA_RESPONSES,
    )
}

AUTHORIZE_PARAMETERS = [
    {
        "name": "response_type",
        "in": "query",
        "required": True,
        "schema": {"type": "string", "enum": ["code"]},
        "description": "Only the authorization code flow (implicit is not offered).",
    },
    {"name": "client_id", "in": "query", "required": True, "schema": {"type": "string"}},
    {
        "name": "redirect_uri",
        "in": "query",
        "schema": {"type": "string"},
        "description": "Compared byte for byte with a registered one.",
    },
    {"name": "scope", "in": "query", "schema": {"type": "string"}},
    {"name": "state", "in": "query", "schema": {"type": "string"}},
    {
        "name": "code_challenge",
        "in": "query",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"},
        "description": "PKCE (RFC 7636): BASE64URL(SHA-256(code_verifier)).",
    },
    {
        "name": "code_challenge_method",
        "in": "query",
        "required": True,
        "schema": {"type": "string", "enum": ["S256"]},
    },
    {"name": "nonce", "in": "query", "schema": {"type": "string"}},
    {"name": "prompt", "in": "query", "schema": {"type": "string", "enum": ["none", "login"]}},
]
REDIRECT = {
    "description": "Redirect (`Location`): to `/login` when nobody is signed in, or back "
    "to `redirect_uri` with `code`, `state` and `iss` (RFC 9207) — or with `error` "
    "(RFC 6749 §4.1.2.1) once the client and redirect URI are known to be valid.",
    "headers": headers("Location", "Cache-Control", "Set-Cookie"),
}
AUTHORIZE_REDIRECT = {
    **REDIRECT,
    "headers": headers("Location", "Cache-Control", "Set-Cookie", *LIMIT_HEADERS),
}
paths["/oauth2/authorize"] = {
    "get": operation(
        "authorize",
        "identity",
        "Authorization endpoint (code + PKCE)",
        "RFC 6749 §4.1.1 with PKCE S256 required (RFC 7636). An unknown client or an "
        "unregistered redirect URI is never redirected to: that is a 400 page.",
        PUBLIC,
        {
            "302": AUTHORIZE_REDIRECT,
            "303": AUTHORIZE_REDIRECT,
            "400": {
                "description": "Unknown client or redirect URI (not redirected).",
                "headers": headers("Cache-Control", *LIMIT_HEADERS),
                "content": {
                    HTML: {"schema": {"type": "string"}},
                    PROBLEM_JSON: {"schema": schema("Problem")},
                },
            },
            **shared("MethodNotAllowed", "TooManyRequests", "InternalServerError", "ServiceUnavailable"),
        },
        parameters=AUTHORIZE_PARAMETERS,
    )
}
TOKEN_HEADERS = ("Cache-Control", "Pragma", *LIMIT_HEADERS)
paths["/oauth2/token"] = {
    "post": operation(
        "token",
        "identity",
        "Token endpoint",
        "RFC 6749 §3.2. `Cache-Control: no-store` on every answer. Codes are single use "
        "(a replayed code is refused and revokes what it issued); refresh tokens rotate "
        "and reuse revokes the whole family.",
        [{"clientSecretBasic": []}, {}],
        {
            "200": ok(
                "Tokens.",
                schema("TokenResponse"),
                {
                    "access_token": "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6ImsxIn0.eyJ…",
                    "token_type": "Bearer",
                    "expires_in": 900,
                    "scope": "orders:read orders:write",
                },
                TOKEN_HEADERS,
            ),
            "400": ref("responses", "OAuthBadRequest"),
            "401": ref("responses", "OAuthUnauthorized"),
            **shared(
                "MethodNotAllowed",
                "ContentTooLarge",
                "UnsupportedMediaType",
                "TooManyRequests",
                "InternalServerError",
                "ServiceUnavailable",
            ),
        },
        request_body=body(
            schema("TokenRequest"),
            {"grant_type": "client_credentials", "scope": "products:write"},
            media=FORM,
        ),
    )
}
paths["/oauth2/revoke"] = {
    "post": operation(
        "revoke",
        "identity",
        "Token revocation",
        "RFC 7009: 200 even for an unknown token. Revoking a refresh token revokes its "
        "family.",
        [{"clientSecretBasic": []}, {}],
        {
            "200": ok("Revoked (or never valid).", extra_headers=TOKEN_HEADERS),
            "400": ref("responses", "OAuthBadRequest"),
            "401": ref("responses", "OAuthUnauthorized"),
            **shared(
                "MethodNotAllowed",
                "ContentTooLarge",
                "UnsupportedMediaType",
                "TooManyRequests",
                "InternalServerError",
                "ServiceUnavailable",
            ),
        },
        request_body=body(schema("RevocationRequest"), {"token": "…"}, media=FORM),
    )
}
paths["/oauth2/introspect"] = {
    "post": operation(
        "introspect",
        "identity",
        "Token introspection",
        "RFC 7662. Client authentication is required; an unknown token answers only "
        '`{"active": false}`.',
        [{"clientSecretBasic": []}, {}],
        {
            "200": ok(
                "The token's state.",
                schema("IntrospectionResponse"),
                {
                    "active": True,
                    "scope": "orders:read",
                    "client_id": "shop-web",
                    "sub": USER_ID_EXAMPLE,
                    "exp": 1795610700,
                    "iat": 1795609800,
                },
                TOKEN_HEADERS,
            ),
            "400": ref("responses", "OAuthBadRequest"),
            "401": ref("responses", "OAuthUnauthorized"),
            **shared(
                "MethodNotAllowed",
                "ContentTooLarge",
                "UnsupportedMediaType",
                "TooManyRequests",
                "InternalServerError",
                "ServiceUnavailable",
            ),
        },
        request_body=body(schema("IntrospectionRequest"), {"token": "…"}, media=FORM),
    )
}
USERINFO_OP = dict(
    tag="identity",
    summary="OpenID Connect userinfo",
    description="OIDC Core §5.3: the signed-in user's claims; needs a user access token "
    "with `openid`.",
    security=scoped("openid"),
    responses={
        "200": ok(
            "The user's claims.",
            schema("UserInfo"),
            {
                "sub": USER_ID_EXAMPLE,
                "email": "ada@example.com",
                "email_verified": False,
                "name": "Ada Lovelace",
            },
            ["Cache-Control", *LIMIT_HEADERS],
        ),
        "401": {
            "description": "No or an invalid access token (RFC 6750 §3).",
            "headers": headers("WWW-Authenticate", "Cache-Control"),
            "content": {
                JSON: {"schema": schema("OAuthError")},
                PROBLEM_JSON: {"schema": schema("Problem")},
            },
        },
        "403": {
            "description": "The token lacks `openid` (`insufficient_scope`).",
            "headers": headers("WWW-Authenticate", "Cache-Control"),
            "content": {
                JSON: {"schema": schema("OAuthError")},
                PROBLEM_JSON: {"schema": schema("Problem")},
            },
        },
        **shared(
            "BadRequest",
            "MethodNotAllowed",
            "NotAcceptable",
            "TooManyRequests",
            "InternalServerError",
            "ServiceUnavailable",
        ),
    },
)
paths["/oauth2/userinfo"] = {
    "get": operation("getUserInfo", **USERINFO_OP),
    "post": operation("postUserInfo", **USERINFO_OP),
}
paths["/oauth2/jwks"] = {
    "get": operation(
        "getJwks",
        "identity",
        "JSON Web Key Set",
        "The public keys tokens are signed with (RFC 7517).",
        PUBLIC,
        {
            "200": {
                "description": "The key set.",
                "headers": headers("Cache-Control", *LIMIT_HEADERS),
                "content": {
                    JSON: {
                        "schema": schema("Jwks"),
                        "example": {
                            "keys": [
                                {
                                    "kty": "EC",
                                    "crv": "P-256",
                                    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                                    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
                                    "kid": "k1",
                                    "use": "sig",
                                    "alg": "ES256",
                                }
                            ]
                        },
                    },
                    "application/jwk-set+json": {"schema": schema("Jwks")},
                },
            },
            **shared("NotAcceptable", "TooManyRequests", "InternalServerError"),
        },
    )
}
LOGIN_LIMIT = rate_limit(
    10, 60, "account and client address", "failed sign-ins are throttled per account and per address"
)
paths["/login"] = {
    "get": operation(
        "getLogin",
        "identity",
        "Sign-in page",
        "The HTML sign-in form for a pending authorization request (with a CSRF token). "
        "Its own CSP; no script.",
        PUBLIC,
        {
            "200": ok(
                "The form.",
                {"type": "string"},
                None,
                ["Cache-Control", "Set-Cookie", *LIMIT_HEADERS],
                media=HTML,
            ),
            "400": {
                "description": "No or an invalid pending authorization request.",
                "headers": headers("Cache-Control"),
                "content": {
                    HTML: {"schema": {"type": "string"}},
                    PROBLEM_JSON: {"schema": schema("Problem")},
                },
            },
            **shared("NotAcceptable", "TooManyRequests", "InternalServerError"),
        },
        parameters=[
            {
                "name": "request",
                "in": "query",
                "schema": {"type": "string"},
                "description": "The signed pending authorization request.",
            }
        ],
    ),
    "post": operation(
        "postLogin",
        "identity",
        "Sign in",
        "Checks the password (Argon2id; the same work for unknown accounts), then "
        "redirects back into the authorization flow. Throttled per account and per "
        "client address.",
        PUBLIC,
        {
            "302": REDIRECT,
            "303": REDIRECT,
            "400": {
                "description": "Malformed form, bad CSRF token or pending request.",
                "headers": headers("Cache-Control"),
                "content": {
                    HTML: {"schema": {"type": "string"}},
                    PROBLEM_JSON: {"schema": schema("Problem")},
                },
            },
            "401": {
                "description": "Wrong email or password: the form again, with a message "
                "that does not say which.",
                "headers": headers("Cache-Control"),
                "content": {HTML: {"schema": {"type": "string"}}},
            },
            "403": {
                "description": "CSRF check failed.",
                "headers": headers("Cache-Control"),
                "content": {
                    HTML: {"schema": {"type": "string"}},
                    PROBLEM_JSON: {"schema": schema("Problem")},
                },
            },
            **shared(
                "ContentTooLarge",
                "UnsupportedMediaType",
                "TooManyRequests",
                "InternalServerError",
                "ServiceUnavailable",
            ),
        },
        request_body=body(
            schema("LoginForm"),
            {"email": "ada@example.com", "password": "correct horse battery"},
            media=FORM,
        ),
        limit=LOGIN_LIMIT,
    ),
}

# --- users
paths["/api/v1/users"] = {
    "post": operation(
        "registerUser",
        "users",
        "Register",
        "Self-registration: public (a token, if sent, must be valid). The new account "
        "has the `customer` role. Throttled per client address.",
        PUBLIC,
        {
            "201": ok(
                "Registered.",
                schema("User"),
                {**USER_EXAMPLE, "_links": {"self": USER_EXAMPLE["_links"]["self"]}},
                ["Location", *USER_HEADERS],
            ),
            "409": problem_response(
                409, "Conflict", "The email address is taken.", "This email address cannot be used."
            ),
            **shared(
                "BadRequest",
                "Unauthorized",
                "NotAcceptable",
                *WRITE_ERRORS,
                "TooManyRequests",
                "InternalServerError",
                "ServiceUnavailable",
            ),
        },
        request_body=body(
            schema("UserRegistration"),
            {
                "email": "ada@example.com",
                "password": "analytical engine 1843",
                "display_name": "Ada Lovelace",
            },
        ),
        limit=rate_limit(20, 3600, "client address", "registrations per hour"),
    ),
    "get": operation(
        "listUsers",
        "users",
        "List users",
        "Every account, newest first, keyset-paginated. Admin only. The page carries a "
        "strong `ETag` of its bytes (`If-None-Match` → 304).",
        scoped("admin"),
        {
            "200": ok(
                "A page of users.",
                schema("UserList"),
                {
                    "items": [USER_EXAMPLE],
                    "_links": {
                        "self": {"href": "/api/v1/users?limit=20&sort=-created_at"},
                        "next": {
                            "href": "/api/v1/users?limit=20&sort=-created_at&cursor=eyJ2IjoxfQ.sig"
                        },
                    },
                },
                USER_HEADERS,
            ),
            **shared(*AUTH_ERRORS, "NotModified", *READ_ERRORS),
        },
        parameters=[
            P("IfNoneMatch"),
            P("Limit"),
            P("Cursor"),
            {
                "name": "status",
                "in": "query",
                "schema": {"type": "string", "enum": ["active", "disabled"]},
            },
            {
                "name": "sort",
                "in": "query",
                "schema": {"type": "string", "enum": ["created_at", "-created_at"]},
            },
        ],
    ),
}

paths["/api/v1/users/me"] = {
    "get": operation(
        "getMe",
        "users",
        "Your account",
        "The signed-in user (a user token; a client credentials token has no user: 403).",
        scoped("users:read"),
        {
            "200": ok("Your account.", schema("User"), USER_EXAMPLE, USER_HEADERS),
            **shared(*AUTH_ERRORS, "NotFound", "NotModified", *READ_ERRORS),
        },
        parameters=[P("IfNoneMatch")],
    )
}
paths["/api/v1/users/{id}"] = {
    "parameters": [P("UserId")],
    "get": operation(
        "getUser",
        "users",
        "Read a user",
        "Your own account, or any with `admin`; someone else's is 404.",
        scoped("users:read"),
        {
            "200": ok("The account.", schema("User"), USER_EXAMPLE, USER_HEADERS),
            **shared(*AUTH_ERRORS, "NotFound", "NotModified", *READ_ERRORS),
        },
        parameters=[P("IfNoneMatch")],
    ),
    "patch": operation(
        "updateUser",
        "users",
        "Update a user",
        "JSON Merge Patch of `display_name`; `roles` and `status` need `admin`. "
        "Optimistic concurrency with `If-Match`.",
        scoped("users:write"),
        {
            "200": ok("Updated.", schema("User"), USER_EXAMPLE, USER_HEADERS),
            **shared(
                *AUTH_ERRORS,
                "NotFound",
                "PreconditionFailed",
                "PreconditionRequired",
                *WRITE_ERRORS,
                *READ_ERRORS,
            ),
        },
        parameters=[P("IfMatch")],
        request_body=body(schema("UserPatch"), {"display_name": "Ada King"}, media=MERGE_PATCH),
    ),
    "delete": operation(
        "deleteUser",
        "users",
        "Delete a user",
        "Deletes the account; 409 while it still has orders.",
        scoped("users:write"),
        {
            "204": ok("Deleted.", extra_headers=["Cache-Control", *LIMIT_HEADERS]),
            **shared(
                *AUTH_ERRORS,
                "NotFound",
                "Conflict",
                "PreconditionFailed",
                "PreconditionRequired",
                "TooManyRequests",
                "InternalServerError",
                "ServiceUnavailable",
            ),
        },
        parameters=[P("IfMatch")],
    ),
}

# `/api/v1/users/me` is `/api/v1/users/{id}` for the signed-in user, every method.
paths["/api/v1/users/me"]["patch"] = {
    **paths["/api/v1/users/{id}"]["patch"],
    "operationId": "updateMe",
    "summary": "Update your account",
}
paths["/api/v1/users/me"]["delete"] = {
    **paths["/api/v1/users/{id}"]["delete"],
    "operationId": "deleteMe",
    "summary": "Delete your account",
}

# --- products
PRODUCT_LIST_PARAMETERS = [
    P("Limit"),
    P("Cursor"),
    {
        "name": "status",
        "in": "query",
        "description": "Filter by status (default: active).",
        "schema": {"type": "string", "enum": ["active", "archived"]},
    },
    {
        "name": "currency",
        "in": "query",
        "description": "Filter by price currency.",
        "schema": schema("Currency"),
    },
    {
        "name": "min_price",
        "in": "query",
        "description": "Lowest `price.amount_minor`, inclusive (at most `max_price`).",
        "schema": {"type": "integer", "minimum": 0, "maximum": 999999999999999999},
    },
    {
        "name": "max_price",
        "in": "query",
        "description": "Highest `price.amount_minor`, inclusive.",
        "schema": {"type": "integer", "minimum": 0, "maximum": 999999999999999999},
    },
    {
        "name": "sort",
        "in": "query",
        "description": "One key from the allow-list; `-` for descending.",
        "schema": {
            "type": "string",
            "enum": ["created_at", "-created_at", "price", "-price", "name", "-name"],
        },
    },
    {
        "name": "fields",
        "in": "query",
        "description": "Comma-separated members to return (allow-list: sku, name, "
        "description, price, stock, status, version, created_at, updated_at); `id` and "
        "`_links` always come.",
        "schema": {
            "type": "string",
            "pattern": "^(id|sku|name|description|price|stock|status|version|created_at|updated_at)"
            "(,(id|sku|name|description|price|stock|status|version|created_at|updated_at))*$",
        },
        "example": "sku,name,price",
    },
]
PRODUCT_INPUT_EXAMPLE = {
    "sku": "MUG-BLUE-350",
    "name": "Blue mug, 350 ml",
    "description": "Stoneware, dishwasher safe.",
    "price": {"amount_minor": 1299, "currency": "EUR"},
    "stock": 42,
    "status": "active",
}
paths["/api/v1/products"] = {
    "get": operation(
        "listProducts",
        "products",
        "List products",
        "The public catalogue, keyset-paginated, with filters, sort and field selection "
        "from allow-lists. A token is optional (if sent it must be valid).",
        OPTIONAL_TOKEN,
        {
            "200": ok(
                "A page of products.",
                schema("ProductList"),
                {
                    "items": [PRODUCT_EXAMPLE],
                    "_links": {
                        "self": {"href": "/api/v1/products?limit=20&sort=-created_at"},
                        "next": {
                            "href": "/api/v1/products?limit=20&sort=-created_at&cursor=eyJ2IjoxfQ.sig"
                        },
                    },
                },
                PRODUCT_HEADERS,
            ),
            **shared("BadRequest", "Unauthorized", "NotModified", *READ_ERRORS),
        },
        parameters=[*PRODUCT_LIST_PARAMETERS, P("IfNoneMatch")],
    ),
    "post": operation(
        "createProduct",
        "products",
        "Create a product",
        "Adds a product; the SKU must be unused (409).",
        scoped("products:write"),
        {
            "201": ok("Created.", schema("Product"), PRODUCT_EXAMPLE, ["Location", *PRODUCT_HEADERS]),
            **shared(
                *AUTH_ERRORS,
                "Conflict",
                "UnprocessableContent",
                *WRITE_ERRORS,
                *READ_ERRORS,
            ),
        },
        request_body=body(schema("ProductInput"), PRODUCT_INPUT_EXAMPLE),
    ),
}
paths["/api/v1/products/{id}"] = {
    "parameters": [P("ProductId")],
    "get": operation(
        "getProduct",
        "products",
        "Read a product",
        "Public; a token is optional.",
        OPTIONAL_TOKEN,
        {
            "200": ok("The product.", schema("Product"), PRODUCT_EXAMPLE, PRODUCT_HEADERS),
            **shared("BadRequest", "Unauthorized", "NotFound", "NotModified", *READ_ERRORS),
        },
        parameters=[P("IfNoneMatch")],
    ),
    "put": operation(
        "replaceProduct",
        "products",
        "Replace a product",
        "Replaces every member; `If-Match` required.",
        scoped("products:write"),
        {
            "200": ok("Replaced.", schema("Product"), PRODUCT_EXAMPLE, PRODUCT_HEADERS),
            **shared(
                *AUTH_ERRORS,
                "NotFound",
                "Conflict",
                "PreconditionFailed",
                "UnprocessableContent",
                "PreconditionRequired",
                *WRITE_ERRORS,
                *READ_ERRORS,
            ),
        },
        parameters=[P("IfMatch")],
        request_body=body(schema("ProductInput"), PRODUCT_INPUT_EXAMPLE),
    ),
    "patch": operation(
        "updateProduct",
        "products",
        "Update a product",
        "JSON Merge Patch (RFC 7396); `If-Match` required.",
        scoped("products:write"),
        {
            "200": ok("Updated.", schema("Product"), PRODUCT_EXAMPLE, PRODUCT_HEADERS),
            **shared(
                *AUTH_ERRORS,
                "NotFound",
                "Conflict",
                "PreconditionFailed",
                "UnprocessableContent",
                "PreconditionRequired",
                *WRITE_ERRORS,
                *READ_ERRORS,
            ),
        },
        parameters=[P("IfMatch")],
        request_body=body(
            schema("ProductPatch"),
            {"price": {"amount_minor": 1499, "currency": "EUR"}, "stock": 40},
            media=MERGE_PATCH,
        ),
    ),
    "delete": operation(
        "deleteProduct",
        "products",
        "Delete a product",
        "Deletes it; 409 while orders reference it (archive it instead).",
        scoped("products:write"),
        {
            "204": ok("Deleted.", extra_headers=["Cache-Control"]),
            **shared(
                *AUTH_ERRORS,
                "NotFound",
                "Conflict",
                "PreconditionFailed",
                "PreconditionRequired",
                "TooManyRequests",
                "InternalServerError",
                "ServiceUnavailable",
            ),
        },
        parameters=[P("IfMatch")],
    ),
}

# --- orders
ORDER_HEADERS = ("ETag", "Cache-Control", "Vary", *LIMIT_HEADERS)
paths["/api/v1/users/{id}/orders"] = {
    "parameters": [P("UserId")],
    "get": operation(
        "listUserOrders",
        "orders",
        "List a user's orders",
        "Your orders (any user's with `admin`), newest first, keyset-paginated (`next` "
        "and `prev` links carry signed cursors; `prev` leads back through the same pages), "
        "with status filter, sort and field selection from allow-lists. Someone else's "
        "list is 403/404.",
        scoped("orders:read"),
        {
            "200": ok(
                "A page of orders.",
                schema("OrderList"),
                {
                    "orders": [
                        {
                            k: v
                            for k, v in ORDER_EXAMPLE.items()
                            if k not in ("items", "_links")
                        }
                        | {"_links": {"self": ORDER_EXAMPLE["_links"]["self"]}}
                    ],
                    "_links": {
                        "self": {
                            "href": f"/api/v1/users/{USER_ID_EXAMPLE}/orders?limit=20"
                            "&sort=-created_at&cursor=eyJrIjoxfQ.sig"
                        },
                        "next": {
                            "href": f"/api/v1/users/{USER_ID_EXAMPLE}/orders?limit=20"
                            "&sort=-created_at&cursor=eyJrIjoyfQ.sig"
                        },
                        "prev": {
                            "href": f"/api/v1/users/{USER_ID_EXAMPLE}/orders?limit=20"
                            "&sort=-created_at&cursor=eyJrIjozLCJiIjp0cnVlfQ.sig"
                        },
                    },
                },
                ORDER_HEADERS,
            ),
            **shared(*AUTH_ERRORS, "NotFound", "NotModified", *READ_ERRORS),
        },
        parameters=[
            P("Limit"),
            P("Cursor"),
            {"name": "status", "in": "query", "schema": schema("OrderStatus")},
            {
                "name": "sort",
                "in": "query",
                "schema": {
                    "type": "string",
                    "enum": ["-created_at", "created_at", "-total", "total"],
                },
            },
            {
                "name": "fields",
                "in": "query",
                "description": "Comma-separated members (allow-list: id, user_id, status, "
                "currency, total_minor, version, created_at, updated_at); `id` and `_links` "
                "always come.",
                "schema": {
                    "type": "string",
                    "pattern": "^(id|user_id|status|currency|total_minor|version|created_at|updated_at)"
                    "(,(id|user_id|status|currency|total_minor|version|created_at|updated_at))*$",
                },
                "example": "status,total_minor",
            },
            P("IfNoneMatch"),
        ],
    ),
    "post": operation(
        "placeOrder",
        "orders",
        "Place an order",
        "For yourself (anyone with `admin`). Stock is reserved atomically (never "
        "oversold); prices are captured. Send `Idempotency-Key` to retry safely.",
        scoped("orders:write"),
        {
            "201": ok(
                "Placed (or the replay of the first response for this Idempotency-Key).",
                schema("Order"),
                ORDER_EXAMPLE,
                ["Location", "ETag", "Cache-Control", "Idempotent-Replayed", *LIMIT_HEADERS],
            ),
            "409": {
                "description": "Out of stock (with `sku`, `requested`, `available`), or "
                "the first request with this Idempotency-Key is still running "
                "(`Retry-After`).",
                "headers": {
                    **headers(),
                    "Retry-After": {
                        "description": "With an Idempotency-Key still in progress: seconds "
                        "until the first request should have finished.",
                        "schema": {"type": "integer", "minimum": 0},
                    },
                },
                "content": problem_content(
                    409, "Conflict", "Not enough stock for MUG-BLUE-350.", type_name="out-of-stock"
                ),
            },
            "422": problem_response(
                422,
                "Unprocessable Entity",
                "A product does not exist or is not for sale, the lines mix currencies, "
                "or the Idempotency-Key was used with another body.",
                "The Idempotency-Key was used with a different request.",
            ),
            **shared(*AUTH_ERRORS, "NotFound", *WRITE_ERRORS, *READ_ERRORS),
        },
        parameters=[P("IdempotencyKey")],
        request_body=body(
            schema("PlaceOrder"),
            {"items": [{"product_id": PRODUCT_ID_EXAMPLE, "quantity": 2}]},
        ),
    ),
}
paths["/api/v1/orders/{id}"] = {
    "parameters": [P("OrderId")],
    "get": operation(
        "getOrder",
        "orders",
        "Read an order",
        "Your own order, or any with `admin`; someone else's is 404.",
        scoped("orders:read"),
        {
            "200": ok("The order.", schema("Order"), ORDER_EXAMPLE, ORDER_HEADERS),
            **shared(*AUTH_ERRORS, "NotFound", "NotModified", *READ_ERRORS),
        },
        parameters=[P("IfNoneMatch")],
    ),
    "patch": operation(
        "updateOrderStatus",
        "orders",
        "Change an order's status",
        "pending → paid → shipped → delivered; pending or paid → cancelled (stock is "
        "restored). Anything else is 409. `If-Match` required.",
        scoped("orders:write"),
        {
            "200": ok("Changed.", schema("Order"), ORDER_EXAMPLE, ORDER_HEADERS),
            **shared(
                *AUTH_ERRORS,
                "NotFound",
                "Conflict",
                "PreconditionFailed",
                "PreconditionRequired",
                *WRITE_ERRORS,
                *READ_ERRORS,
            ),
        },
        parameters=[P("IfMatch")],
        request_body=body(
            schema("OrderPatch"), {"status": "cancelled"}, media=MERGE_PATCH, extra_media=[JSON]
        ),
    ),
}

# --- docs
DOCS_HEADERS = ("ETag", "Cache-Control", "Vary")
paths["/openapi.json"] = {
    "get": operation(
        "getOpenApiDocument",
        "docs",
        "This document",
        "The OpenAPI 3.1 document, `application/json` (or `application/openapi+json` "
        "when asked for).",
        PUBLIC,
        {
            "200": {
                "description": "The document.",
                "headers": headers(*DOCS_HEADERS),
                "content": {
                    JSON: {"schema": {"type": "object"}},
                    "application/openapi+json": {"schema": {"type": "object"}},
                },
            },
            **shared("NotModified", "NotAcceptable", "InternalServerError"),
        },
        parameters=[P("IfNoneMatch")],
    )
}
paths["/docs"] = {
    "get": operation(
        "getDocsPage",
        "docs",
        "This document as HTML",
        "Rendered on the server: no script, no CDN, its own strict CSP.",
        PUBLIC,
        {
            "200": ok("The page.", {"type": "string"}, None, DOCS_HEADERS, media=HTML),
            **shared("NotModified", "NotAcceptable", "InternalServerError"),
        },
        parameters=[P("IfNoneMatch")],
    )
}

# ------------------------------------------------------------------ rate-limit policies
# The policy name each component announces in `RateLimit-Policy` and whom it counts.
CALLER = "OAuth client (the token's client_id), else client address"
for path, item in paths.items():
    for method, op in item.items():
        if method == "parameters":
            continue
        limit = op["x-rate-limit"]
        if path.startswith("/api/v1/products"):
            limit.update(policy="products", key=CALLER)
        elif path.endswith("/orders") or path.startswith("/api/v1/orders"):
            limit.update(policy="orders", key=CALLER)
        elif path == "/api/v1/users" and method == "post":
            limit.update(policy="register")
        elif path.startswith("/api/v1/users"):
            limit.update(
                policy="api",
                key="caller: the token's client_id and subject, else client address",
            )
        elif path == "/oauth2/token":
            limit.update(policy="token")
        elif (
            path.startswith(("/oauth2/", "/.well-known/"))
            or op["operationId"] == "getLogin"
        ):
            # identity's per-address policy for every route without one of its own.
            limit.update(policy="oauth")
        elif op["operationId"] != "postLogin":
            # No quota of its own in the component today (see the report of the
            # contract work): say so rather than promise one.
            op["x-rate-limit"] = {
                "limit": None,
                "note": "not rate-limited by this route's component",
            }
            continue
        if limit["key"] == "client address":
            limit["key"] = "client address (IPv4, or the IPv6 /64)"

# ------------------------------------------------------------------ links
# OpenAPI links (§4.8.20): what a client can do next with a created resource, with the id
# from the body and the ETag for If-Match. Tools (and schemathesis' stateful phase)
# follow them.


def link(operation_id, description, if_match=False):
    parameters = {"id": "$response.body#/id"}
    if if_match:
        parameters["header.If-Match"] = "$response.header.ETag"
    return {"operationId": operation_id, "description": description, "parameters": parameters}


def add_links(path, method, status, links):
    response = paths[path][method]["responses"][status]
    response["links"] = links


for path, method, status in [
    ("/api/v1/products", "post", "201"),
    ("/api/v1/products/{id}", "put", "200"),
    ("/api/v1/products/{id}", "patch", "200"),
]:
    add_links(
        path,
        method,
        status,
        {
            "GetProduct": link("getProduct", "Read the product."),
            "ReplaceProduct": link("replaceProduct", "Replace it, at this version.", True),
            "UpdateProduct": link("updateProduct", "Merge-patch it, at this version.", True),
            "DeleteProduct": link("deleteProduct", "Delete it, at this version.", True),
        },
    )
for path, method, status in [
    ("/api/v1/users/{id}/orders", "post", "201"),
    ("/api/v1/orders/{id}", "patch", "200"),
]:
    add_links(
        path,
        method,
        status,
        {
            "GetOrder": link("getOrder", "Read the order."),
            "UpdateOrderStatus": link("updateOrderStatus", "Change its status, at this version.", True),
        },
    )

# ------------------------------------------------------------------ the document

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
        "title": "Orderly API",
        "version": "1.0.0",
        "summary": "A secure REST API: catalogue, orders, users, OAuth 2.0 / OpenID Connect.",
        "description": "Every response carries `X-Request-Id` and `traceparent`; every "
        "error is an RFC 9457 problem document (`application/problem+json`) with the "
        "request id, except on the OAuth endpoints, which answer RFC 6749 errors. "
        "Protected operations take an RFC 9068 access token (ES256 JWT) as "
        "`Authorization: Bearer …` and need the scopes listed per operation (`admin` "
        "satisfies any). Reads carry an `ETag` (`If-None-Match` → 304); changes to an "
        "existing resource need `If-Match` (428 without, 412 when stale). Lists are "
        "keyset-paginated with opaque signed cursors and a capped `limit`. Rate limits "
        "(per OAuth client or client address, per account for sign-in) are announced in "
        "`RateLimit-Policy`/`RateLimit` and enforced with 429 + `Retry-After`; each "
        "operation's `x-rate-limit` names its quota, or says it has none. JSON integers "
        "must be written as integers: `1.0` where an integer is expected is a 400 "
        "`invalid_type`, and unknown members of a request body are a 400 too.\n\nResponses are compressed (br, "
        "gzip) by `Accept-Encoding` above a size threshold.",
        "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
    },
    "servers": [
        {"url": "http://127.0.0.1:3000", "description": "Local (`cargo xtask up`)."},
    ],
    "tags": [
        {"name": "health", "description": "Liveness and readiness."},
        {"name": "identity", "description": "OAuth 2.0 authorization server and OpenID Connect provider."},
        {"name": "users", "description": "Accounts."},
        {"name": "products", "description": "The catalogue."},
        {"name": "orders", "description": "Orders."},
        {"name": "docs", "description": "This documentation."},
    ],
    "paths": paths,
    "components": {
        "securitySchemes": {
            "oauth2": {
                "type": "oauth2",
                "description": "Authorization code with PKCE (S256 only; `code_challenge` "
                "required) for users, client credentials for machines. Access tokens are "
                "ES256 JWTs (RFC 9068, 15 minutes); refresh tokens rotate on every use.",
                "flows": {
                    "authorizationCode": {
                        "authorizationUrl": "/oauth2/authorize",
                        "tokenUrl": "/oauth2/token",
                        "refreshUrl": "/oauth2/token",
                        "scopes": {**OIDC_SCOPES, **API_SCOPES},
                    },
                    "clientCredentials": {
                        "tokenUrl": "/oauth2/token",
                        "scopes": dict(API_SCOPES),
                    },
                },
            },
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "An access token from /oauth2/token in `Authorization: "
                "Bearer …` (RFC 6750 §2.1; never in the query or body). The listed "
                "scopes are required.",
            },
            "clientSecretBasic": {
                "type": "http",
                "scheme": "basic",
                "description": "OAuth client authentication at the token, revocation "
                "and introspection endpoints (RFC 6749 §2.3.1): client_id and secret.",
            },
        },
        "schemas": SCHEMAS,
        "responses": RESPONSES,
        "parameters": PARAMETERS,
        "headers": HEADERS,
    },
}


def render():
    return json.dumps(DOCUMENT, indent=2, ensure_ascii=False) + "\n"


def main(argv):
    text = render()
    if "--check" in argv:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print(f"{OUT} is stale: run python3 openapi/generate.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
