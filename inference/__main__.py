"""``python -m inference``: verify and load every model, report providers, optionally serve KServe v2.

Exit status 0 when every model loaded (and, with ``--serve``, after shutdown); 2 with a one-line reason
when a model folder fails verification or ``--require-gpu`` cannot be honoured. The ``ehr`` CLI exposes the
same switches; this entry point lets the inference package be checked and served on its own.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from inference.repository import ModelRepositoryError
from inference.runtime import GpuUnavailableError
from inference.service import InferenceService


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Command-line switches."""
    parser = argparse.ArgumentParser(prog="python -m inference", description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=Path("models"), help="models/<name>/<version>/ root")
    parser.add_argument("--require-gpu", action="store_true", help="fail unless every session runs on CUDA")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads per session")
    parser.add_argument("--serve", action="store_true", help="serve /v2 and /metrics with uvicorn")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    return parser.parse_args(argv)


def serve(args: argparse.Namespace) -> None:
    """A standalone app: the KServe v2 router plus ``/metrics``; the service lives in the lifespan."""
    import uvicorn
    from fastapi import FastAPI, Response

    from inference.api import build_router
    from inference.metrics import render_metrics

    service = InferenceService.start(args.models_dir, args.require_gpu, args.threads)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    app = FastAPI(title="ehr-service inference", lifespan=lifespan)
    app.include_router(build_router(service))

    @app.get("/metrics")
    def metrics() -> Response:
        body, content_type = render_metrics(service.metrics)
        return Response(body, media_type=content_type)

    uvicorn.run(app, host=args.host, port=args.port)


def main(argv: list[str] | None = None) -> int:
    """Run; see the module docstring for exit codes."""
    args = parse(argv)
    try:
        if args.serve:
            serve(args)
            return 0
        service = InferenceService.start(args.models_dir, args.require_gpu, args.threads)
    except (GpuUnavailableError, ModelRepositoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for (name, version), model in sorted(service.models.items()):
        print(f"{name}/{version}\t{model.provider}\tsha256:{model.spec.onnx_sha256[:16]}\t{model.spec.title}")
    service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
