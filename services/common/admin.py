"""Admin actions behind a token: `Authorization: Bearer <admin_token>`, compared in constant
time. Without the header or with a wrong token: 401. With no token configured the admin routes
are off: 403, never open. Reads and predictions need nothing."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

_bearer = HTTPBearer(auto_error=False, description="the admin_token of the settings")


def token_of(request: Request) -> SecretStr | None:
    token: SecretStr | None = request.app.state.admin_token
    return token


def admitted(given: str | None, configured: SecretStr | None) -> bool:
    """True only for the configured token; a missing configuration admits no one."""
    if configured is None or not configured.get_secret_value() or given is None:
        return False
    return hmac.compare_digest(given.encode(), configured.get_secret_value().encode())


def require_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The caller's identity for the audit log (`X-Actor`, else "admin")."""
    configured = token_of(request)
    if configured is None or not configured.get_secret_value():
        raise HTTPException(403, "admin actions are off: no admin_token is configured")
    given = credentials.credentials if credentials is not None else None
    if not admitted(given, configured):
        raise HTTPException(
            401, "a valid admin token is needed", headers={"WWW-Authenticate": "Bearer"}
        )
    return request.headers.get("x-actor") or "admin"


Admin = Annotated[str, Depends(require_admin)]
