"""NTRIP rover accounts used by the caster."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy import select

from ..models import NtripUser
from ..pagination import Page, PageParams, paginate
from ..schemas import NtripUserIn, NtripUserOut, NtripUserPatch
from ..security import Db, Operator, Reader, hash_password

router = APIRouter(prefix="/api/ntrip-users", tags=["ntrip users"])


def get_user(db, username: str) -> NtripUser:
    u = db.scalar(select(NtripUser).where(NtripUser.username == username))
    if u is None:
        raise HTTPException(404, f"no NTRIP user {username!r}")
    return u


@router.get("", response_model=Page[NtripUserOut])
def list_users(db: Db, _: Reader, page: PageParams = Depends()) -> dict:
    return paginate(db, select(NtripUser).order_by(NtripUser.username), page, lambda u: u)


@router.post("", response_model=NtripUserOut, status_code=201)
def create_user(body: NtripUserIn, db: Db, _: Operator, request: Request) -> NtripUser:
    if db.scalar(select(NtripUser).where(NtripUser.username == body.username)):
        raise HTTPException(409, f"NTRIP user {body.username!r} exists")
    u = NtripUser(username=body.username, password_hash=hash_password(body.password),
                  mountpoints=body.mountpoints, max_connections=body.max_connections, enabled=body.enabled)
    db.add(u)
    db.commit()
    request.app.state.changed("ntrip_users")
    return u


@router.patch("/{username}", response_model=NtripUserOut)
def update_user(username: str, body: NtripUserPatch, db: Db, _: Operator, request: Request) -> NtripUser:
    u = get_user(db, username)
    data = body.model_dump(exclude_unset=True)
    if "password" in data:
        u.password_hash = hash_password(data.pop("password"))
    for k, v in data.items():
        setattr(u, k, v)
    db.commit()
    request.app.state.changed("ntrip_users")
    return u


@router.delete("/{username}", status_code=204)
def delete_user(username: str, db: Db, _: Operator, request: Request) -> None:
    db.delete(get_user(db, username))
    db.commit()
    request.app.state.changed("ntrip_users")
