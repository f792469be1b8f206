"""``_sort`` on several keys and keyset paging with ``next`` and ``previous`` links, over HTTP on both
engines (https://hl7.org/fhir/R4/search.html#sort, https://hl7.org/fhir/R4/http.html#paging): walking
the links in either direction returns every match exactly once, in the order an oracle computes from the
raw resources, also while others write; the in-memory engine orders the same way."""

from __future__ import annotations

import random
from typing import Any

import httpx
import orjson
import pytest

from ehr.api.app import build_services
from ehr.auth.boundary import Principal
from ehr.fhir.interactions.context import Context
from ehr.fhir.interactions.create import create
from ehr.fhir.interactions.search import search
from ehr.store.memory import MemoryStore

LOINC = "http://loinc.org"
CODES = ("8867-4", "8310-5", "9279-1")
STATUSES = ("final", "amended", "preliminary")


def _observations(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        obs: dict[str, Any] = {"resourceType": "Observation", "status": rng.choice(STATUSES),
                               "code": {"coding": [{"system": LOINC, "code": rng.choice(CODES)}]},
                               "identifier": [{"system": "urn:test", "value": f"obs-{i}"}]}
        if rng.random() < 0.8:  # some have no date, some share one
            obs["effectiveDateTime"] = f"2024-0{rng.randint(1, 3)}-1{rng.randint(0, 2)}T10:00:00Z"
        if rng.random() < 0.8:
            obs["valueQuantity"] = {"value": rng.randint(50, 60), "unit": "/min",
                                    "system": "http://unitsofmeasure.org", "code": "/min"}
        out.append(obs)
    return out


def _oracle(resources: list[dict[str, Any]], sort: str) -> list[str]:
    """Identifiers in the order the spec gives, computed from the raw resources; ties keep creation order
    (the server's last key), missing values last."""
    getters = {"date": lambda r: r.get("effectiveDateTime"),
               "value-quantity": lambda r: r.get("valueQuantity", {}).get("value"),
               "code": lambda r: r["code"]["coding"][0]["code"], "status": lambda r: r["status"]}

    def key(item: tuple[int, dict[str, Any]]) -> tuple[Any, ...]:
        parts: list[Any] = []
        for part in sort.split(","):
            value = getters[part.removeprefix("-")](item[1])
            if value is not None and part.startswith("-"):
                value = _Desc(value)
            parts.append((value is None, value))
        return (*parts, item[0])

    return [r["identifier"][0]["value"] for _, r in sorted(enumerate(resources), key=key)]


class _Desc:
    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Desc) -> bool:
        return bool(self.value > other.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)


def _walk(client: httpx.Client, first: httpx.Response, relation: str) -> list[list[str]]:
    pages: list[list[str]] = []
    response = first
    while True:
        assert response.status_code == 200, response.text
        bundle = response.json()
        pages.append([e["resource"]["identifier"][0]["value"] for e in bundle.get("entry", [])])
        following = [link["url"] for link in bundle["link"] if link["relation"] == relation]
        if not following:
            return pages
        response = client.get(following[0])


SORTS = ["date", "-date", "value-quantity,-date", "-value-quantity", "code,-status,date", "status,value-quantity"]


@pytest.fixture
def stored(client: httpx.Client) -> tuple[httpx.Client, list[dict[str, Any]]]:
    resources = _observations(23, seed=5)
    for resource in resources:
        assert client.post("Observation", json=resource).status_code == 201
    return client, resources


@pytest.mark.parametrize("sort", SORTS)
def test_next_links_walk_every_match_once_in_sorted_order(stored: tuple[httpx.Client, list[dict[str, Any]]],
                                                          sort: str) -> None:
    client, resources = stored
    pages = _walk(client, client.get("Observation", params={"_sort": sort, "_count": "4"}), "next")
    assert [len(p) for p in pages] == [4, 4, 4, 4, 4, 3]
    assert [i for p in pages for i in p] == _oracle(resources, sort)


