"""Operator authentication: password login -> bearer token; long-lived API keys; role checks.

Tokens are random 32-byte URL-safe strings; only their SHA-256 digest is stored.
Roles: ``admin`` (everything, incl. users), ``operator`` (change network resources), ``readonly``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from ntrip_caster.auth import hash_password, verify_password

from .models import ApiToken, OperatorUser, utcnow

ROLE_RANK = {"readonly": 0, "operator": 1, "admin": 2}

__all__ = ["hash_password", "verify_password", "issue_token", "current_user", "require"]


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(db: Session, user: OperatorUser, ttl_s: int | None, label: str = "session") -> str:
    token = secrets.token_urlsafe(32)
    expires = None if ttl_s is None else utcnow() + dt.timedelta(seconds=ttl_s)
    db.add(ApiToken(user_id=user.id, digest=token_digest(token), label=label, expires_at=expires))
    db.commit()
    return token


def get_db(request: Request):
    db = request.app.state.sessions()
    try:
        yield db
    finally:
        db.close()


Db = Annotated[Session, Depends(get_db)]


def current_user(request: Request, db: Db) -> OperatorUser:
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else request.headers.get("x-api-key", "")
    if not token:
        raise HTTPException(401, "missing bearer token or X-API-Key", headers={"WWW-Authenticate": "Bearer"})
    row = db.scalar(select(ApiToken).where(ApiToken.digest == token_digest(token)))
    if row is None or row.revoked or (row.expires_at is not None and row.expires_at < utcnow()):
        raise HTTPException(401, "invalid or expired token", headers={"WWW-Authenticate": "Bearer"})
    if not row.user.enabled:
        raise HTTPException(403, "account disabled")
    return row.user


def require(role: str):
    """Dependency factory: the caller must hold ``role`` or a higher one."""

    def check(user: Annotated[OperatorUser, Depends(current_user)]) -> OperatorUser:
        if ROLE_RANK.get(user.role, -1) < ROLE_RANK[role]:
            raise HTTPException(403, f"role {role!r} required, you are {user.role!r}")
        return user

    return check


Reader = Annotated[OperatorUser, Depends(require("readonly"))]
Operator = Annotated[OperatorUser, Depends(require("operator"))]
Admin = Annotated[OperatorUser, Depends(require("admin"))]
