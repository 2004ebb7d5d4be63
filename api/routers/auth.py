"""Login, tokens and API keys, operator accounts."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import select

from ..models import ApiToken, OperatorUser
from ..pagination import Page
from ..schemas import ApiKeyIn, LoginIn, OperatorIn, OperatorOut, TokenOut
from ..security import Admin, Db, Reader, hash_password, issue_token, token_digest, verify_password

router = APIRouter(prefix="/api", tags=["auth"])


@router.post("/auth/token", response_model=TokenOut)
def login(body: LoginIn, db: Db, request: Request) -> TokenOut:
    user = db.scalar(select(OperatorUser).where(OperatorUser.username == body.username))
    if user is None or not user.enabled or not verify_password(body.password, user.password_hash):
        raise HTTPException(401, "wrong username or password")
    ttl = request.app.state.settings.token_ttl_s
    return TokenOut(access_token=issue_token(db, user, ttl), role=user.role, expires_in_s=ttl)


@router.get("/auth/me", response_model=OperatorOut)
def me(user: Reader) -> OperatorUser:
    return user


@router.post("/auth/api-keys", status_code=201)
def create_api_key(body: ApiKeyIn, db: Db, user: Reader) -> dict:
    """A long-lived key for scripts, with the caller's role. Shown once."""
    return {"api_key": issue_token(db, user, None, label=body.label), "label": body.label}


@router.post("/auth/logout", status_code=204)
def logout(db: Db, user: Reader, request: Request) -> None:
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else request.headers.get("x-api-key", "")
    row = db.scalar(select(ApiToken).where(ApiToken.digest == token_digest(token)))
    if row is not None:
        row.revoked = True
        db.commit()


@router.get("/operators", response_model=Page[OperatorOut])
def list_operators(db: Db, _: Admin) -> dict:
    rows = db.scalars(select(OperatorUser).order_by(OperatorUser.id)).all()
    return {"items": rows, "total": len(rows), "limit": len(rows), "offset": 0}


@router.post("/operators", response_model=OperatorOut, status_code=201)
def create_operator(body: OperatorIn, db: Db, _: Admin) -> OperatorUser:
    if db.scalar(select(OperatorUser).where(OperatorUser.username == body.username)):
        raise HTTPException(409, f"operator {body.username!r} exists")
    user = OperatorUser(username=body.username, password_hash=hash_password(body.password), role=body.role)
    db.add(user)
    db.commit()
    return user


@router.delete("/operators/{user_id}", status_code=204)
def delete_operator(user_id: int, db: Db, admin: Admin) -> None:
    user = db.get(OperatorUser, user_id)
    if user is None:
        raise HTTPException(404, f"no operator {user_id}")
    if user.id == admin.id:
        raise HTTPException(409, "you cannot delete your own account")
    db.delete(user)
    db.commit()
