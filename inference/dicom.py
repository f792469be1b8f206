"""DICOM files to FHIR R4 ImagingStudy/Patient dicts and to model-ready pixel arrays.

Pixel pipeline, in the order DICOM PS3.3 C.11 defines for grayscale display:

1. Modality LUT (PS3.3 C.11.1): stored values to output units with Rescale Slope/Intercept (for CT,
   Hounsfield units). Enhanced multi-frame objects carry them per frame in the Pixel Value
   Transformation functional group (PS3.3 C.7.6.16.2.9); a Modality LUT Sequence is applied by pydicom.
2. VOI LUT (PS3.3 C.11.2.1.2.1): the "LINEAR" window function with centre *c* and width *w*, mapped to
   [0, 1]: ``y = clip(((x - (c - 0.5)) / (w - 1)) + 0.5, 0, 1)``.
3. Photometric Interpretation (PS3.3 C.7.6.3.1.2): MONOCHROME1 means the minimum is displayed white, so
   the windowed image is inverted (``1 - y``) to give every model the MONOCHROME2 convention.

Frames are on axis 0 (one frame gives shape ``(1, rows, columns)``). Colour images are refused.
ImagingStudy mapping follows FHIR R4 ImagingStudy (https://hl7.org/fhir/R4/imagingstudy.html) and the
DICOM mapping table there. Nothing in this module logs or prints: DICOM headers are PHI.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels.processing import apply_modality_lut

DCM_SYSTEM = "http://dicom.nema.org/resources/ontology/DCM"
URN_SYSTEM = "urn:dicom:uid"
GENDERS = {"M": "male", "F": "female", "O": "other"}

FloatFrames = NDArray[np.float32]


class DicomError(ValueError):
    """The file is not DICOM or holds no pixel data this module can turn into model input.

    The message names the problem, never a header value, so it is safe to log.
    """


@dataclass(frozen=True)
class Window:
    """A VOI window (PS3.3 C.11.2.1.2): centre and width in modality-LUT output units."""

    center: float
    width: float


def read_dataset(source: bytes | Path) -> Dataset:
    """Parse a DICOM Part 10 file; raise :class:`DicomError` if it is not one."""
    try:
        if isinstance(source, bytes):
            return pydicom.dcmread(io.BytesIO(source))
        return pydicom.dcmread(source)
    except (InvalidDicomError, EOFError) as exc:
        raise DicomError("not a DICOM Part 10 file; export it from the PACS with its file meta header") from exc


def patient_from_dataset(ds: Dataset) -> dict[str, Any]:
    """A minimal FHIR R4 Patient from the DICOM Patient module (PS3.3 C.7.1.1)."""
    patient: dict[str, Any] = {"resourceType": "Patient"}
    if ds.get("PatientID"):
        issuer = str(ds.get("IssuerOfPatientID", "") or "")
        system = issuer if issuer.startswith(("urn:", "http://", "https://")) else "urn:dicom:patient-id"
        patient["identifier"] = [{"system": system, "value": str(ds.PatientID)}]
    name = ds.get("PatientName")
    if name and (name.family_name or name.given_name):
        human: dict[str, Any] = {"use": "official"}
        if name.family_name:
            human["family"] = str(name.family_name)
        given = [g for g in (name.given_name, name.middle_name) if g]
        if given:
            human["given"] = [str(g) for g in given]
        patient["name"] = [human]
    patient["gender"] = GENDERS.get(str(ds.get("PatientSex", "")).upper(), "unknown")
    birth = str(ds.get("PatientBirthDate", "") or "")
    if len(birth) == 8 and birth.isdigit():
        patient["birthDate"] = f"{birth[:4]}-{birth[4:6]}-{birth[6:]}"
    return patient


def _started(ds: Dataset) -> str | None:
    """FHIR dateTime from Study Date/Time (DA ``YYYYMMDD``, TM ``HHMMSS.frac``); None when absent."""
    date = str(ds.get("StudyDate", "") or "")
    if len(date) != 8 or not date.isdigit():
        return None
    day = f"{date[:4]}-{date[4:6]}-{date[6:]}"
    time = str(ds.get("StudyTime", "") or "").split(".")[0]
    if len(time) >= 4 and time.isdigit():
        time = (time + "00")[:6]
        return f"{day}T{time[:2]}:{time[2:4]}:{time[4:6]}Z"
    return day


def study_from_dataset(ds: Dataset, patient_reference: str) -> dict[str, Any]:
    """An R4 ImagingStudy for this one instance (callers merge instances of the same study by identifier)."""
    modality = {"system": DCM_SYSTEM, "code": str(ds.get("Modality", "OT") or "OT")}
    instance: dict[str, Any] = {
        "uid": str(ds.SOPInstanceUID),
        "sopClass": {"system": "urn:ietf:rfc:3986", "code": f"urn:oid:{ds.SOPClassUID}"},
    }
    if ds.get("InstanceNumber") is not None:
        instance["number"] = int(ds.InstanceNumber)
    series: dict[str, Any] = {
        "uid": str(ds.SeriesInstanceUID),
        "modality": modality,
        "numberOfInstances": 1,
        "instance": [instance],
    }
    if ds.get("SeriesNumber") is not None:
        series["number"] = int(ds.SeriesNumber)
    if ds.get("SeriesDescription"):
        series["description"] = str(ds.SeriesDescription)
    study: dict[str, Any] = {
        "resourceType": "ImagingStudy",
        "status": "available",
        "identifier": [{"system": URN_SYSTEM, "value": f"urn:oid:{ds.StudyInstanceUID}"}],
        "subject": {"reference": patient_reference},
        "modality": [modality],
        "numberOfSeries": 1,
        "numberOfInstances": 1,
        "series": [series],
    }
    started = _started(ds)
    if started:
        study["started"] = started
    if ds.get("StudyDescription"):
        study["description"] = str(ds.StudyDescription)
    return study


def apply_window(values: NDArray[Any], window: Window) -> FloatFrames:
    """PS3.3 C.11.2.1.2.1 LINEAR VOI function mapped to [0, 1]."""
    if window.width < 1:
        raise DicomError("window width must be at least 1 (PS3.3 C.11.2.1.2.1)")
    x = np.asarray(values, dtype=np.float64)
    if window.width == 1:  # the linear segment has zero length: a threshold at c - 0.5
        return np.asarray(x > window.center - 0.5, dtype=np.float32)
    y = (x - (window.center - 0.5)) / (window.width - 1) + 0.5
    return np.clip(y, 0.0, 1.0).astype(np.float32)


def _frame_rescale(ds: Dataset, index: int) -> tuple[float, float]:
    """(slope, intercept) for one frame: per-frame group, shared group, then the top-level attributes."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    shared = ds.get("SharedFunctionalGroupsSequence") or []
    candidates = ([per_frame[index]] if index < len(per_frame) else []) + list(shared[:1])
    for group in candidates:
        pvt = group.get("PixelValueTransformationSequence")
        if pvt:
            return float(pvt[0].get("RescaleSlope", 1.0)), float(pvt[0].get("RescaleIntercept", 0.0))
    return float(ds.get("RescaleSlope", 1.0) or 1.0), float(ds.get("RescaleIntercept", 0.0) or 0.0)


