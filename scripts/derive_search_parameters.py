"""Derive the search-parameter registry and its companions from the official FHIR R4 4.0.1 package.

Fetches ``hl7.fhir.r4.examples@4.0.1`` (CC0) with ``npm pack`` (cached under
``~/.cache/ehr-fhir-npm/``) and writes, deterministically (sorted keys and entries):

- ``ehr/search/data/search_parameters.json``: every non-experimental SearchParameter of the official
  ``search-parameters.json`` bundle (``Bundle-searchParams.json`` in the package) that has a FHIRPath
  expression, restricted to resource types that ``fhir.resources.R4B`` also supports
  (https://hl7.org/fhir/R4/searchparameter-registry.html);
- ``ehr/search/data/compartment_patient.json``: resource type -> parameter codes from the Patient
  CompartmentDefinition (https://hl7.org/fhir/R4/compartmentdefinition-patient.html);
- ``ehr/search/data/resource_types.json``: concrete resource types in both R4 4.0.1 and R4B;
- ``ehr/search/data/element_types.json``: element path -> datatype codes for those resources and all
  base datatypes, so that FHIRPath expressions can be compiled into typed dict walks;
- ``ehr/fhir/data/required_bindings.json``: element path -> the value set URL and its codes, for every
  ``code`` element bound with strength *required* to a value set that the package enumerates completely
  (https://hl7.org/fhir/R4/terminologies.html#required), so that writes are checked against it;
- ``tests/golden/r4-examples.ndjson.gz``: the package's example resources (not its definitional
  artefacts, nothing over 1 MB), used by the extraction tests.

Usage: ``python scripts/derive_search_parameters.py [--repo PATH]``
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

PACKAGE = "hl7.fhir.r4.examples@4.0.1"
CACHE_DIR = Path.home() / ".cache" / "ehr-fhir-npm"
TARBALL = "hl7.fhir.r4.examples-4.0.1.tgz"
FHIRPATH_TYPE_PREFIX = "http://hl7.org/fhirpath/System."
DEFINITIONAL = frozenset(
    {
        "StructureDefinition", "CodeSystem", "ValueSet", "SearchParameter", "ConceptMap",
        "OperationDefinition", "CompartmentDefinition", "NamingSystem", "ImplementationGuide",
    }
)  # fmt: skip
MAX_EXAMPLE_BYTES = 1_000_000
PARAM_KEYS = ("multipleOr", "multipleAnd", "modifier", "comparator")

JsonObj = dict[str, Any]


def fetch_tarball() -> Path:
    """Return the cached package tarball, running ``npm pack`` into a temp dir on a cache miss."""
    cached = CACHE_DIR / TARBALL
    if cached.exists():
        return cached
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", PACKAGE], cwd=tmp, check=True, capture_output=True)
        (Path(tmp) / TARBALL).replace(cached)
    return cached


def read_package(tarball: Path) -> Iterator[tuple[str, JsonObj]]:
    """Yield (file name, parsed JSON) for every ``package/*.json`` resource file."""
    with tarfile.open(tarball, "r:gz") as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            name = member.name.removeprefix("package/")
            if "/" in name or not name.endswith(".json") or name == "package.json":
                continue
            handle = tar.extractfile(member)
            if handle is None:
                continue
            yield name, json.load(io.TextIOWrapper(handle, encoding="utf-8"))


def is_supported(resource_type: str) -> bool:
    from fhir.resources.R4B import get_fhir_model_class

    try:
        get_fhir_model_class(resource_type)
    except (ValueError, KeyError, ImportError):
        return False
    return True


def derive_resource_types(files: Mapping[str, JsonObj]) -> list[str]:
    """Concrete (non-abstract) R4 resource types that fhir.resources.R4B also models."""
    types = [
        sd["type"]
        for sd in files.values()
        if sd.get("resourceType") == "StructureDefinition"
        and sd.get("kind") == "resource"
        and sd.get("derivation") == "specialization"
        and not sd.get("abstract", False)
    ]
    return sorted(t for t in set(types) if is_supported(t))


def element_type_codes(element: JsonObj) -> list[str]:
    if "contentReference" in element:
        return [element["contentReference"]]
    codes = []
    for typ in element.get("type", []):
        code = str(typ["code"])
        if code.startswith(FHIRPATH_TYPE_PREFIX):
            code = "string" if code.endswith("String") else code.removeprefix(FHIRPATH_TYPE_PREFIX).lower()
        codes.append(code)
    return codes


def derive_element_types(files: Mapping[str, JsonObj], resource_types: list[str]) -> JsonObj:
    """Element path (``Observation.value[x]``) -> datatype codes, from the base definitions' snapshots."""
    wanted = set(resource_types)
    result: JsonObj = {}
    for sd in files.values():
        if sd.get("resourceType") != "StructureDefinition" or sd.get("derivation") != "specialization":
            continue
        if sd.get("kind") == "resource" and sd["type"] not in wanted | {"Resource", "DomainResource"}:
            continue
        if sd.get("kind") not in ("resource", "complex-type"):
            continue
        for element in sd["snapshot"]["element"]:
            codes = element_type_codes(element)
            if "." in element["path"] and codes:
                result[element["path"]] = codes
    return dict(sorted(result.items()))


class NotEnumerable(Exception):
    """A value set whose codes the package does not list completely (a filter, an external or partial
    code system): its binding cannot be checked from the package alone."""


def codes_of_system(system: JsonObj) -> list[str]:
    if system.get("content") != "complete":
        raise NotEnumerable(system["url"])
    out: list[str] = []
    stack = list(system.get("concept", []))
    while stack:
        concept = stack.pop()
        out.append(concept["code"])
        stack.extend(concept.get("concept", []))
    return out


def expand_value_set(url: str, value_sets: Mapping[str, JsonObj], systems: Mapping[str, JsonObj]) -> set[str]:
    """Every code of the value set at ``url``, from its compose (includes, imports and excludes)."""
    vs = value_sets.get(url.split("|")[0])
    if vs is None or "compose" not in vs:
        raise NotEnumerable(url)

    def part(include: JsonObj) -> set[str]:
        if include.get("filter") or (include.get("valueSet") and include.get("system")):
            raise NotEnumerable(url)
        if include.get("valueSet"):
            return set.intersection(*(expand_value_set(v, value_sets, systems) for v in include["valueSet"]))
        if "concept" in include:
            return {c["code"] for c in include["concept"]}
        system = systems.get(include.get("system", ""))
        if system is None:
            raise NotEnumerable(url)
        return set(codes_of_system(system))

    codes: set[str] = set()
    for include in vs["compose"].get("include", []):
        codes |= part(include)
    for exclude in vs["compose"].get("exclude", []):
        codes -= part(exclude)
    if not codes:
        raise NotEnumerable(url)
    return codes


def derive_required_bindings(files: Mapping[str, JsonObj], resource_types: list[str]) -> JsonObj:
    """``code`` element path -> {valueSet, codes} for required bindings the package enumerates."""
    value_sets = {f["url"]: f for f in files.values() if f.get("resourceType") == "ValueSet"}
    systems = {f["url"]: f for f in files.values() if f.get("resourceType") == "CodeSystem"}
    paths = derive_element_types(files, resource_types)
    result: JsonObj = {}
    for sd in files.values():
        if sd.get("resourceType") != "StructureDefinition" or sd.get("derivation") != "specialization":
            continue
        for element in sd["snapshot"]["element"]:
            binding = element.get("binding", {})
            if element["path"] not in paths or element_type_codes(element) != ["code"]:
                continue
            if binding.get("strength") != "required" or not binding.get("valueSet"):
                continue
            try:
                codes = expand_value_set(binding["valueSet"], value_sets, systems)
            except NotEnumerable:
                continue
            result[element["path"]] = {"valueSet": binding["valueSet"].split("|")[0], "codes": sorted(codes)}
    return dict(sorted(result.items()))


def compact_parameter(sp: JsonObj, by_url: Mapping[str, JsonObj], bases: list[str]) -> JsonObj:
    out: JsonObj = {
        "url": sp["url"],
        "code": sp["code"],
        "type": sp["type"],
        "base": bases,
        "expression": sp["expression"],
    }
    if sp.get("target"):
        out["target"] = sorted(t for t in sp["target"] if t == "Resource" or is_supported(t))
    if sp.get("component"):
        out["component"] = [
            {
                "definition": comp["definition"],
                "code": by_url[comp["definition"]]["code"],
                "type": by_url[comp["definition"]]["type"],
                "expression": comp["expression"],
            }
            for comp in sp["component"]
        ]
    for key in PARAM_KEYS:
        if key in sp:
            out[key] = sp[key]
    return out


def derive_parameters(files: Mapping[str, JsonObj], resource_types: list[str]) -> list[JsonObj]:
    """Official, non-experimental parameters with an expression, bases narrowed to supported types."""
    bundle = files["Bundle-searchParams.json"]
    params = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "SearchParameter"]
    by_url = {sp["url"]: sp for sp in params}
    allowed = set(resource_types) | {"Resource", "DomainResource"}
    result = []
    for sp in params:
        bases = sorted(b for b in sp.get("base", []) if b in allowed)
        if sp.get("experimental") or not sp.get("expression") or not bases:
            continue
        result.append(compact_parameter(sp, by_url, bases))
    return sorted(result, key=lambda p: (p["code"], p["url"]))


def derive_patient_compartment(files: Mapping[str, JsonObj], resource_types: list[str]) -> JsonObj:
    definition = files["CompartmentDefinition-patient.json"]
    supported = set(resource_types)
    return {
        entry["code"]: sorted(entry["param"])
        for entry in sorted(definition["resource"], key=lambda e: e["code"])
        if entry.get("param") and entry["code"] in supported
    }


def collect_examples(files: Mapping[str, JsonObj], resource_types: list[str]) -> list[JsonObj]:
    """Example resources of supported types: top-level files and the resources inside example Bundles."""
    supported = set(resource_types)
    examples: list[JsonObj] = []
    for name, resource in files.items():
        kind = resource.get("resourceType")
        if kind in DEFINITIONAL and "example" not in str(resource.get("id", "")):
            continue
        if len(json.dumps(resource, separators=(",", ":"))) > MAX_EXAMPLE_BYTES or kind not in supported:
            continue
        examples.append(resource)
        if kind == "Bundle" and name.startswith("Bundle-"):
            inner = [e.get("resource") for e in resource.get("entry", [])]
            examples.extend(r for r in inner if isinstance(r, dict) and r.get("resourceType") in supported)
    return examples


def write_json(path: Path, data: Any, one_per_line: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if one_per_line and isinstance(data, list):
        lines = ",\n".join(json.dumps(item, sort_keys=True, separators=(",", ":")) for item in data)
        path.write_text(f"[\n{lines}\n]\n", encoding="utf-8")
        return
    path.write_text(json.dumps(data, sort_keys=True, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args()
    files = dict(read_package(fetch_tarball()))
    data_dir = args.repo / "ehr" / "search" / "data"
    resource_types = derive_resource_types(files)
    write_json(data_dir / "resource_types.json", resource_types)
    write_json(data_dir / "search_parameters.json", derive_parameters(files, resource_types), True)
    write_json(data_dir / "compartment_patient.json", derive_patient_compartment(files, resource_types))
    write_json(data_dir / "element_types.json", derive_element_types(files, resource_types))
    bindings = derive_required_bindings(files, resource_types)
    write_json(args.repo / "ehr" / "fhir" / "data" / "required_bindings.json", bindings)
    examples = collect_examples(files, resource_types)
    raw = "\n".join(json.dumps(r, sort_keys=True, separators=(",", ":")) for r in examples).encode()
    golden = args.repo / "tests" / "golden" / "r4-examples.ndjson.gz"
    golden.parent.mkdir(parents=True, exist_ok=True)
    golden.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    print(f"{len(resource_types)} resource types, {len(examples)} examples written under {args.repo}")


if __name__ == "__main__":
    main()
