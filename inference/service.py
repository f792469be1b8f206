"""The inference service: every model loaded, verified, warmed up and batched once at start-up.

``suggest`` implements the ``Patient/[id]/$ai-suggest`` operation's logic (the HTTP wiring lives in
``ehr``): FHIR R4 resources in, a ``collection`` Bundle of RiskAssessment/Provenance/Device out, plus an
OperationOutcome per model that was not computed (see :mod:`inference.features` for the policy).
``assess_image`` scores a DICOM dataset with the image model (DiagnosticReport + Observation + Provenance).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray
from pydicom.dataset import Dataset

from inference import fhir_out
from inference.dicom import DicomError, frames_from_dataset, resize_frames
from inference.features import Input, ObservationIndex, Problem, extract
from inference.metrics import InferenceMetrics
from inference.repository import ModelSpec, discover
from inference.runtime import MicroBatcher, Outputs, build_session, select_providers

DEFAULT_THREADS = 1


@dataclass
class LoadedModel:
    """A verified spec, its session and its batcher."""

    spec: ModelSpec
    session: ort.InferenceSession
    batcher: MicroBatcher
    provider: str
    input_name: str
    output_names: list[str] = field(default_factory=list)

    def infer(self, x: NDArray[np.float32]) -> dict[str, NDArray[Any]]:
        """Run through the micro-batcher; outputs by name."""
        return dict(zip(self.output_names, self.batcher.submit(x).result(), strict=True))


class InferenceService:
    """Owns the sessions; build with :meth:`start`, release with :meth:`close`."""

    def __init__(self, models: dict[tuple[str, str], LoadedModel], metrics: InferenceMetrics) -> None:
        self.models, self.metrics = models, metrics
        self.closed = False
        self.latest = {
            name: max(
                (m for (n, _), m in models.items() if n == name),
                key=lambda m: tuple(int(p) for p in m.spec.version.split(".")),
            )
            for name, _ in models
        }

    @classmethod
    def start(
        cls,
        models_dir: Path,
        require_gpu: bool = False,
        intra_op_threads: int = DEFAULT_THREADS,
        max_batch: int = 64,
        max_delay_ms: float = 2.0,
    ) -> InferenceService:
        """Verify every model folder, build one session each, warm it up, start its batcher.

        Raises :class:`inference.repository.ModelRepositoryError` or
        :class:`inference.runtime.GpuUnavailableError`; never silently falls back when ``require_gpu``.
        """
        providers = select_providers(require_gpu)
        metrics = InferenceMetrics()
        models: dict[tuple[str, str], LoadedModel] = {}
        try:
            for spec in discover(models_dir):
                session = build_session(spec.onnx_path.read_bytes(), providers, require_gpu, intra_op_threads)
                models[(spec.name, spec.version)] = _load(spec, session, metrics, max_batch, max_delay_ms / 1000)
        except Exception:
            for m in models.values():
                m.batcher.close()
            raise
        return cls(models, metrics)

    def close(self) -> None:
        """Stop every batcher (queued requests are served first); readiness turns false."""
        self.closed = True
        for m in self.models.values():
            m.batcher.close()
            self.metrics.ready.labels(m.spec.name, m.spec.version, m.provider).set(0)

    def observation_codes(self) -> frozenset[tuple[str, str]]:
        """(system, code) of every Observation code (or component code) a loaded tabular model reads, so
        a caller can fetch only those Observations from a large record."""
        return frozenset(
            (ref.system, ref.code)
            for model in self.latest.values() if model.spec.kind == "tabular"
            for feature in model.spec.features if feature.source.startswith("observation")
            for ref in feature.codes
        )

    def get(self, name: str, version: str | None = None) -> LoadedModel | None:
        """A model by name and version (latest when ``version`` is None)."""
        return self.latest.get(name) if version is None else self.models.get((name, version))

    def suggest(
        self, patient: Mapping[str, Any], resources: Sequence[Mapping[str, Any]], now: datetime
    ) -> dict[str, Any]:
        """Run every tabular model on the patient's record; see the module docstring.

        ``now`` must be timezone-aware (recency windows compare it with FHIR instants); ``patient`` must be
        a stored Patient (with ``id``); ``resources`` are the resources of its compartment.
        """
        patient_ref = _patient_ref(patient, now)
        observations = ObservationIndex(resources)
        conditions = [r for r in resources if r.get("resourceType") == "Condition"]
        out: list[dict[str, Any]] = []
        for model in self.latest.values():
            if model.spec.kind != "tabular":
                continue
            out += self._suggest_one(model, patient, patient_ref, observations, conditions, now)
        return fhir_out.bundle(out, now, patient_ref)

    def _suggest_one(
        self,
        model: LoadedModel,
        patient: Mapping[str, Any],
        patient_ref: str,
        observations: ObservationIndex,
        conditions: Sequence[Mapping[str, Any]],
        now: datetime,
    ) -> list[dict[str, Any]]:
        spec = model.spec
        problems = eligibility_problems(spec, patient, conditions, now)
        results = [extract(f, patient, observations, conditions, now) for f in spec.features]
        problems += [r for r in results if isinstance(r, Problem)]
        if problems:
            self.metrics.suggestions.labels(spec.name, "not_computed").inc()
            for p in problems:
                self.metrics.refusals.labels(spec.name, p.kind).inc()
            return [fhir_out.not_computed(spec, problems, patient_ref, now)]
        inputs = [r for r in results if isinstance(r, Input)]
        outputs = self.timed(model, np.array([[i.value for i in inputs]], dtype=np.float32))
        contributions = [float(c) for c in outputs[spec.outputs["contributions"]][0]]
        probability = float(outputs[spec.outputs["probability"]][0, 0]) if "probability" in spec.outputs else None
        score = float(outputs[spec.outputs["score"]][0, 0]) if "score" in spec.outputs else None
        risk = fhir_out.risk_assessment(
            spec,
            patient_ref,
            now,
            inputs,
            contributions,
            probability,
            qualitative_risk(spec, score, contributions),
            score,
        )
        prov = fhir_out.provenance(spec, [risk], [patient_ref] + [i.source for i in inputs if i.source], now)
        self.metrics.suggestions.labels(spec.name, "computed").inc()
        return [risk, prov, fhir_out.device(spec)]

    def timed(self, model: LoadedModel, x: NDArray[np.float32]) -> dict[str, NDArray[Any]]:
        """Infer through the batcher, recording latency and outcome."""
        start = time.perf_counter()
        try:
            result = model.infer(x)
        except Exception:
            self.record(model, time.perf_counter() - start, ok=False)
            raise
        self.record(model, time.perf_counter() - start, ok=True)
        return result

    def record(self, model: LoadedModel, seconds: float, ok: bool) -> None:
        """Count one inference request and its latency."""
        labels = (model.spec.name, model.spec.version)
        self.metrics.requests.labels(*labels, "ok" if ok else "error").inc()
        if ok:
            self.metrics.latency.labels(*labels).observe(seconds)

    def assess_image(
        self,
        patient: Mapping[str, Any],
        study_ref: str,
        ds: Dataset,
        now: datetime,
        model_name: str = "ct-phantom-lesion",
    ) -> dict[str, Any]:
        """Score a DICOM dataset with an image model; OperationOutcome when the image is not eligible."""
        model = self.get(model_name)
        if model is None or model.spec.image is None:
            raise KeyError(f"no image model named {model_name!r} is loaded")
        spec, image = model.spec, model.spec.image
        patient_ref = _patient_ref(patient, now)
        modality = str(ds.get("Modality", ""))
        try:
            if modality not in image.modalities:
                raise DicomError(f"modality {modality or 'unknown'} is not one of {', '.join(image.modalities)}")
            frames = resize_frames(frames_from_dataset(ds, image.window), image.size)[:, np.newaxis]
        except DicomError as exc:
            problem = Problem("image", "ineligible", str(exc))
            self.metrics.suggestions.labels(spec.name, "not_computed").inc()
            return fhir_out.bundle([fhir_out.not_computed(spec, [problem], patient_ref, now)], now, study_ref)
        probs = self.timed(model, frames)[spec.outputs["probability"]][:, 0]
        report, obs = fhir_out.imaging_report(spec, patient_ref, study_ref, now, [float(p) for p in probs])
        prov = fhir_out.provenance(spec, [report, obs], [study_ref], now)
        self.metrics.suggestions.labels(spec.name, "computed").inc()
        return fhir_out.bundle([report, obs, prov, fhir_out.device(spec)], now, study_ref)


def _patient_ref(patient: Mapping[str, Any], now: datetime) -> str:
    """``Patient/<id>``; rejects a patient without id and a naive ``now`` (caller errors, not data errors)."""
    if patient.get("resourceType") != "Patient" or not patient.get("id"):
        raise ValueError("suggest needs a stored Patient resource with an id")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware, e.g. datetime.now(UTC)")
    return f"Patient/{patient['id']}"


def eligibility_problems(
    spec: ModelSpec, patient: Mapping[str, Any], conditions: Sequence[Mapping[str, Any]], now: datetime
) -> list[Problem]:
    """Patient-level refusals: deceased, or the model's eligibility Condition is absent."""
    problems = []
    if patient.get("deceasedBoolean") or patient.get("deceasedDateTime"):
        problems.append(Problem("patient", "ineligible", "Patient is recorded as deceased"))
    if spec.eligibility is not None:
        found = extract(spec.eligibility, patient, ObservationIndex([]), conditions, now)
        if isinstance(found, Input) and found.value == 0.0:
            problems.append(
                Problem(
                    spec.eligibility.name,
                    "ineligible",
                    f"the model applies only to patients with a recorded {spec.eligibility.name} Condition"
                    + (f" dated within the last {window:g} h" if (window := spec.eligibility.window_hours) else ""),
                )
            )
    return problems


