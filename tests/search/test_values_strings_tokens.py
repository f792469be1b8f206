"""String and token value functions (https://hl7.org/fhir/R4/search.html#string, #token)."""

from __future__ import annotations

from ehr.search.index_rows import StringRow, TokenRow
from ehr.search.values.strings import fold, string_row, strings_from_address, strings_from_human_name
from ehr.search.values.tokens import (
    tokens_from_codeable_concept,
    tokens_from_coding,
    tokens_from_contact_point,
    tokens_from_identifier,
    tokens_from_primitive,
)


def test_fold_drops_case_and_accents() -> None:
    assert fold("Bénédicte du MARCHÉ") == "benedicte du marche"
    assert fold("Straße") == "strasse"
    assert fold("ﬁle") == "file"  # NFKD compatibility decomposition


def test_string_row_keeps_the_exact_value() -> None:
    assert string_row("name", "Ángel") == [StringRow("name", "angel", "Ángel")]
    assert string_row("name", "  ") == []
    assert string_row("name", 12) == []


def test_human_name_parts() -> None:
    name = {
        "text": "Dr Peter J Chalmers",
        "family": "Chalmers",
        "given": ["Peter", "James"],
        "prefix": ["Dr"],
    }
    assert [r.exact for r in strings_from_human_name("name", name)] == [
        "Dr Peter J Chalmers",
        "Chalmers",
        "Peter",
        "James",
        "Dr",
    ]


def test_address_parts() -> None:
    address = {"line": ["534 Erewhon St"], "city": "PleasantVille", "postalCode": "3999", "use": "home"}
    assert [r.exact for r in strings_from_address("address", address)] == [
        "534 Erewhon St",
        "PleasantVille",
        "3999",
    ]
    assert strings_from_address("address", "not an address") == []


def _text(param: str, text: str) -> StringRow:
    return StringRow(f"{param}:text", fold(text), text)


def test_coding_and_codeable_concept() -> None:
    coding = {"system": "http://loinc.org", "code": "29463-7", "display": "Body Weight"}
    assert tokens_from_coding("code", coding) == [TokenRow("code", "http://loinc.org", "29463-7"),
                                                  _text("code", "Body Weight")]
    concept = {"coding": [coding, {"code": "x"}], "text": "Weight"}
    assert tokens_from_codeable_concept("code", concept) == [
        TokenRow("code", "http://loinc.org", "29463-7"),
        _text("code", "Body Weight"),
        TokenRow("code", None, "x"),
        _text("code", "Weight"),
    ]


def test_every_text_of_a_concept_is_a_text_row() -> None:
    """CodeableConcept.text and each Coding.display, even of a coding with neither system nor code
    (https://hl7.org/fhir/R4/search.html#token, ``:text``)."""
    concept = {"coding": [{"system": "urn:a", "code": "1", "display": "Ángel"}, {"display": "Second"}],
               "text": "Written"}
    rows = tokens_from_codeable_concept("code", concept)
    assert [r for r in rows if isinstance(r, TokenRow)] == [TokenRow("code", "urn:a", "1")]
    assert [r for r in rows if isinstance(r, StringRow)] == [
        _text("code", "Ángel"), _text("code", "Second"), _text("code", "Written")]
    assert tokens_from_coding("class", {"display": "Only a display"}) == [_text("class", "Only a display")]
    assert tokens_from_coding("class", {"code": "x", "display": " "}) == [TokenRow("class", None, "x")]


def test_codeable_concept_with_only_text_is_searchable_by_text() -> None:
    assert tokens_from_codeable_concept("code", {"text": "Horse"}) == [TokenRow("code", None, None),
                                                                       _text("code", "Horse")]
    assert tokens_from_codeable_concept("code", {"coding": [{"display": "Horse"}]}) == [_text("code", "Horse")]
    assert tokens_from_codeable_concept("code", {}) == []


def test_identifier_uses_type_text() -> None:
    identifier = {"system": "urn:oid:1.2.36", "value": "12345", "type": {"text": "MRN"}}
    assert tokens_from_identifier("identifier", identifier) == [
        TokenRow("identifier", "urn:oid:1.2.36", "12345"), _text("identifier", "MRN")
    ]
    assert tokens_from_identifier("identifier", {"system": "x"}) == []
    assert tokens_from_identifier("identifier", {"type": {"text": "MRN"}}) == [_text("identifier", "MRN")]


def test_identifier_type_codings_give_of_type_rows() -> None:
    v2 = "http://terminology.hl7.org/CodeSystem/v2-0203"
    identifier = {"system": "urn:mrn", "value": "12345",
                  "type": {"coding": [{"system": v2, "code": "MR"}, {"code": "no-system"}], "text": "MRN"}}
    assert tokens_from_identifier("identifier", identifier) == [
        TokenRow("identifier", "urn:mrn", "12345"),
        TokenRow("identifier:of-type", v2, "MR|12345"),
        _text("identifier", "MRN"),
    ]


def test_contact_point_system_is_the_token_system() -> None:
    assert tokens_from_contact_point("telecom", {"system": "phone", "value": "555"}) == [
        TokenRow("telecom", "phone", "555")
    ]


def test_primitives() -> None:
    assert tokens_from_primitive("active", True) == [TokenRow("active", None, "true")]
    assert tokens_from_primitive("active", False) == [TokenRow("active", None, "false")]
    assert tokens_from_primitive("status", "final") == [TokenRow("status", None, "final")]
    assert tokens_from_primitive("status", "") == []
    assert tokens_from_primitive("status", None) == []
