"""The model repository: ``models/<name>/<version>/`` folders, verified and parsed at load.

Each folder holds ``model.onnx``, ``model.json`` (the declarative spec: FHIR inputs, outputs, prediction),
``metrics.json``, ``card.md`` and ``SHA256SUMS`` in ``sha256sum`` format. Every artefact must be listed
and match, or the folder is refused (layout after MONAI bundles: metadata beside the weights).
The spec is data, never code: it is parsed into frozen dataclasses and unknown feature sources are rejected.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args

from inference.dicom import Window

ARTEFACTS = ("model.onnx", "model.json", "metrics.json", "card.md")
Source = Literal["age", "sex", "observation", "observation_flag", "observation_coded", "condition"]


class ModelRepositoryError(RuntimeError):
    """A model folder is incomplete, fails its checksums, or has a spec this runtime cannot read.

    Raised at start-up; the message names the folder and the file, and says how to rebuild it.
    """


@dataclass(frozen=True)
class CodeRef:
    """A code the feature matches; ``prefix`` matches the code and its ICD-10 subcodes.

    ``unit``, ``above`` and ``range`` are used by ``observation_flag`` features, whose codes differ in unit.
    """

    system: str
    code: str
    prefix: bool = False
    unit: str | None = None
    above: float | None = None
    range: tuple[float, float] | None = None

    def matches(self, system: str | None, code: str | None) -> bool:
        """Whether a Coding (system, code) is this code (or, with ``prefix``, one of its subcodes)."""
        if system != self.system or not code:
            return False
        return code.startswith(self.code) if self.prefix else code == self.code


@dataclass(frozen=True)
class FeatureSpec:
    """One model input and how to find it in the record."""

    name: str
    source: Source
    codes: tuple[CodeRef, ...] = ()
    unit: str | None = None
    window_hours: float | None = None
    range: tuple[float, float] | None = None
    value_map: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class ImageSpec:
    """How DICOM pixels become the image model's input."""

    modalities: tuple[str, ...]
    window: Window
    size: tuple[int, int]
    input: str


@dataclass(frozen=True)
class ModelSpec:
    """A verified model folder."""

    name: str
    version: str
    kind: Literal["tabular", "image"]
    title: str
    folder: Path
    onnx_sha256: str
    outputs: Mapping[str, str]
    outcome: Mapping[str, Any]
    features: tuple[FeatureSpec, ...] = ()
    eligibility: FeatureSpec | None = None
    contribution_unit: str = ""
    horizon_days: float | None = None
    risk_rule: Mapping[str, Any] | None = None
    reference_input: tuple[float, ...] = ()
    image: ImageSpec | None = None

    @property
    def onnx_path(self) -> Path:
        """The ONNX file."""
        return self.folder / "model.onnx"


def verify_checksums(folder: Path) -> dict[str, str]:
    """Check every artefact against ``SHA256SUMS``; return name → digest."""
    sums = folder / "SHA256SUMS"
    if not sums.is_file():
        raise ModelRepositoryError(f"{folder}: no SHA256SUMS; rebuild the model with its training script")
    listed = {}
    for line in sums.read_text().splitlines():
        digest, _, name = line.partition("  ")
        listed[name.strip()] = digest.strip()
    for name in ARTEFACTS:
        path = folder / name
        if name not in listed or not path.is_file():
            raise ModelRepositoryError(f"{folder}: {name} missing or not listed in SHA256SUMS")
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != listed[name]:
            raise ModelRepositoryError(
                f"{folder}/{name}: SHA-256 mismatch; the file changed after the model was "
                "built — restore it from git or re-run the training script"
            )
    return listed


def _feature(raw: Mapping[str, Any]) -> FeatureSpec:
    """Parse one feature entry of model.json."""
    if raw.get("source") not in get_args(Source):
        raise ModelRepositoryError(f"feature {raw.get('name')!r}: unknown source {raw.get('source')!r}")
    codes = tuple(
        CodeRef(
            c["system"],
            c["code"],
            bool(c.get("prefix", False)),
            c.get("unit"),
            c.get("above"),
            tuple(c["range"]) if "range" in c else None,
        )
        for c in raw.get("codes", [])
    )
    return FeatureSpec(
        name=raw["name"],
        source=raw["source"],
        codes=codes,
        unit=raw.get("unit"),
        window_hours=raw.get("window_hours"),
        range=tuple(raw["range"]) if "range" in raw else None,
        value_map=MappingProxyType({k: float(v) for k, v in raw.get("value_map", {}).items()}),
    )


def _image(raw: Mapping[str, Any] | None) -> ImageSpec | None:
    """Parse the ``image`` block of model.json."""
    if raw is None:
        return None
    window = Window(float(raw["window"]["center"]), float(raw["window"]["width"]))
    return ImageSpec(tuple(raw["modalities"]), window, (int(raw["size"][0]), int(raw["size"][1])), raw["input"])


def load_model_folder(folder: Path) -> ModelSpec:
    """Verify and parse one ``models/<name>/<version>/`` folder."""
    digests = verify_checksums(folder)
    try:
        raw = json.loads((folder / "model.json").read_text())
        prediction = raw.get("prediction", {})
        spec = ModelSpec(
            name=raw["name"],
            version=str(raw["version"]),
            kind=raw["kind"],
            title=raw["title"],
            folder=folder,
            onnx_sha256=digests["model.onnx"],
            outputs=MappingProxyType(dict(raw["outputs"])),
            outcome=MappingProxyType(dict(prediction.get("outcome", {}))),
            features=tuple(_feature(f) for f in raw.get("features", [])),
            eligibility=_feature(raw["eligibility"]) if "eligibility" in raw else None,
            contribution_unit=raw.get("contribution_unit", ""),
            horizon_days=prediction.get("horizon_days"),
            risk_rule=MappingProxyType(dict(raw["risk_rule"])) if "risk_rule" in raw else None,
            reference_input=tuple(float(v) for v in raw.get("reference_input", [])),
            image=_image(raw.get("image")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelRepositoryError(f"{folder}/model.json: malformed spec ({exc}); re-run the training script") from exc
    if (spec.name, spec.version) != (folder.parent.name, folder.name):
        raise ModelRepositoryError(f"{folder}: model.json names {spec.name}/{spec.version}; the folder must match")
    return spec


def discover(models_dir: Path) -> list[ModelSpec]:
    """Every verified model folder under ``models_dir`` (those with a ``model.json``), sorted."""
    folders = sorted(p.parent for p in models_dir.glob("*/*/model.json"))
    if not folders:
        raise ModelRepositoryError(f"{models_dir}: no models/<name>/<version>/model.json found")
    return [load_model_folder(f) for f in folders]
