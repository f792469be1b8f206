"""KServe v2 routes and Prometheus metrics, through FastAPI's test client."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from inference.api import build_router
from inference.metrics import render_metrics
from inference.service import InferenceService


class Client:
    """Synchronous calls through httpx's ASGI transport (no server, no Starlette TestClient)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://inference.test") as http:
                return await http.request(method, url, **kwargs)

        return asyncio.run(call())

    def get(self, url: str) -> httpx.Response:
        return self.request("GET", url)

    def post(self, url: str, json: Any) -> httpx.Response:
        return self.request("POST", url, json=json)


@pytest.fixture(scope="module")
def client(service: InferenceService) -> Client:
    app = FastAPI()
    app.include_router(build_router(service))
    return Client(app)


def test_health_and_server_metadata(client: Client) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2").json()["name"] == "ehr-service-inference"


@pytest.mark.parametrize("name", ["post-mi-mortality", "breast-mass-malignancy", "news2", "ct-phantom-lesion"])
def test_every_model_has_metadata_and_is_ready(client: Client, name: str) -> None:
    meta = client.get(f"/v2/models/{name}").json()
    assert meta["name"] == name
    assert meta["versions"] == ["1"]
    assert meta["platform"] == "onnxruntime_onnx"
    assert meta["inputs"][0]["datatype"] == "FP32"
    assert meta["parameters"]["execution_provider"] == "CPUExecutionProvider"
    assert client.get(f"/v2/models/{name}/ready").json() == {"name": name, "ready": True}
    assert client.get(f"/v2/models/{name}/versions/1").status_code == 200


def test_infer_matches_direct_session(client: Client, service: InferenceService) -> None:
    model = service.get("breast-mass-malignancy")
    assert model is not None
    x = np.array([model.spec.reference_input, [v * 1.2 for v in model.spec.reference_input]], dtype=np.float32)
    body = {
        "id": "r1",
        "inputs": [{"name": "features", "shape": [2, 10], "datatype": "FP32", "data": x.tolist()}],
        "outputs": [{"name": "probability"}],
    }
    resp = client.post("/v2/models/breast-mass-malignancy/infer", json=body).json()
    assert resp["id"] == "r1"
    assert resp["model_version"] == "1"
    assert [o["name"] for o in resp["outputs"]] == ["probability"]
    direct = model.session.run(["probability"], {"features": x})[0]
    np.testing.assert_allclose(resp["outputs"][0]["data"], direct.ravel(), rtol=1e-6)
    assert resp["outputs"][0]["shape"] == [2, 1]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"inputs": [{"name": "features", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}, "shape"),
        ({"inputs": [{"name": "x", "shape": [1, 7], "datatype": "FP32", "data": [0] * 7}]}, "named"),
        (
            {"inputs": [{"name": "features", "shape": [1, 7], "datatype": "INT64", "data": [0] * 7}]},
            "datatype",
        ),
        ({"inputs": [{"name": "features", "shape": [2, 7], "datatype": "FP32", "data": [0] * 7}]}, "fill"),
        ({"inputs": []}, "exactly one"),
    ],
)
def test_bad_requests_are_400(client: Client, body: dict[str, object], message: str) -> None:
    resp = client.post("/v2/models/news2/infer", json=body)
    assert resp.status_code == 400
    assert message in resp.json()["error"]


def test_unknown_model_is_404(client: Client) -> None:
    assert client.get("/v2/models/nope").status_code == 404
    assert client.post("/v2/models/nope/infer", json={"inputs": []}).status_code == 404


def test_metrics_exposed(client: Client, service: InferenceService) -> None:
    body = {"inputs": [{"name": "features", "shape": [1, 7], "datatype": "FP32", "data": [16, 97, 0, 120, 70, 0, 37]}]}
    assert client.post("/v2/models/news2/infer", json=body).json()["outputs"][0]["data"] == [0.0]
    text, content_type = render_metrics(service.metrics)
    assert content_type.startswith("text/plain")
    assert b'inference_requests_total{model="news2",outcome="ok",version="1"}' in text
    assert b"inference_batch_rows_bucket" in text
    assert b'inference_model_ready{model="ct-phantom-lesion",provider="CPUExecutionProvider",version="1"} 1.0' in text
