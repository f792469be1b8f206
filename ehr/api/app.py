"""``create_app``: builds everything the service needs — engine, store, registry, indexer, the
boundaries — in the lifespan and injects it; nothing lives in module globals."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.telemetry import TelemetryConfig

from ehr.api import errors
from ehr.api.audit_pages import router as audit_pages_router
from ehr.api.audit_routes import router as audit_event_router
from ehr.api.auth_routes import router as auth_router
from ehr.api.bearer import authenticate, open_signing_keys, open_token_validator
from ehr.api.fhir_routes import router as fhir_router
from ehr.api.request_audit import InferenceAudit
from ehr.api.smart_routes import router as smart_router
from ehr.audit.checkpoints import Signer
from ehr.audit.log import SqlAuditLog
from ehr.audit.reports.anomalies import NoCareLinks
from ehr.audit.reports.care_links import MpiCareLinks
from ehr.audit.reports.memory import MemoryAuditReader
from ehr.audit.rows import AuditReader
from ehr.auth.audit_access import AuditOfficersOnly
from ehr.auth.scope_authorizer import ScopeAuthorizer
from ehr.crypto.blind import BlindIndexKey
from ehr.crypto.setup import open_blind_key, open_cipher
from ehr.fhir import validation
from ehr.fhir.interactions.context import Services
from ehr.mpi.protocol import Matcher
from ehr.search.blind import Blinder
from ehr.search.extract import extract_index_rows
from ehr.search.paths import compile_all
from ehr.search.registry import Registry
from ehr.settings import Settings
from ehr.store.protocol import Store
from ehr.store.sql.engine import make_engine, migrate
from ehr.store.sql.store import SqlStore

if TYPE_CHECKING:
    from inference.service import InferenceService


def build_services(store: Store, registry: Registry | None = None, *, blind_key: BlindIndexKey | None = None,
                   audit: SqlAuditLog | None = None, matcher: Matcher[Any] | None = None) -> Services:
    """The services over ``store``; with ``blind_key``, identifying search values are indexed and
    searched as blind indexes (``ehr.search.blind``); with ``audit``, every interaction is recorded in
    that log; with a ``matcher``, Patients are linked by the master patient index (``ehr.mpi``)."""
    reg = registry or Registry.load()
    compile_all(reg)
    blinder = Blinder(blind_key) if blind_key is not None else None

    def indexer(resource: dict[str, Any]) -> Any:
        rows = extract_index_rows(resource, reg)
        return rows if blinder is None else blinder.rows(resource["resourceType"], rows)

    authorizer = AuditOfficersOnly(ScopeAuthorizer())
    if audit is None:
        return Services(store=store, indexer=indexer, registry=reg, blinder=blinder, authorizer=authorizer,
                        matcher=matcher)
    return Services(store=store, indexer=indexer, registry=reg, blinder=blinder, authorizer=authorizer,
                    auditor=audit, audit_log=audit, matcher=matcher)


def open_audit_log(store: SqlStore, settings: Settings) -> SqlAuditLog:
    """The tamper-evident log in ``store``, signing checkpoints with the key in ``data_dir/keys``
    (generated on first start), with its journal in ``data_dir/audit-journal`` unless
    ``settings.audit_journal`` is off; journals left by processes that died are drained now."""
    journal = settings.data_dir / "audit-journal" if settings.audit_journal else None
    return SqlAuditLog(store, Signer.from_data_dir(settings.data_dir), journal=journal,
                       drain_s=settings.audit_drain_ms / 1000)


def open_store(settings: Settings) -> SqlStore:
    """The SQL store for ``settings``, its schema migrated to the newest version, sealing payloads with
    envelope encryption unless ``settings.encryption`` is off."""
    if settings.db_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = make_engine(settings.database_url)
    migrate(engine)
    return SqlStore(engine, open_cipher(settings))


def open_services(settings: Settings, matcher: Matcher[Any] | None = None) -> Services:
    """Store and services for ``settings``, as the server builds them (the CLI uses this too): blind
    indexes when encryption is on, the audit log unless ``settings.audit`` is off, and the master patient
    index's matching engine (``matcher``, else the installed one) unless ``settings.mpi`` is off."""
    from ehr.mpi.service import load_matcher

    store = open_store(settings)
    audit = open_audit_log(store, settings) if settings.audit else None
    blind_key = open_blind_key(settings)
    if matcher is None and settings.mpi:
        matcher = load_matcher(settings)
    return build_services(store, blind_key=blind_key, audit=audit, matcher=matcher)


def close_services(services: Services) -> None:
    """Close what :func:`open_services` opened: the audit log's appender (committing what it holds)
    and the store's connections."""
    if isinstance(services.auditor, SqlAuditLog):
        services.auditor.close()
    services.store.close()


def _start_inference(app: FastAPI, settings: Settings) -> InferenceService:
    """Load, verify and warm up every model; mount the KServe v2 routes and ``/metrics``."""
    from inference.api import build_router
    from inference.metrics import render_metrics
    from inference.service import InferenceService

    service = InferenceService.start(settings.model_repository, require_gpu=settings.require_gpu)

    async def metrics(_request: Request) -> Response:
        body, media_type = render_metrics(service.metrics)
        return Response(body, media_type=media_type)

    app.include_router(build_router(service), dependencies=[Depends(authenticate)])  # any valid token
    app.add_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
    return service


def create_app(settings: Settings, services: Services | None = None, audit_reader: AuditReader | None = None,
               matcher: Matcher[Any] | None = None) -> FastAPI:
    """The ASGI application. Pass ``services`` to inject a store (tests), ``audit_reader`` to inject the
    audit log the ``/audit`` pages read, ``matcher`` to link Patients with another matching engine than
    the installed one (tests); else the lifespan opens them."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        built = services or open_services(settings, matcher)
        log = built.auditor if isinstance(built.auditor, SqlAuditLog) else None
        models = _start_inference(app, settings) if settings.inference else None
        app.state.services = replace(built, suggester=models) if models is not None else built
        app.state.audit_reader = audit_reader or log or MemoryAuditReader()  # audit off: nothing to report
        app.state.care_links = MpiCareLinks(built.store) if isinstance(built.store, SqlStore) else NoCareLinks()
        app.state.signing_keys = open_signing_keys(settings)
        app.state.token_validator = open_token_validator(settings, app.state.signing_keys)
        validation.warm_up()
        if settings.gc_freeze:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if models is not None:
                models.close()
            if app.state.token_validator is not None:
                app.state.token_validator.close()
            if owned and log is not None:
                log.close()
            if owned:
                built.store.close()

    telemetry = None if settings.opentelemetry else TelemetryConfig(tracing=False, metrics=False, logs=False)
    app = FastAPI(title="ehr-service FHIR R4", lifespan=lifespan, docs_url="/docs", redoc_url=None,
                  telemetry=telemetry)
    app.state.settings = settings
    app.state.capability = None
    errors.install(app)
    app.add_middleware(InferenceAudit)
    app.include_router(smart_router)  # open: discovery and public keys
    app.include_router(audit_event_router)  # before the generic routes, which would take AuditEvent too
    app.include_router(fhir_router)
    app.include_router(audit_pages_router)
    app.include_router(auth_router)
    return app
