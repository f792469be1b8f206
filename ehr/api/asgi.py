"""The ASGI entry point for uvicorn workers: settings from the environment that ``ehr serve`` set."""

from ehr.api.app import create_app
from ehr.mpi.service import load_matcher
from ehr.settings import Settings

app = create_app(Settings.from_env(), matcher=load_matcher())
