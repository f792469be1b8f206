"""``create_app``: builds everything the service needs — engine, store, registry, indexer, the
boundaries — in the lifespan and injects it; nothing lives in module globals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response

from ehr.api import errors
from ehr.api.fhir_routes import router as fhir_router
from ehr.fhir import validation
from ehr.fhir.interactions.context import Services
from ehr.mpi.protocol import Matcher
from ehr.search.extract import extract_index_rows
from ehr.search.paths import compile_all
from ehr.search.registry import Registry
from ehr.settings import Settings
from ehr.store.protocol import Store
from ehr.store.sql.engine import make_engine, migrate
from ehr.store.sql.store import SqlStore

if TYPE_CHECKING:
    from inference.service import InferenceService


def build_services(store: Store, registry: Registry | None = None, matcher: Matcher[Any] | None = None) -> Services:
    """The services over ``store``. With a ``matcher``, Patients are linked by the master patient index
    (``ehr.mpi``)."""
    reg = registry or Registry.load()
    compile_all(reg)

    def indexer(resource: dict[str, Any]) -> Any:
        return extract_index_rows(resource, reg)

    return Services(store=store, indexer=indexer, registry=reg, matcher=matcher)


def open_store(settings: Settings) -> SqlStore:
    """The SQL store for ``settings``, its schema migrated to the newest version."""
    if settings.db_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = make_engine(settings.database_url)
    migrate(engine)
    return SqlStore(engine)


def _start_inference(app: FastAPI, settings: Settings) -> InferenceService:
    """Load, verify and warm up every model; mount the KServe v2 routes and ``/metrics``."""
    from inference.api import build_router
    from inference.metrics import render_metrics
    from inference.service import InferenceService

    service = InferenceService.start(settings.model_repository, require_gpu=settings.require_gpu)

    async def metrics(_request: Request) -> Response:
        body, media_type = render_metrics(service.metrics)
        return Response(body, media_type=media_type)

    app.include_router(build_router(service))
    app.add_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
    return service


def create_app(settings: Settings, services: Services | None = None, matcher: Matcher[Any] | None = None) -> FastAPI:
    """The ASGI application. Pass ``services`` to inject a store (tests); else the lifespan opens one,
    linking Patients with ``matcher`` when one is given."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        built = services or build_services(open_store(settings), matcher=matcher)
        models = _start_inference(app, settings) if settings.inference else None
        app.state.services = replace(built, suggester=models) if models is not None else built
        validation.warm_up()
        try:
            yield
        finally:
            if models is not None:
                models.close()
            if owned:
                built.store.close()

    app = FastAPI(title="ehr-service FHIR R4", lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.state.settings = settings
    app.state.capability = None
    errors.install(app)
    app.include_router(fhir_router)
    return app
