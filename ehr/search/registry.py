"""The search-parameter registry: every official FHIR R4 SearchParameter this server indexes.

Loaded once from ``ehr/search/data/search_parameters.json`` (derived from the official package by
``scripts/derive_search_parameters.py``) into frozen :class:`SearchParam` descriptions.  A parameter
whose ``base`` is ``Resource`` (``_id``, ``_lastUpdated``, ``_tag``, ``_profile``, ``_security``,
``_source``) applies to every resource type; ``DomainResource`` ones apply to all but Bundle, Binary and
Parameters.

Not in the registry: parameters without a FHIRPath expression (``_text``, ``_content``, ``_query``,
``_filter``), experimental extension-based ones, and those on R4 resource types that ``fhir.resources``
R4B does not model (MedicinalProduct*, Substance{NucleicAcid,Polymer,Protein,...}, *EvidenceSynthesis).

Spec: https://hl7.org/fhir/R4/searchparameter-registry.html, https://hl7.org/fhir/R4/search.html#ptypes,
Patient compartment: https://hl7.org/fhir/R4/compartmentdefinition-patient.html
"""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any

NON_DOMAIN_RESOURCES = frozenset({"Bundle", "Binary", "Parameters"})


class ParamKind(enum.Enum):
    """The closed set of search parameter types (https://hl7.org/fhir/R4/search.html#ptypes)."""

    NUMBER = "number"
    DATE = "date"
    STRING = "string"
    TOKEN = "token"  # noqa: S105 (a parameter type, not a secret)
    REFERENCE = "reference"
    COMPOSITE = "composite"
    QUANTITY = "quantity"
    URI = "uri"
    SPECIAL = "special"


@dataclass(frozen=True, slots=True)
class Component:
    """One part of a composite parameter; ``expression`` is relative to the composite's own expression.

    Spec: https://hl7.org/fhir/R4/search.html#composite
    """

    code: str
    type: ParamKind
    expression: str
    definition: str


@dataclass(frozen=True, slots=True)
class SearchParam:
    """One SearchParameter as this server indexes and queries it."""

    code: str
    type: ParamKind
    base: tuple[str, ...]
    expression: str
    targets: tuple[str, ...] = ()
    components: tuple[Component, ...] = ()
    url: str = ""
    multiple_or: bool | None = None
    multiple_and: bool | None = None
    modifiers: tuple[str, ...] = ()
    comparators: tuple[str, ...] = ()


def _read_json(name: str) -> Any:
    text = resources.files("ehr.search").joinpath("data", name).read_text(encoding="utf-8")
    return json.loads(text)


def parse_param(entry: Mapping[str, Any]) -> SearchParam:
    """Turn one entry of ``search_parameters.json`` into a :class:`SearchParam`."""
    return SearchParam(
        code=entry["code"],
        type=ParamKind(entry["type"]),
        base=tuple(entry["base"]),
        expression=entry["expression"],
        targets=tuple(entry.get("target", ())),
        components=tuple(
            Component(c["code"], ParamKind(c["type"]), c["expression"], c["definition"])
            for c in entry.get("component", ())
        ),
        url=entry.get("url", ""),
        multiple_or=entry.get("multipleOr"),
        multiple_and=entry.get("multipleAnd"),
        modifiers=tuple(entry.get("modifier", ())),
        comparators=tuple(entry.get("comparator", ())),
    )


def _applies_to(param: SearchParam, resource_type: str) -> bool:
    if resource_type in param.base or "Resource" in param.base:
        return True
    return "DomainResource" in param.base and resource_type not in NON_DOMAIN_RESOURCES


@dataclass(frozen=True, slots=True, eq=False)
class Registry:
    """All search parameters by resource type, plus the Patient compartment definition.

    Compared and hashed by identity, so that compiled extractors can be cached per registry.
    """

    resource_types: frozenset[str]
    by_type: Mapping[str, Mapping[str, SearchParam]]
    compartment: Mapping[str, tuple[str, ...]]

    @staticmethod
    def load() -> Registry:
        """The registry built from the packaged data files (parsed once, then cached)."""
        return _load_packaged()

    @staticmethod
    def build(resource_types: list[str], params: list[SearchParam], compartment: Mapping[str, list[str]]) -> Registry:
        """Build a registry from explicit parts (the packaged data, or a test's own)."""
        by_type = {
            rtype: MappingProxyType({p.code: p for p in params if _applies_to(p, rtype)})
            for rtype in sorted(resource_types)
        }
        return Registry(
            resource_types=frozenset(resource_types),
            by_type=MappingProxyType(by_type),
            compartment=MappingProxyType({k: tuple(v) for k, v in compartment.items()}),
        )

    def params_for(self, resource_type: str) -> Mapping[str, SearchParam]:
        """Parameters that apply to ``resource_type``, by code (including ``_id``, ``_lastUpdated``...).

        Raises ``KeyError`` for a type outside :attr:`resource_types`.
        """
        try:
            return self.by_type[resource_type]
        except KeyError:
            raise KeyError(
                f"{resource_type!r} is not a FHIR R4 resource type this server supports; "
                "use one of Registry.resource_types"
            ) from None

    def patient_compartment(self, resource_type: str) -> tuple[str, ...]:
        """Codes of the parameters linking ``resource_type`` to a Patient; empty when it is not in the
        compartment (https://hl7.org/fhir/R4/compartmentdefinition-patient.html)."""
        return self.compartment.get(resource_type, ())


@functools.cache
def _load_packaged() -> Registry:
    params = [parse_param(entry) for entry in _read_json("search_parameters.json")]
    return Registry.build(_read_json("resource_types.json"), params, _read_json("compartment_patient.json"))
