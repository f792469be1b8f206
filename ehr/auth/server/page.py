"""The login form of ``/auth/authorize``: plain HTML, every value escaped, the request carried in
hidden fields, the requested scopes listed so the user sees what the app asks for."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from ehr.auth.server.authorize import PARAMS, AuthorizeRequest

_STYLE = "body{font-family:sans-serif;max-width:28rem;margin:3rem auto}label{display:block;margin:.6rem 0}"


def login_page(request: AuthorizeRequest, params: Mapping[str, str], message: str | None = None) -> str:
    hidden = "".join(f'<input type="hidden" name="{name}" value="{escape(params[name])}">'
                     for name in PARAMS if params.get(name))
    scopes = "".join(f"<li><code>{escape(s)}</code></li>" for s in request.scope.split())
    patient = ('<label>Patient id <input name="patient" autocomplete="off" required></label>'
               if request.needs_patient() else "")
    error = f'<p role="alert"><strong>{escape(message)}</strong></p>' if message else ""
    return (f"<!doctype html><html><head><meta charset=utf-8><title>Sign in</title><style>{_STYLE}</style>"
            f"</head><body><h1>Sign in</h1><p><strong>{escape(request.client.name)}</strong> asks for:</p>"
            f'<ul>{scopes}</ul>{error}<form method="post" action="authorize">{hidden}'
            '<label>Username <input name="username" autocomplete="username" required></label>'
            '<label>Password <input name="password" type="password" autocomplete="current-password" required>'
            f'</label>{patient}<button type="submit">Sign in and allow</button></form></body></html>')


def error_page(message: str) -> str:
    return (f"<!doctype html><html><head><meta charset=utf-8><title>Authorization error</title></head>"
            f"<body><h1>Authorization error</h1><p>{escape(message)}</p></body></html>")
