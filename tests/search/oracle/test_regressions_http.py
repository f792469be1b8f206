"""Server bugs the oracle suite found, each pinned over HTTP on both engines."""

from __future__ import annotations

import httpx


def _ids(client: httpx.Client, resource_type: str, **params: str) -> set[str]:
    response = client.get(resource_type, params=params)
    assert response.status_code == 200, response.text
    return {e["resource"]["id"] for e in response.json().get("entry", [])}


def test_ge_and_le_follow_the_prefix_table_for_ranges(client: httpx.Client) -> None:
    """ge is gt or eq (https://hl7.org/fhir/R4/search.html#prefix): a period that starts before 2021 and
    ends inside it is neither above 2021 nor within it."""
    periods = {"across": {"start": "2020-12-31T23:59:59Z", "end": "2021-03"}, "open": {"start": "2021-03-15"},
               "within": {"start": "2021-02", "end": "2021-03"}, "after": {"start": "2022-01-01", "end": "2022-02"}}
    for name, period in periods.items():
        body = {"resourceType": "Encounter", "id": name, "status": "finished", "period": period,
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}}
        assert client.put(f"Encounter/{name}", json=body).status_code == 201
    assert _ids(client, "Encounter", date="ge2021") == {"open", "within", "after"}
    assert _ids(client, "Encounter", date="le2021-03") == {"across", "within"}
    assert _ids(client, "Encounter", date="le2021") == {"across", "within"}


def test_id_with_a_system_matches_nothing(client: httpx.Client) -> None:
    """_id is a token without a system: ``urn:x|a`` matches nothing, ``|a`` (no system) matches ``a``."""
    assert client.put("Patient/a", json={"resourceType": "Patient", "id": "a"}).status_code == 201
    assert _ids(client, "Patient", _id="urn:other|a") == set()
    assert _ids(client, "Patient", _id="|a") == {"a"}


def test_deceased_false_finds_patients_without_a_deceased_element(client: httpx.Client) -> None:
    """Patient ``deceased`` is ``deceased.exists() and deceased != false``: false when absent."""
    for pid, extra in {"alive": {}, "no": {"deceasedBoolean": False}, "yes": {"deceasedBoolean": True}}.items():
        assert client.put(f"Patient/{pid}", json={"resourceType": "Patient", "id": pid, **extra}).status_code == 201
    assert _ids(client, "Patient", deceased="false") == {"alive", "no"}
    assert _ids(client, "Patient", deceased="true") == {"yes"}


def test_a_page_read_along_the_index_lists_each_match_once(client: httpx.Client) -> None:
    """Two codings with the same code (two token rows of one resource) and pages of two: every match once."""
    coding = {"system": "http://loinc.org", "code": "8867-4"}
    for n in range(5):
        codings = [{**coding, "display": "Heart rate"}, {**coding, "display": "Pulse"}] if n % 2 else [coding]
        body = {"resourceType": "Observation", "id": f"o{n}", "status": "final", "code": {"coding": codings}}
        assert client.put(f"Observation/o{n}", json=body).status_code == 201
    seen: list[str] = []
    response = client.get("Observation", params={"code": "http://loinc.org|8867-4", "_count": "2"})
    while True:
        bundle = response.json()
        seen.extend(e["resource"]["id"] for e in bundle.get("entry", []))
        following = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not following:
            break
        response = client.get(following[0])
    assert seen == ["o0", "o1", "o2", "o3", "o4"]


def test_uri_above_finds_a_stored_url_written_with_a_trailing_slash(client: httpx.Client) -> None:
    """``url:above=.../legacy/v2`` finds a ValueSet whose url is ``.../legacy/``: it is a path prefix of the
    searched URL (https://hl7.org/fhir/R4/search.html#uri), the slash ending no segment."""
    urls = {"slash": "http://example.org/fhir/ValueSet/legacy/", "plain": "http://example.org/fhir/ValueSet",
            "other": "http://example.org/fhir/ValueSet/legacy-2/"}
    for vid, url in urls.items():
        body = {"resourceType": "ValueSet", "id": vid, "url": url, "status": "active"}
        assert client.put(f"ValueSet/{vid}", json=body).status_code == 201
    above = "http://example.org/fhir/ValueSet/legacy/v2"
    assert _ids(client, "ValueSet", **{"url:above": above}) == {"slash", "plain"}
    assert _ids(client, "ValueSet", **{"url:above": "http://example.org/fhir/ValueSet/legacy"}) == {"slash", "plain"}


def test_in_takes_a_relative_reference_to_the_value_set(client: httpx.Client) -> None:
    """``:in`` is "a URI (relative or absolute) that identifies a value set"
    (https://hl7.org/fhir/R4/search.html#token): ``ValueSet/[id]`` names the stored one by id."""
    value_set = {"resourceType": "ValueSet", "id": "heart", "url": "http://example.org/fhir/ValueSet/heart",
                 "status": "active", "compose": {"include": [{"system": "http://loinc.org",
                                                              "concept": [{"code": "8867-4"}]}]}}
    assert client.put("ValueSet/heart", json=value_set).status_code == 201
    for oid, code in {"hr": "8867-4", "wt": "29463-7"}.items():
        body = {"resourceType": "Observation", "id": oid, "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": code}]}}
        assert client.put(f"Observation/{oid}", json=body).status_code == 201
    assert _ids(client, "Observation", **{"code:in": "ValueSet/heart"}) == {"hr"}
    assert _ids(client, "Observation", **{"code:not-in": "ValueSet/heart"}) == {"wt"}
    assert _ids(client, "Observation", **{"code:in": "http://example.org/fhir/ValueSet/heart"}) == {"hr"}
    assert client.get("Observation", params={"code:in": "ValueSet/none"}).status_code == 400
