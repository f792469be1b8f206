"""OAuth 2.0 error responses: https://www.rfc-editor.org/rfc/rfc6749#section-5.2 (token endpoint),
§4.1.2.1 (authorization endpoint). The HTTP layer answers ``{"error": ..., "error_description": ...}``."""

from __future__ import annotations


class OAuthError(Exception):
    """``error`` is an RFC 6749 code (``invalid_request``, ``invalid_client``, ``invalid_grant``,
    ``unauthorized_client``, ``unsupported_grant_type``, ``invalid_scope``, ``access_denied``);
    ``description`` says what to do next and never holds a secret."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = 401 if error == "invalid_client" else status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}
