"""Open Inference Protocol (KServe v2) REST routes for every loaded model.

Spec: https://kserve.github.io/website/docs/concepts/architecture/data-plane/v2-protocol — server live/ready
and metadata, model metadata/ready, and ``infer`` with JSON tensors (``name``, ``shape``, ``datatype``,
row-major ``data``, flat or nested). Errors are ``{"error": "..."}`` with 400 (bad request) or 404 (unknown
model). Infer requests go through the model's micro-batcher, so concurrent callers share batches.
The router only translates HTTP; all state lives in the injected :class:`InferenceService`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import numpy as np
from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse
from numpy.typing import NDArray

from inference.service import InferenceService, LoadedModel

LOG = logging.getLogger(__name__)
SERVER_NAME, SERVER_VERSION = "ehr-service-inference", "1"
DATATYPES = {
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(int64)": "INT64",
    "tensor(int32)": "INT32",
    "tensor(bool)": "BOOL",
}
NUMPY = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64, "INT32": np.int32, "BOOL": np.bool_}


class ProtocolError(ValueError):
    """A request that does not match the model's metadata (HTTP 400)."""


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _shape(dims: list[Any]) -> list[int]:
    return [d if isinstance(d, int) else -1 for d in dims]


def model_metadata(model: LoadedModel) -> dict[str, Any]:
    """Model metadata response object."""
    sess = model.session
    return {
        "name": model.spec.name,
        "versions": [model.spec.version],
        "platform": "onnxruntime_onnx",
        "inputs": [
            {"name": i.name, "datatype": DATATYPES.get(i.type, i.type), "shape": _shape(i.shape)}
            for i in sess.get_inputs()
        ],
        "outputs": [
            {"name": o.name, "datatype": DATATYPES.get(o.type, o.type), "shape": _shape(o.shape)}
            for o in sess.get_outputs()
        ],
        "parameters": {"execution_provider": model.provider, "sha256": model.spec.onnx_sha256},
    }


def decode_input(model: LoadedModel, request: dict[str, Any]) -> NDArray[Any]:
    """The single input tensor of an inference request, checked against the model's metadata."""
    inputs = request.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1:
        raise ProtocolError("request must have exactly one entry in 'inputs'")
    tensor = inputs[0]
    meta = model.session.get_inputs()[0]
    if tensor.get("name") != meta.name:
        raise ProtocolError(f"input must be named {meta.name!r}")
    expected = DATATYPES.get(meta.type)
    if tensor.get("datatype") != expected:
        raise ProtocolError(f"input datatype must be {expected}")
    shape = tensor.get("shape")
    model_shape = _shape(meta.shape)
    if (
        not isinstance(shape, list)
        or len(shape) != len(model_shape)
        or any(m not in (-1, s) for m, s in zip(model_shape, shape, strict=True))
    ):
        raise ProtocolError(f"input shape must match {model_shape} (-1 = any)")
    try:
        array: NDArray[Any] = np.asarray(tensor.get("data"), dtype=NUMPY[str(expected)]).reshape(shape)
    except (ValueError, TypeError) as exc:
        raise ProtocolError(f"input data does not fill shape {shape}: {exc}") from exc
    if shape[0] < 1:
        raise ProtocolError("batch dimension must be at least 1")
    return array


def encode_outputs(
    model: LoadedModel, outputs: dict[str, NDArray[Any]], wanted: list[str] | None
) -> list[dict[str, Any]]:
    """Response output tensors (all, or those the request named)."""
    names = wanted or list(outputs)
    unknown = [n for n in names if n not in outputs]
    if unknown:
        raise ProtocolError(f"unknown outputs {unknown}; the model has {list(outputs)}")
    types = {o.name: DATATYPES.get(o.type, o.type) for o in model.session.get_outputs()}
    return [
        {
            "name": n,
            "datatype": types[n],
            "shape": list(outputs[n].shape),
            "data": outputs[n].ravel().tolist(),
        }
        for n in names
    ]


def lookup(service: InferenceService, name: str, version: str | None) -> LoadedModel | JSONResponse:
    """The model, or the protocol's 404 error object."""
    model = service.get(name, version)
    if model is not None:
        return model
    return _error(404, f"unknown model {name!r} version {version or 'latest'}; GET /v2/models/<name> to list one")


async def run_infer(service: InferenceService, model: LoadedModel, request: dict[str, Any]) -> dict[str, Any]:
    """Decode, infer through the micro-batcher, encode; raises :class:`ProtocolError` for bad requests."""
    x = decode_input(model, request)
    start = time.perf_counter()
    try:
        result = await asyncio.wrap_future(model.batcher.submit(x))
    except Exception:
        service.record(model, time.perf_counter() - start, ok=False)
        raise
    service.record(model, time.perf_counter() - start, ok=True)
    outputs = dict(zip(model.output_names, result, strict=True))
    wanted = [o["name"] for o in request.get("outputs", [])] or None
    body = {
        "model_name": model.spec.name,
        "model_version": model.spec.version,
        "outputs": encode_outputs(model, outputs, wanted),
    }
    if "id" in request:
        body["id"] = request["id"]
    return body


def build_router(service: InferenceService) -> APIRouter:
    """Routes under ``/v2``; mount with ``app.include_router(build_router(service))``."""
    router = APIRouter(prefix="/v2", tags=["inference"])

    @router.get("")
    def server_metadata() -> dict[str, Any]:
        return {"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": []}

    @router.get("/health/live")
    def live() -> dict[str, bool]:
        return {"live": True}

    @router.get("/health/ready")
    def ready() -> dict[str, bool]:
        return {"ready": bool(service.models) and not service.closed}

    @router.get("/models/{name}", response_model=None)
    @router.get("/models/{name}/versions/{version}", response_model=None)
    def metadata(name: str, version: str | None = None) -> dict[str, Any] | JSONResponse:
        model = lookup(service, name, version)
        return model if isinstance(model, JSONResponse) else model_metadata(model)

    @router.get("/models/{name}/ready", response_model=None)
    @router.get("/models/{name}/versions/{version}/ready", response_model=None)
    def model_ready(name: str, version: str | None = None) -> dict[str, Any] | JSONResponse:
        model = lookup(service, name, version)
        return model if isinstance(model, JSONResponse) else {"name": name, "ready": not service.closed}

    @router.post("/models/{name}/infer", response_model=None)
    @router.post("/models/{name}/versions/{version}/infer", response_model=None)
    async def infer(name: str, request: dict[str, Any] = Body(...), version: str | None = None) -> Any:
        model = lookup(service, name, version)
        if isinstance(model, JSONResponse):
            return model
        try:
            return await run_infer(service, model, request)
        except ProtocolError as exc:
            return _error(400, str(exc))
        except Exception as exc:  # the runtime's message may echo input values: log its type only
            LOG.error("inference failed in %s/%s: %s", name, model.spec.version, type(exc).__name__)
            return _error(500, f"inference failed in {name}; see the server log for the error type")

    return router
