"""Service settings. ``create_app`` receives one :class:`Settings`; nothing reads the environment
elsewhere. Environment variables (``EHR_DB``, ``EHR_DATA_DIR``, ...) are read only by :meth:`from_env`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import time
from pathlib import Path

DEFAULT_DATA_DIR = Path("var")


@dataclass(frozen=True, slots=True)
class Settings:
    #: SQLAlchemy URL; None means an SQLite file in ``data_dir``
    db_url: str | None = None
    data_dir: Path = DEFAULT_DATA_DIR
    #: public base URL of the FHIR endpoint, used in links and Location headers; None derives it
    base_url: str | None = None
    max_body_bytes: int = 64 * 1024 * 1024
    default_tenant: str = "default"
    default_count: int = 20
    #: load the ONNX models and serve $ai-suggest, /v2 (KServe) and /metrics
    inference: bool = False
    #: the model repository (``models/<name>/<version>/``); None: the one beside the ``inference`` package
    models_dir: Path | None = None
    #: refuse to start unless the CUDA execution provider is really available
    require_gpu: bool = False
    #: envelope encryption of stored resources and blind indexes of identifying search values; for a
    #: database's whole life (switching it on an existing database leaves it unreadable)
    encryption: bool = True
    #: HashiCorp Vault holding the key-encryption keys (transit engine); None: local key files
    vault_addr: str | None = None
    vault_token: str | None = None
    vault_mount: str = "transit"
    #: unwrapped data keys kept in memory per process: at most this many, each for at most this long
    #: (a shred reaches the other workers within the TTL; see ``ehr.crypto.cache``)
    key_cache_size: int = 10_000
    key_cache_ttl_s: float = 30.0
    #: IANA time zone the audit reports use for local days and office hours (after-hours anomalies)
    audit_timezone: str = "UTC"
    #: local office hours; audit entries outside [start, end) are after-hours
    audit_office_hours: tuple[time, time] = (time(7), time(19))
    #: record every interaction in the tamper-evident audit log (off: nothing is recorded; for the
    #: overhead benchmark only)
    audit: bool = True
    #: reads', searches' and failures' entries become durable in a per-process journal file under
    #: ``data_dir/audit-journal`` before their responses leave, and are chained into the log within
    #: ``audit_drain_ms`` (``ehr.audit.journal``); off: each batch commits to the log before its
    #: responses leave
    audit_journal: bool = True
    #: how often (milliseconds) each process drains its audit journal into the log
    audit_drain_ms: int = 50
    #: link Patients across hospitals with the master patient index (``ehr.mpi``) as they are written
    mpi: bool = True
    #: authorization (``ehr.auth``): "smart" requires a valid SMART on FHIR bearer token on every
    #: request; "dev" (``ehr serve --dev``, local exploration only) trusts the X-Tenant/X-User/X-Roles
    #: development headers and grants everything within a tenant
    auth: str = "smart"
    #: the token issuer (``iss``) accepted; None: the built-in authorization server at ``<origin>/auth``
    auth_issuer: str | None = None
    #: the audience (``aud``) tokens must name; None: this server's FHIR base URL
    auth_audience: str | None = None
    #: where an external identity provider publishes its signing keys (JWKS); None: the built-in
    #: server's own keys (``keys_dir/auth-signing.jwks.json``)
    auth_jwks_url: str | None = None
    #: an external identity provider's authorization and token endpoints, announced in
    #: ``/.well-known/smart-configuration`` (the built-in server's are derived)
    auth_authorize_url: str | None = None
    auth_token_url: str | None = None
    #: lifetimes of the built-in server's access tokens (SMART Backend Services recommends 300 s; the
    #: resource server does not look tokens up, so a revoked token works until it expires) and of
    #: break-glass grants
    access_token_lifetime_s: int = 300
    break_glass_lifetime_s: int = 3600
    #: after start-up, move everything alive into the collector's permanent generation
    #: (``gc.freeze``), so full collections no longer walk the registry, models and routes (about
    #: 510,000 objects; a full collection of them stalled a worker for 280–510 ms, BENCHMARKS.md).
    #: ``ehr serve`` turns it on for its workers (``EHR_GC_FREEZE=1`` unless set to 0).
    gc_freeze: bool = False
    #: FastAPI's native OpenTelemetry (spans, metrics and logs through the global providers). Off by
    #: default: with no provider configured it records nothing, yet its per-request check of the
    #: providers cost a read about 2 % of its time (BENCHMARKS.md). ``EHR_OPENTELEMETRY=1`` turns it on.
    opentelemetry: bool = False

    @property
    def database_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.data_dir / 'ehr.db').resolve()}"

    @property
    def keys_dir(self) -> Path:
        """Local key files: KEKs (``kek/``) and the blind-index key, created on first start."""
        return self.data_dir / "keys"

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            db_url=os.environ.get("EHR_DB") or None,
            data_dir=Path(os.environ.get("EHR_DATA_DIR", str(DEFAULT_DATA_DIR))),
            base_url=os.environ.get("EHR_BASE_URL") or None,
            max_body_bytes=int(os.environ.get("EHR_MAX_BODY_BYTES", str(64 * 1024 * 1024))),
            inference=os.environ.get("EHR_INFERENCE", "0") == "1",
            models_dir=Path(os.environ["EHR_MODELS_DIR"]) if os.environ.get("EHR_MODELS_DIR") else None,
            require_gpu=os.environ.get("EHR_REQUIRE_GPU", "0") == "1",
            encryption=os.environ.get("EHR_ENCRYPTION", "1") != "0",
            vault_addr=os.environ.get("EHR_VAULT_ADDR") or None,
            vault_token=os.environ.get("EHR_VAULT_TOKEN") or None,
            vault_mount=os.environ.get("EHR_VAULT_MOUNT") or "transit",
            key_cache_ttl_s=float(os.environ.get("EHR_KEY_CACHE_TTL", "30")),
            audit_timezone=os.environ.get("EHR_AUDIT_TIMEZONE") or "UTC",
            audit_office_hours=parse_office_hours(os.environ.get("EHR_AUDIT_OFFICE_HOURS") or "07:00-19:00"),
            audit=os.environ.get("EHR_AUDIT", "1") != "0",
            audit_journal=os.environ.get("EHR_AUDIT_JOURNAL", "1") != "0",
            audit_drain_ms=int(os.environ.get("EHR_AUDIT_DRAIN_MS", "50")),
            mpi=os.environ.get("EHR_MPI", "1") != "0",
            auth=os.environ.get("EHR_AUTH") or "smart",
            auth_issuer=os.environ.get("EHR_AUTH_ISSUER") or None,
            auth_audience=os.environ.get("EHR_AUTH_AUDIENCE") or None,
            auth_jwks_url=os.environ.get("EHR_AUTH_JWKS_URL") or None,
            auth_authorize_url=os.environ.get("EHR_AUTH_AUTHORIZE_URL") or None,
            auth_token_url=os.environ.get("EHR_AUTH_TOKEN_URL") or None,
            opentelemetry=os.environ.get("EHR_OPENTELEMETRY", "0") == "1",
            gc_freeze=os.environ.get("EHR_GC_FREEZE", "0") == "1",
        )

    @property
    def model_repository(self) -> Path:
        if self.models_dir is not None:
            return self.models_dir
        import inference

        return Path(inference.__file__).resolve().parent.parent / "models"


def parse_office_hours(text: str) -> tuple[time, time]:
    """``"07:00-19:00"`` → ``(time(7), time(19))``; the start must come before the end."""
    start_text, sep, end_text = text.partition("-")
    try:
        start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
    except ValueError:
        start = end = time(0)
    if not sep or start >= end:
        raise ValueError(f"office hours {text!r} are not HH:MM-HH:MM with the start first; "
                         "write them like 07:00-19:00")
    return start, end
