"""Open discovery routes of SMART on FHIR: ``/.well-known/smart-configuration`` (at the server root and
under ``/fhir``, where clients look) and the built-in authorization server's public keys at ``/auth/jwks``.

Spec: https://hl7.org/fhir/smart-app-launch/conformance.html (SMART App Launch 2.x §Conformance), RFC 7517 §5.

With an external identity provider (``Settings.auth_jwks_url``), the document names that issuer, its
JWKS and the endpoints configured in ``auth_authorize_url`` / ``auth_token_url`` (omitted when not set);
``/auth/jwks`` then answers 404, since this server signs nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from ehr.api.bearer import expected_issuer, origin
from ehr.auth.signing import SigningKeys
from ehr.auth.tokens import CONTEXT_SCOPES
from ehr.errors import NotFound
from ehr.settings import Settings

router = APIRouter(include_in_schema=False)
#: what the built-in server and this resource server implement (SMART 2.x §Capability sets)
CAPABILITIES = ("launch-ehr", "launch-standalone", "client-public", "client-confidential-asymmetric",
                "context-ehr-patient", "context-standalone-patient", "permission-offline", "permission-v1",
                "permission-v2", "permission-patient", "permission-user")
SIGNING_ALGORITHMS = ("RS384", "ES384")
_HEADERS = {"Cache-Control": "public, max-age=300"}


def smart_configuration(request: Request) -> dict[str, Any]:
    """The SMART configuration document for this server and the issuer it trusts."""
    settings: Settings = request.app.state.settings
    issuer = expected_issuer(request, settings)
    external = bool(settings.auth_jwks_url)
    endpoints = {"authorization_endpoint": settings.auth_authorize_url,
                 "token_endpoint": settings.auth_token_url} if external else \
        {"authorization_endpoint": f"{issuer}/authorize", "token_endpoint": f"{issuer}/token",
         "introspection_endpoint": f"{issuer}/introspect"}
    return {
        "issuer": issuer,
        "jwks_uri": settings.auth_jwks_url or f"{origin(request)}/auth/jwks",
        **{k: v for k, v in endpoints.items() if v},
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "scopes_supported": [*CONTEXT_SCOPES, "patient/*.cruds", "user/*.cruds", "system/*.cruds",
                             "patient/*.read", "user/*.read", "system/*.read"],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": list(CAPABILITIES),
    }


def security_of(request: Request) -> dict[str, Any] | None:
    """``CapabilityStatement.rest.security`` (SMART 2.x §Conformance, the oauth-uris extension); None in
    development mode."""
    if request.app.state.settings.auth == "dev":
        return None
    config = smart_configuration(request)
    uris = [{"url": name, "valueUri": config[key]} for name, key in
            (("authorize", "authorization_endpoint"), ("token", "token_endpoint"),
             ("introspect", "introspection_endpoint")) if key in config]
    return {
        "extension": [{"url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                       "extension": uris}],
        "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                 "code": "SMART-on-FHIR"}], "text": "OAuth2 using SMART-on-FHIR profile"}],
        "description": "Send Authorization: Bearer <access token>; see .well-known/smart-configuration.",
    }


@router.get("/.well-known/smart-configuration")
@router.get("/fhir/.well-known/smart-configuration")
def well_known(request: Request) -> Response:
    return JSONResponse(smart_configuration(request), headers=_HEADERS)


@router.get("/auth/jwks")
def jwks(request: Request) -> Response:
    """The public keys that verify this server's tokens (RFC 7517 §5)."""
    keys: SigningKeys | None = request.app.state.signing_keys
    if keys is None:
        raise NotFound("This server signs no tokens (development mode, or an external identity provider "
                       "is configured); fetch the keys from the identity provider's jwks_uri.")
    return JSONResponse(keys.public_jwks(), headers=_HEADERS)