def modality_values(ds: Dataset) -> NDArray[np.float64]:
    """Stored pixel values of every frame after the Modality LUT, shape ``(frames, rows, columns)``."""
    if int(ds.get("SamplesPerPixel", 1)) != 1 or "PixelData" not in ds:
        raise DicomError("only single-sample (grayscale) images with pixel data can be scored")
    if str(ds.get("PhotometricInterpretation", "")) not in ("MONOCHROME1", "MONOCHROME2"):
        raise DicomError("photometric interpretation must be MONOCHROME1 or MONOCHROME2")
    stored = np.asarray(ds.pixel_array)
    frames = stored if int(ds.get("NumberOfFrames", 1) or 1) > 1 else stored[np.newaxis]
    if "ModalityLUTSequence" in ds:
        return np.stack([np.asarray(apply_modality_lut(f, ds), dtype=np.float64) for f in frames])
    out = np.empty(frames.shape, dtype=np.float64)
    for i, frame in enumerate(frames):
        slope, intercept = _frame_rescale(ds, i)
        out[i] = frame.astype(np.float64) * slope + intercept
    return out


def dataset_window(ds: Dataset, values: NDArray[np.float64]) -> Window:
    """The first VOI window in the file, else the full range of the values."""
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if center is not None and width is not None:
        c = center[0] if isinstance(center, pydicom.multival.MultiValue) else center
        w = width[0] if isinstance(width, pydicom.multival.MultiValue) else width
        return Window(float(c), float(w))
    lo, hi = float(values.min()), float(values.max())
    return Window((lo + hi + 1) / 2, max(hi - lo + 1, 1.0))


