"""The authorization matrix's world and oracle: three hospitals with their patients (one person
recorded in two of them, linked by the master patient index), shared resources, and the callers
(tenant x role x scopes x purpose of use x break-glass). The oracle decides what each caller may see
from the raw fixture data with its own plain rules, never through ``ehr.auth.access``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ehr.auth.boundary import Principal
from ehr.auth.scopes import Level, ResourceScope

CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
LOINC = "http://loinc.org"
LAB_CODE, VITAL_CODE = "2345-7", "8867-4"
SHARED_TYPES = frozenset({"Practitioner", "Organization"})
TYPES = ("Patient", "Observation", "Condition", "Encounter", "Practitioner", "Organization")


@dataclass(frozen=True, slots=True)
class Item:
    """One stored resource, as the oracle knows it."""

    resource_type: str
    id: str
    tenant: str
    #: the patient whose compartment holds it (the Patient itself for a Patient)
    patient: str | None
    category: str | None = None
    subject: str | None = None
    versions: int = 1
    #: deleted after its versions were written
    deleted: bool = False

    @property
    def key(self) -> str:
        return f"{self.resource_type}/{self.id}"


PATIENTS = {"pa1": ("alpha", "Ames"), "pa2": ("alpha", "Ashby"), "pb1": ("beta", "Barnes"),
            "pb2": ("beta", "Baker"), "pc1": ("gamma", "Cole")}
#: the master patient index: pa1 and pb1 are one person (golden g1, itself stored in tenant mpi)
LINKS = {"pa1": "g1", "pb1": "g1", "pa2": "g2", "pb2": "g3", "pc1": "g4"}
LAUNCH = {"alpha": "pa1", "beta": "pb1", "gamma": "pc1"}


def world() -> list[Item]:
    items = [Item("Patient", pid, tenant, pid) for pid, (tenant, _) in PATIENTS.items()]
    items.append(Item("Patient", "g1", "mpi", "g1"))
    for pid, (tenant, _) in PATIENTS.items():
        items += [Item("Observation", f"obs-lab-{pid}", tenant, pid, "laboratory", pid, versions=2),
                  Item("Observation", f"obs-vit-{pid}", tenant, pid, "vital-signs", pid),
                  Item("Condition", f"cond-{pid}", tenant, pid, subject=pid),
                  Item("Encounter", f"enc-{pid}", tenant, pid, subject=pid)]
    for tenant, t in (("alpha", "a"), ("beta", "b")):
        items += [Item("Practitioner", f"dr-{t}", tenant, None), Item("Organization", f"org-{t}", tenant, None)]
    items.append(Item("Observation", "obs-nosubj-a", "alpha", None, "laboratory"))
    items.append(Item("Condition", "cond-gone-pa1", "alpha", "pa1", subject="pa1", deleted=True))
    return items


def body(item: Item, version: int = 1) -> dict[str, Any]:
    """The resource's JSON (``version`` changes a note only, never what the rules look at)."""
    base: dict[str, Any] = {"resourceType": item.resource_type, "id": item.id}
    if item.resource_type == "Patient":
        family = PATIENTS[item.id][1] if item.id in PATIENTS else "Golden"
        return {**base, "name": [{"family": family}]}
    if item.resource_type == "Practitioner":
        return {**base, "name": [{"family": f"Doctor {item.id}"}]}
    if item.resource_type == "Organization":
        return {**base, "name": f"Hospital {item.tenant}"}
    subject = {"subject": {"reference": f"Patient/{item.subject}"}} if item.subject else {}
    if item.resource_type == "Observation":
        return observation(item.id, item.category or "laboratory", item.subject, item.tenant, version)
    if item.resource_type == "Condition":
        return {**base, **subject, "code": {"text": "asthma"}}
    return {**base, **subject, "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}}


def observation(id: str, category: str, subject: str | None, tenant: str, version: int = 1) -> dict[str, Any]:
    code = LAB_CODE if category == "laboratory" else VITAL_CODE
    out: dict[str, Any] = {
        "resourceType": "Observation", "id": id, "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": category}]}],
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "performer": [{"reference": f"Practitioner/dr-{tenant[0]}"}],
        "note": [{"text": f"version {version}"}],
    }
    if subject is not None:
        out["subject"] = {"reference": f"Patient/{subject}"}
    return out


def scope(text: str) -> ResourceScope:
    """``level/Type.letters[?param=value]`` as a value (the matrix writes only v2 scopes)."""
    head, _, query = text.partition("?")
    level, _, rest = head.partition("/")
    resource_type, _, letters = rest.partition(".")
    criteria = tuple(tuple(part.split("=", 1)) for part in query.split("&")) if query else ()
    level_: Level = level  # type: ignore[assignment]
    return ResourceScope(level_, resource_type, frozenset(letters), criteria)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Case:
    """One caller: hospital, scopes (None: development mode), launch patient, roles, purpose, break-glass."""

    name: str
    tenant: str
    scopes: tuple[ResourceScope, ...] | None
    patient: str | None = None
    purpose: str | None = None
    break_glass: bool = False
    roles: tuple[str, ...] = field(default=())

    def principal(self) -> Principal:
        return Principal(self.tenant, subject=f"user-{self.name}", roles=self.roles, scopes=self.scopes,
                         patient=self.patient)