def qualitative_risk(spec: ModelSpec, score: float | None, contributions: Sequence[float]) -> tuple[str, str] | None:
    """NEWS2 clinical risk (RCP 2017, chart 2): bands by aggregate score; a single 3 is low–medium."""
    rule = spec.risk_rule
    if rule is None or score is None:
        return None
    code = "low"
    for threshold, band in rule["bands"]:
        if score >= threshold:
            code = band
    if code == "low" and max(contributions) >= rule["single_parameter_red"]:
        return "moderate", "low-medium (a single parameter scored 3)"
    text = {"low": "low", "moderate": "medium", "high": "high"}[code]
    return code, text


def _load(
    spec: ModelSpec,
    session: ort.InferenceSession,
    metrics: InferenceMetrics,
    max_batch: int,
    max_delay_s: float,
) -> LoadedModel:
    """Warm the session up (first run allocates and optimises), then wrap it in a batcher."""
    input_name = session.get_inputs()[0].name
    output_names = [o.name for o in session.get_outputs()]
    provider = session.get_providers()[0]

    def run(x: NDArray[Any]) -> Outputs:
        return [np.asarray(o) for o in session.run(output_names, {input_name: x})]

    warm = _warmup_input(spec)
    for _ in range(3):
        run(warm)
    labels = (spec.name, spec.version)

    def observe(rows: int, delay: float) -> None:
        metrics.batch_rows.labels(*labels).observe(rows)
        metrics.queue_delay.labels(*labels).observe(delay)

    batcher = MicroBatcher(run, max_batch, max_delay_s, observe, f"{spec.name}-{spec.version}")
    metrics.ready.labels(spec.name, spec.version, provider).set(1)
    return LoadedModel(spec, session, batcher, provider, input_name, output_names)


def _warmup_input(spec: ModelSpec) -> NDArray[np.float32]:
    """The training mean (tabular) or a mid-grey frame (image)."""
    if spec.image is not None:
        return np.full((1, 1, *spec.image.size), 0.5, dtype=np.float32)
    return np.array([spec.reference_input], dtype=np.float32)