def frames_from_dataset(ds: Dataset, window: Window | None = None) -> FloatFrames:
    """Windowed frames in [0, 1] (MONOCHROME2 convention), shape ``(frames, rows, columns)``.

    ``window`` is the model's window (e.g. a CT soft-tissue window in HU); None uses the file's own.
    """
    values = modality_values(ds)
    y = apply_window(values, window or dataset_window(ds, values))
    if str(ds.PhotometricInterpretation) == "MONOCHROME1":
        y = (1.0 - y).astype(np.float32)
    return y


def resize_frames(frames: FloatFrames, size: tuple[int, int]) -> FloatFrames:
    """Bilinear resampling of each frame to ``size`` (rows, columns), pixel centres aligned."""
    rows, cols = frames.shape[1:]
    r = np.clip((np.arange(size[0]) + 0.5) * rows / size[0] - 0.5, 0, rows - 1)
    c = np.clip((np.arange(size[1]) + 0.5) * cols / size[1] - 0.5, 0, cols - 1)
    r0, c0 = np.floor(r).astype(int), np.floor(c).astype(int)
    r1, c1 = np.minimum(r0 + 1, rows - 1), np.minimum(c0 + 1, cols - 1)
    fr, fc = (r - r0)[:, None], (c - c0)[None, :]
    top = frames[:, r0][:, :, c0] * (1 - fc) + frames[:, r0][:, :, c1] * fc
    bottom = frames[:, r1][:, :, c0] * (1 - fc) + frames[:, r1][:, :, c1] * fc
    return np.asarray(top * (1 - fr) + bottom * fr, dtype=np.float32)


def merge_study(existing: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Add the series/instances of ``new`` to ``existing`` (same study identifier), recounting totals.

    Instances already present (same SOP Instance UID) are not duplicated, so re-importing a file is a no-op.
    """
    if existing.get("identifier") != new.get("identifier"):
        raise DicomError("cannot merge ImagingStudy resources with different Study Instance UIDs")
    merged = {**existing, "series": [dict(s, instance=list(s.get("instance", []))) for s in existing["series"]]}
    by_uid = {s["uid"]: s for s in merged["series"]}
    for series in new["series"]:
        target = by_uid.get(series["uid"])
        if target is None:
            target = dict(series, instance=[])
            merged["series"].append(target)
            by_uid[series["uid"]] = target
        known = {i["uid"] for i in target["instance"]}
        target["instance"] += [i for i in series.get("instance", []) if i["uid"] not in known]
        target["numberOfInstances"] = len(target["instance"])
    merged["modality"] = list({m["code"]: m for s in merged["series"] for m in [s["modality"]]}.values())
    merged["numberOfSeries"] = len(merged["series"])
    merged["numberOfInstances"] = sum(s["numberOfInstances"] for s in merged["series"])
    return merged
