"""The one exception hierarchy of the records service.

Every failure an interaction can report is one of these classes. Each knows its HTTP status and its
FHIR ``OperationOutcome.issue.code``; the HTTP layer turns any of them into an OperationOutcome in
exactly one handler (``ehr.api.errors``). Library errors are translated where the library is called
(pydantic's ``ValidationError`` in ``ehr.fhir.validation``, SQLAlchemy's ``IntegrityError`` in the
store), so nothing else ever reaches a client as a 5xx.

Hierarchy::

    FhirError                      500 exception   (base; never raised directly)
    ├── BadRequest                 400 invalid     malformed JSON, bad parameter, bad Bundle
    │   └── UnknownParameter       400 not-supported
    ├── Unauthorized               401 login
    ├── Forbidden                  403 forbidden
    ├── NotFound                   404 not-found   unknown id or version
    │   └── UnknownResourceType    404 not-supported
    ├── MethodNotAllowed           405 not-supported
    ├── NotAcceptable              406 not-supported
    ├── Conflict                   409 conflict    version conflict, id clash
    ├── Gone                       410 deleted
    │   └── Erased                 410 deleted     the patient's data key was destroyed (crypto-shredding)
    ├── PreconditionFailed         412 conflict    If-Match on a stale version, ambiguous conditional
    ├── PayloadTooLarge            413 too-long
    ├── UnsupportedMediaType       415 not-supported
    ├── Unprocessable              422 processing  invalid resource (carries element paths)
    ├── ServiceUnavailable         503 transient   a part of the service (the key service) is not answering
    └── StoredDataUnreadable       500 exception   a stored payload failed its integrity check

Every message says what to do next.

Spec: https://hl7.org/fhir/R4/http.html#summary, https://hl7.org/fhir/R4/operationoutcome.html
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class Issue:
    """One ``OperationOutcome.issue``: what is wrong, where (a FHIRPath ``expression``), what to do."""

    diagnostics: str
    code: str = "invalid"
    severity: str = "error"
    expression: tuple[str, ...] = ()

    def to_fhir(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            out["expression"] = list(self.expression)
        return out


class FhirError(Exception):
    """Base of every error the service reports to a client."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "exception"

    def __init__(self, message: str, *, issues: list[Issue] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.issues = issues or [Issue(message, code=self.code)]
        self.headers = headers or {}

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.issues)


class BadRequest(FhirError):
    status = 400
    code = "invalid"


class UnknownParameter(BadRequest):
    code = "not-supported"


class Unauthorized(FhirError):
    status = 401
    code = "login"


class Forbidden(FhirError):
    status = 403
    code = "forbidden"


class NotFound(FhirError):
    status = 404
    code = "not-found"


class UnknownResourceType(NotFound):
    code = "not-supported"


class MethodNotAllowed(FhirError):
    status = 405
    code = "not-supported"


class NotAcceptable(FhirError):
    status = 406
    code = "not-supported"


class Conflict(FhirError):
    status = 409
    code = "conflict"


class Gone(FhirError):
    status = 410
    code = "deleted"


class Erased(Gone):
    """Every version of the resource was sealed under a data key that was destroyed on purpose."""


class PreconditionFailed(FhirError):
    status = 412
    code = "conflict"


class PayloadTooLarge(FhirError):
    status = 413
    code = "too-long"


class UnsupportedMediaType(FhirError):
    status = 415
    code = "not-supported"


class Unprocessable(FhirError):
    status = 422
    code = "processing"


class ServiceUnavailable(FhirError):
    status = 503
    code = "transient"


class StoredDataUnreadable(FhirError):
    """A stored payload did not decrypt: it, its key row or its place was changed outside the service.
    Deliberately says nothing more (the cause stays opaque)."""

    status = 500
    code = "exception"


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    """An OperationOutcome resource (as JSON) holding ``issues``."""
    return {"resourceType": "OperationOutcome", "issue": [i.to_fhir() for i in issues]}


def information(message: str) -> dict[str, Any]:
    """An informational OperationOutcome, for ``Prefer: return=OperationOutcome``."""
    return operation_outcome([Issue(message, code="informational", severity="information")])
