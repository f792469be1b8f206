"""Service settings. ``create_app`` receives one :class:`Settings`; nothing reads the environment
elsewhere. Environment variables (``EHR_DB``, ``EHR_DATA_DIR``, ...) are read only by :meth:`from_env`."""

from __future__ import annotations

import os
from dataclasses import dataclass
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
    #: record every interaction in the tamper-evident audit log (off: nothing is recorded; for the
    #: overhead benchmark only)
    audit: bool = True

    @property
    def database_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.data_dir / 'ehr.db').resolve()}"

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
            audit=os.environ.get("EHR_AUDIT", "1") != "0",
        )

    @property
    def model_repository(self) -> Path:
        if self.models_dir is not None:
            return self.models_dir
        import inference

        return Path(inference.__file__).resolve().parent.parent / "models"
