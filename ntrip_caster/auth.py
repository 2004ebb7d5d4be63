"""Accounts with salted, hashed passwords (stdlib scrypt), per-mountpoint access, source passwords.

Stored hash format: ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``. Verifying a hash costs a few
milliseconds of CPU on purpose; successful verifications are remembered (keyed by a keyed
digest of the password, never the password itself) so that a rover reconnecting costs nothing.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections import OrderedDict
from dataclasses import dataclass, field

DEFAULT_N = 2 ** 14
_CACHE_MAX = 4096


def hash_password(password: str, n: int = DEFAULT_N, r: int = 8, p: int = 1) -> str:
    """Salted scrypt hash string of ``password`` (store this, never the password)."""
    salt = os.urandom(16)
    dk = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${base64.b64encode(salt).decode()}${base64.b64encode(dk).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a :func:`hash_password` string."""
    try:
        scheme, n, r, p, salt_b64, dk_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, dk = base64.b64decode(salt_b64), base64.b64decode(dk_b64)
        got = hashlib.scrypt(password.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(dk),
                             maxmem=256 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, dk)


@dataclass
class Account:
    """A rover account. ``mounts`` empty = every mountpoint; ``max_connections`` 0 = unlimited."""

    name: str
    password_hash: str
    mounts: frozenset[str] = field(default_factory=frozenset)
    max_connections: int = 0

    def may_use(self, mount: str) -> bool:
        return not self.mounts or mount in self.mounts


class PasswordCache:
    """Remembers (stored hash, password) pairs that verified, as keyed digests, bounded LRU."""

    def __init__(self, size: int = _CACHE_MAX) -> None:
        self._key = os.urandom(32)
        self._ok: OrderedDict[bytes, None] = OrderedDict()
        self.size = size

    def _digest(self, password: str, stored: str) -> bytes:
        return hmac.new(self._key, stored.encode() + b"\0" + password.encode(), hashlib.sha256).digest()

    def check(self, password: str, stored: str) -> bool:
        d = self._digest(password, stored)
        if d in self._ok:
            self._ok.move_to_end(d)
            return True
        if not verify_password(password, stored):
            return False
        self._ok[d] = None
        if len(self._ok) > self.size:
            self._ok.popitem(last=False)
        return True

    def known(self, password: str, stored: str) -> bool:
        """True when this pair already verified (no hashing cost)."""
        return self._digest(password, stored) in self._ok


class Authenticator:
    """Decides whether a rover may read a mountpoint and whether a source may feed one."""

    def __init__(self, accounts: list[Account]) -> None:
        self.accounts = {a.name: a for a in accounts}
        self.cache = PasswordCache()

    def is_cached(self, user: str | None, password: str | None) -> bool:
        acc = self.accounts.get(user or "")
        return acc is None or password is None or self.cache.known(password, acc.password_hash)

    def check_user(self, user: str | None, password: str | None, mount: str) -> tuple[bool, str]:
        """(ok, reason). Reasons: ``no-credentials``, ``unknown-user``, ``bad-password``, ``not-allowed``."""
        if user is None:
            return False, "no-credentials"
        acc = self.accounts.get(user)
        if acc is None:
            return False, "unknown-user"
        if not self.cache.check(password or "", acc.password_hash):
            return False, "bad-password"
        if not acc.may_use(mount):
            return False, "not-allowed"
        return True, "ok"

    def check_source(self, password: str | None, stored_hash: str | None) -> bool:
        """A source password against the mountpoint's own (separate from user passwords)."""
        if not stored_hash or password is None:
            return False
        return self.cache.check(password, stored_hash)
