"""DICOM → FHIR and pixel handling, on pydicom's bundled test files."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pydicom
import pytest
from fhir.resources.R4B import get_fhir_model_class
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from inference.dicom import (
    DicomError,
    Window,
    apply_window,
    frames_from_dataset,
    merge_study,
    modality_values,
    patient_from_dataset,
    read_dataset,
    resize_frames,
    study_from_dataset,
)
from inference.service import InferenceService
from tests.inference.records import NOW, by_type, patient

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


def load(name: str) -> Dataset:
    """A file bundled in the pydicom wheel (never ``get_testdata_file``, which may download)."""
    return pydicom.dcmread(TEST_FILES / name)


def test_study_and_patient_from_ct_metadata_validate() -> None:
    ds = load("CT_small.dcm")
    study = study_from_dataset(ds, "Patient/p1")
    get_fhir_model_class("ImagingStudy").model_validate(study)
    assert study["identifier"][0]["value"] == f"urn:oid:{ds.StudyInstanceUID}"
    assert study["series"][0]["instance"][0]["uid"] == ds.SOPInstanceUID
    assert study["modality"][0]["code"] == "CT"
    pat = patient_from_dataset(ds)
    get_fhir_model_class("Patient").model_validate(pat)
    assert pat["identifier"][0]["value"] == str(ds.PatientID)


def test_rescale_slope_and_intercept_give_hounsfield_units() -> None:
    ds = load("CT_small.dcm")
    hu = modality_values(ds)
    assert hu.shape == (1, 128, 128)
    expected = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_array_equal(hu[0], expected)


def test_linear_window_function_matches_ps3_3() -> None:
    w = Window(center=40, width=400)
    values = np.array([-1000.0, 40 - 0.5 - 199.5, 40 - 0.5, 40 - 0.5 + 199.5, 3000.0])
    np.testing.assert_allclose(apply_window(values, w), [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-6)
    with pytest.raises(DicomError):
        apply_window(values, Window(0, 0.5))


def test_monochrome1_is_inverted() -> None:
    ds = load("CT_small.dcm")
    mono1 = copy.deepcopy(ds)
    mono1.PhotometricInterpretation = "MONOCHROME1"
    w = Window(40, 400)
    np.testing.assert_allclose(frames_from_dataset(mono1, w), 1.0 - frames_from_dataset(ds, w), atol=1e-6)


def test_file_window_used_when_none_given() -> None:
    ds = load("MR_small.dcm")
    frames = frames_from_dataset(ds)
    expected = apply_window(ds.pixel_array, Window(float(ds.WindowCenter), float(ds.WindowWidth)))
    np.testing.assert_array_equal(frames[0], expected)


def multi_frame_ct(n: int) -> Dataset:
    ds = load("CT_small.dcm")
    stack = np.stack([ds.pixel_array + i * 10 for i in range(n)]).astype(ds.pixel_array.dtype)
    ds.NumberOfFrames = n
    ds.PixelData = stack.tobytes()
    return ds


def test_multi_frame_gives_one_array_per_frame() -> None:
    ds = multi_frame_ct(3)
    hu = modality_values(ds)
    assert hu.shape == (3, 128, 128)
    np.testing.assert_array_equal(hu[2] - hu[0], np.full((128, 128), 20.0))
    assert frames_from_dataset(ds, Window(40, 400)).shape == (3, 128, 128)


def test_rtdose_multi_frame_shape() -> None:
    assert modality_values(load("rtdose.dcm")).shape[0] == 15


def test_colour_and_non_dicom_are_refused() -> None:
    with pytest.raises(DicomError, match="grayscale"):
        frames_from_dataset(load("SC_rgb_small_odd.dcm"))
    with pytest.raises(DicomError, match="not a DICOM"):
        read_dataset(b"not a dicom file at all" * 10)


def test_resize_preserves_constant_and_shape() -> None:
    frames = np.full((2, 128, 128), 0.25, dtype=np.float32)
    out = resize_frames(frames, (64, 64))
    assert out.shape == (2, 64, 64)
    np.testing.assert_allclose(out, 0.25)


def test_ct_image_assessed_and_validates(service: InferenceService) -> None:
    bundle = service.assess_image(patient(), "ImagingStudy/s1", load("CT_small.dcm"), NOW)
    for entry in bundle["entry"]:
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    report = by_type(bundle, "DiagnosticReport")[0]
    assert report["imagingStudy"] == [{"reference": "ImagingStudy/s1"}]
    assert report["status"] == "preliminary"
    obs = by_type(bundle, "Observation")[0]
    assert 0.0 <= obs["valueQuantity"]["value"] <= 1.0


def test_mr_image_is_not_scored_by_ct_model(service: InferenceService) -> None:
    bundle = service.assess_image(patient(), "ImagingStudy/s2", load("MR_small.dcm"), NOW)
    assert by_type(bundle, "DiagnosticReport") == []
    assert "modality MR" in by_type(bundle, "OperationOutcome")[0]["issue"][0]["details"]["text"]


def phantom_dicom(hu: np.ndarray, photometric: str) -> Dataset:
    """Encode an HU image as a CT dataset with rescale slope 1, intercept -1024."""
    ds = load("CT_small.dcm")
    stored = (hu + 1024).round().clip(0, 4095).astype(np.uint16)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.Rows, ds.Columns = hu.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PhotometricInterpretation = photometric
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    ds.PixelData = stored.tobytes()
    return ds


def test_pixel_pipeline_matches_training_preprocessing(service: InferenceService) -> None:
    model = service.get("ct-phantom-lesion")
    assert model is not None
    assert model.spec.image is not None
    rng = np.random.default_rng(3)
    hu = np.full((64, 64), -1000.0)
    hu[8:56, 8:56] = 40 + rng.normal(0, 10, (48, 48))
    hu[30:35, 30:35] += 140
    direct = apply_window(hu.round(), model.spec.image.window)[np.newaxis, np.newaxis]
    expected = float(model.infer(direct)["probability"][0, 0])
    bundle = service.assess_image(patient(), "ImagingStudy/s3", phantom_dicom(hu, "MONOCHROME2"), NOW)
    got = by_type(bundle, "Observation")[0]["valueQuantity"]["value"]
    assert got == pytest.approx(expected, abs=1e-4)


def test_merge_study_adds_instances_once() -> None:
    first = load("CT_small.dcm")
    second = copy.deepcopy(first)
    second.SOPInstanceUID = first.SOPInstanceUID + ".2"
    other_series = copy.deepcopy(first)
    other_series.SeriesInstanceUID = first.SeriesInstanceUID + ".9"
    other_series.SOPInstanceUID = first.SOPInstanceUID + ".3"
    study = study_from_dataset(first, "Patient/p1")
    for ds in (second, first, other_series):
        study = merge_study(study, study_from_dataset(ds, "Patient/p1"))
    get_fhir_model_class("ImagingStudy").model_validate(study)
    assert study["numberOfSeries"] == 2
    assert study["numberOfInstances"] == 3
    assert [s["numberOfInstances"] for s in study["series"]] == [2, 1]
    different = copy.deepcopy(first)
    different.StudyInstanceUID = first.StudyInstanceUID + ".1"
    with pytest.raises(DicomError, match="different Study"):
        merge_study(study, study_from_dataset(different, "Patient/p1"))


def test_multi_frame_image_reports_each_frame(service: InferenceService) -> None:
    bundle = service.assess_image(patient(), "ImagingStudy/s4", multi_frame_ct(3), NOW)
    obs = by_type(bundle, "Observation")[0]
    get_fhir_model_class("Observation").model_validate(obs)
    frames = [c["valueQuantity"]["value"] for c in obs["component"]]
    assert len(frames) == 3
    assert obs["valueQuantity"]["value"] == max(frames)
    assert "window centre 40 / width 400" in obs["note"][0]["text"]
