"""Offset pagination shared by list endpoints: ``?limit=&offset=`` -> ``{items, total, limit, offset}``."""
from __future__ import annotations

from typing import Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class PageParams:
    def __init__(self, limit: int = Query(100, ge=1, le=500), offset: int = Query(0, ge=0)) -> None:
        self.limit, self.offset = limit, offset


def paginate(db: Session, stmt: Select, params: PageParams, convert) -> dict:
    total = db.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = db.scalars(stmt.limit(params.limit).offset(params.offset)).all()
    return {"items": [convert(r) for r in rows], "total": int(total or 0), "limit": params.limit,
            "offset": params.offset}
