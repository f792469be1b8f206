"""EHR launch contexts: https://hl7.org/fhir/smart-app-launch/app-launch.html#launch-app-ehr-launch

An EHR launches an app with ``?iss=<FHIR base>&launch=<id>``; the id is created beforehand with
``ehr launch --tenant T --patient P [--encounter E] [--client C]`` and names the patient (and encounter)
the app opens with. Ids are random, kept as SHA-256 digests, and expire after an hour.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select

from ehr.auth.server.errors import OAuthError
from ehr.auth.server.hashing import digest, new_secret
from ehr.auth.server.tables import auth_launches

LAUNCH_LIFETIME_S = 3600


@dataclass(frozen=True, slots=True)
class Launch:
    tenant: str
    patient: str | None
    encounter: str | None


def create_launch(conn: Connection, tenant: str, patient: str | None, encounter: str | None = None,
                  client_id: str | None = None) -> str:
    """A new launch id (shown once; only its digest is stored)."""
    launch = new_secret()
    conn.execute(delete(auth_launches).where(auth_launches.c.expires_at < int(time.time())))
    conn.execute(auth_launches.insert().values(launch_hash=digest(launch), client_id=client_id, tenant=tenant,
                                               patient=patient, encounter=encounter,
                                               expires_at=int(time.time()) + LAUNCH_LIFETIME_S))
    return launch


def resolve_launch(conn: Connection, launch: str, client_id: str, tenant: str) -> Launch:
    """The context of ``launch`` for this client and hospital, else ``invalid_request``."""
    row = conn.execute(select(auth_launches).where(auth_launches.c.launch_hash == digest(launch))).first()
    if row is None or row.expires_at < time.time() or row.tenant != tenant \
            or row.client_id not in (None, client_id):
        raise OAuthError("invalid_request", "Unknown or expired launch id (or one for another app or hospital); "
                                            "launch the app from the EHR again.")
    return Launch(row.tenant, row.patient, row.encounter)