def cases() -> list[Case]:
    lab = f"user/Observation.rs?category={CATEGORY}|laboratory"
    out: list[Case] = []
    for tenant in ("alpha", "beta"):
        launch = LAUNCH[tenant]

        def add(name: str, scopes: list[str], **extra: Any) -> None:
            out.append(Case(f"{tenant}-{name}", tenant, tuple(scope(s) for s in scopes), **extra))  # noqa: B023

        add("patient-all", ["patient/*.rs"], patient=launch)
        add("patient-all-treat", ["patient/*.rs"], patient=launch, purpose="TREAT")
        add("patient-obs", ["patient/Observation.rs"], patient=launch)
        add("patient-write", ["patient/Observation.cruds", "patient/Patient.rs"], patient=launch)
        add("user-cruds", ["user/*.cruds"])
        add("user-cruds-treat", ["user/*.cruds"], purpose="TREAT")
        add("user-cruds-bg", ["user/*.cruds"], purpose="TREAT", break_glass=True)
        add("user-bg-no-purpose", ["user/*.rs"], break_glass=True)
        add("user-lab", [lab])
        add("user-lab-write", [f"user/Observation.cruds?category={CATEGORY}|laboratory"])
        add("system-rs", ["system/*.rs"])
        add("user-patient-r", ["user/Patient.r"])
        add("steward", ["user/*.rs"], roles=("data-steward",))
    out.append(Case("gamma-user-treat", "gamma", (scope("user/*.rs"),), purpose="TREAT"))
    out.append(Case("alpha-patient-no-launch", "alpha", (scope("patient/*.rs"),)))
    out.append(Case("alpha-dev", "alpha", None))
    return out


# --- the oracle -------------------------------------------------------------------------------------


def denied_outright(case: Case) -> bool:
    return case.scopes is not None and case.patient is None and any(s.level == "patient" for s in case.scopes)


def allows(case: Case, resource_type: str, letter: str) -> bool:
    """The type-level rule: some scope carries ``letter`` on the type."""
    if case.scopes is None:
        return True
    if denied_outright(case):
        return False
    return any(letter in s.permissions and s.resource_type in ("*", resource_type) for s in case.scopes)


def allows_search_somewhere(case: Case) -> bool:
    return case.scopes is None or (not denied_outright(case) and any("s" in s.permissions for s in case.scopes))


def same_person(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a in LINKS and LINKS.get(a) == LINKS.get(b)


def covers(case: Case, item: Item, letters: str = "rs") -> bool:
    """Whether the caller may see (``rs``) or change (``u``, ``d``) ``item``."""
    if case.scopes is None:
        return True
    if denied_outright(case):
        return False
    for s in case.scopes:
        if not set(letters) & s.permissions or s.resource_type not in ("*", item.resource_type):
            continue
        if s.criteria and not all(_meets(item, name, value) for name, value in s.criteria):
            continue
        if _reaches(case, s.level, item):
            return True
    return False


def _meets(item: Item, name: str, value: str) -> bool:
    assert name == "category", name
    return item.category is not None and value.endswith(f"|{item.category}")


def _reaches(case: Case, level: str, item: Item) -> bool:
    mine = item.tenant == case.tenant
    elsewhere = item.tenant not in (case.tenant, "mpi") and item.patient is not None
    if level == "patient":
        if mine and (item.patient == case.patient
                     or (item.patient is None and item.resource_type in SHARED_TYPES)):
            return True
        return case.purpose is not None and elsewhere and same_person(item.patient, case.patient)
    if mine:
        return True
    if item.tenant == "mpi":
        return "data-steward" in case.roles
    if case.purpose is None or not elsewhere:
        return False
    own_patients = [p for p, (t, _) in PATIENTS.items() if t == case.tenant]
    return case.break_glass or any(same_person(item.patient, p) for p in own_patients)


def writable(case: Case, item: Item, letter: str) -> bool:
    """Whether the caller may change (``u``) or delete (``d``) the stored ``item``: it sees it, it is
    in its own hospital and a scope with the letter covers it."""
    return item.tenant == case.tenant and covers(case, item, letter)


def creatable(case: Case, item: Item) -> bool:
    """Whether the caller may create ``item``'s content in its own hospital (an update of an id it
    cannot see is a create: refused when the content is not creatable, else a collision)."""
    return allows(case, item.resource_type, "c") and covers(case, replace(item, tenant=case.tenant), "c")


def may_create(case: Case, observation_of: str | None, category: str) -> bool:
    """Whether the caller may create an Observation of ``category`` about ``observation_of``."""
    probe = Item("Observation", "new", case.tenant, observation_of, category, observation_of)
    return allows(case, "Observation", "c") and covers(case, probe, "c")


def read_status(case: Case, item: Item) -> int:
    if not allows(case, item.resource_type, "r"):
        return 403
    if not covers(case, item):
        return 404
    return 410 if item.deleted else 200


def found(case: Case, item: Item) -> bool:
    """Whether a search (or ``$everything``) by the caller returns ``item``."""
    return not item.deleted and covers(case, item)