@pytest.mark.parametrize("sort", SORTS[:3])
def test_previous_links_walk_back_to_the_first_page(stored: tuple[httpx.Client, list[dict[str, Any]]],
                                                    sort: str) -> None:
    client, _ = stored
    forward = _walk(client, client.get("Observation", params={"_sort": sort, "_count": "5"}), "next")
    last_page_url = client.get("Observation", params={"_sort": sort, "_count": "5"}).json()
    response = client.get("Observation", params={"_sort": sort, "_count": "5"})
    while any(link["relation"] == "next" for link in response.json()["link"]):
        response = client.get(next(lk["url"] for lk in response.json()["link"] if lk["relation"] == "next"))
    backward = _walk(client, response, "previous")
    assert list(reversed(backward)) == forward
    assert not any(link["relation"] == "previous" for link in last_page_url["link"])


def test_unsorted_paging_has_previous_links_too(stored: tuple[httpx.Client, list[dict[str, Any]]]) -> None:
    client, _ = stored
    forward = _walk(client, client.get("Observation", params={"_count": "6"}), "next")
    response = client.get("Observation", params={"_count": "6"})
    for _ in range(len(forward) - 1):
        response = client.get(next(lk["url"] for lk in response.json()["link"] if lk["relation"] == "next"))
    assert list(reversed(_walk(client, response, "previous"))) == forward


def test_pages_stay_correct_while_others_write(stored: tuple[httpx.Client, list[dict[str, Any]]]) -> None:
    client, resources = stored
    response = client.get("Observation", params={"_sort": "-value-quantity", "_count": "4"})
    seen: list[str] = []
    for n in range(40):
        bundle = response.json()
        seen.extend(e["resource"]["identifier"][0]["value"] for e in bundle.get("entry", []))
        extra = {**_observations(1, seed=100 + n)[0], "identifier": [{"system": "urn:test", "value": f"new-{n}"}]}
        assert client.post("Observation", json=extra).status_code == 201
        following = [lk["url"] for lk in bundle["link"] if lk["relation"] == "next"]
        if not following:
            break
        response = client.get(following[0])
    assert len(seen) == len(set(seen))
    originals = [i for i in seen if i.startswith("obs-")]
    assert originals == _oracle(resources, "-value-quantity")


def test_the_in_memory_engine_sorts_the_same_way() -> None:
    services = build_services(MemoryStore())
    ctx = Context(base_url="http://test/fhir", principal=Principal(tenant="t"))
    resources = _observations(23, seed=5)
    for resource in resources:
        with services.store.unit_of_work(write=True) as tx:
            create(ctx, services, tx, "Observation", dict(resource))
    for sort in SORTS:
        order: list[str] = []
        params: list[tuple[str, str]] = [("_sort", sort), ("_count", "4")]
        while True:
            with services.store.unit_of_work(write=False) as tx:
                body = orjson.loads(orjson.dumps(search(ctx, services, tx, "Observation", params).body))
            order.extend(e["resource"]["identifier"][0]["value"] for e in body.get("entry", []))
            following = [lk["url"] for lk in body["link"] if lk["relation"] == "next"]
            if not following:
                break
            params = list(httpx.URL(following[0]).params.multi_items())
        assert order == _oracle(resources, sort), sort


@pytest.mark.parametrize(("params", "says"), [
    ({"_sort": "nosuch"}, "not a search parameter"),
    ({"_sort": "combo-code-value-quantity"}, "is a composite parameter; results cannot be sorted"),
    ({"_sort": "date", "_cursor": "12"}, "_cursor is not valid"),
    ({"_sort": "date", "_cursor": "bm90IGpzb24"}, "_cursor is not valid"),
])
def test_bad_sorts_and_cursors_are_400(stored: tuple[httpx.Client, list[dict[str, Any]]], params: dict[str, str],
                                       says: str) -> None:
    client, _ = stored
    response = client.get("Observation", params=params)
    assert response.status_code == 400
    assert says in response.json()["issue"][0]["diagnostics"]


def test_blind_indexed_parameters_cannot_be_sorted(client: httpx.Client) -> None:
    response = client.get("Patient", params={"_sort": "family"})
    assert response.status_code == 400
    assert "blind index" in response.json()["issue"][0]["diagnostics"]
