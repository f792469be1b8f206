"""Reading an operation's input ``Parameters`` (https://hl7.org/fhir/R4/parameters.html)."""

from __future__ import annotations

from typing import Any

from ehr.errors import BadRequest


class Arguments:
    """The named input parameters of one operation call."""

    def __init__(self, body: dict[str, Any], operation: str) -> None:
        if body.get("resourceType") != "Parameters":
            raise BadRequest(f"{operation} takes a Parameters resource as its body.")
        self.operation = operation
        self.values: dict[str, list[dict[str, Any]]] = {}
        for param in body.get("parameter") or []:
            if isinstance(param, dict) and isinstance(param.get("name"), str):
                self.values.setdefault(param["name"], []).append(param)

    def _one(self, name: str) -> dict[str, Any] | None:
        found = self.values.get(name, [])
        if len(found) > 1:
            raise BadRequest(f"{self.operation} takes one '{name}' parameter, not {len(found)}.")
        return found[0] if found else None

    def resource(self, name: str) -> dict[str, Any] | None:
        param = self._one(name)
        if param is None:
            return None
        if not isinstance(param.get("resource"), dict):
            raise BadRequest(f"{self.operation}: parameter '{name}' must carry a resource.")
        resource: dict[str, Any] = param["resource"]
        return resource

    def boolean(self, name: str, default: bool) -> bool:
        param = self._one(name)
        if param is None:
            return default
        value = param.get("valueBoolean")
        if not isinstance(value, bool):
            raise BadRequest(f"{self.operation}: parameter '{name}' must be a valueBoolean.")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        param = self._one(name)
        if param is None:
            return default
        value = param.get("valueInteger", param.get("valuePositiveInt"))
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise BadRequest(f"{self.operation}: parameter '{name}' must be a whole number from {low} to {high}.")
        return value

    def code(self, name: str, allowed: tuple[str, ...]) -> str:
        param = self._one(name)
        value = None if param is None else param.get("valueCode", param.get("valueString"))
        if value not in allowed:
            raise BadRequest(f"{self.operation} needs parameter '{name}' with one of: {', '.join(allowed)}.")
        return str(value)

    def reference(self, name: str, resource_type: str) -> str:
        """The id in a ``valueReference`` (``Type/id``) or ``valueString`` parameter; required."""
        param = self._one(name)
        if param is None:
            raise BadRequest(f"{self.operation} needs parameter '{name}' (a reference to a {resource_type}).")
        value = param.get("valueReference", {}).get("reference") if "valueReference" in param \
            else param.get("valueString")
        text = str(value or "")
        kind, _, rid = text.rpartition("/")
        if kind.rsplit("/", 1)[-1] not in ("", resource_type) or not rid:
            raise BadRequest(f"{self.operation}: parameter '{name}' must reference a {resource_type} "
                             f"({resource_type}/id), not {text!r}.")
        return rid
