"""Password hashing for console users: scrypt from the standard library.

A hash is one self-describing string, ``scrypt$N$r$p$SALT$HASH`` (salt and hash in unpadded
URL-safe base64), so the cost can be raised later without breaking stored hashes: a hash is
always checked with the parameters written in it. scrypt is memory-hard (N=2**14, r=8: 16 MiB
per check), which makes guessing a stolen hash expensive; comparison is constant-time.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

from kefu.errors import InvalidInputError

MIN_LENGTH = 8
MAX_LENGTH = 1024  # scrypt accepts any length; a bound keeps a request from costing much

_N = 2**14
_R = 8
_P = 1
_SALT_BYTES = 16
_HASH_BYTES = 32
_MAXMEM = 64 * 1024 * 1024


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_policy(password: str) -> str:
    """The password if it is acceptable, else :class:`InvalidInputError` (field password)."""
    if len(password) < MIN_LENGTH:
        raise InvalidInputError(
            f"a password needs at least {MIN_LENGTH} characters", field="password"
        )
    if len(password) > MAX_LENGTH:
        raise InvalidInputError(f"a password is at most {MAX_LENGTH} characters", field="password")
    if not password.strip():
        raise InvalidInputError("a password must not be only spaces", field="password")
    return password


def _derive(password: str, salt: bytes, n: int, r: int, p: int, size: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=size
    )


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` of ``password`` (checked against the policy first)."""
    check_policy(password)
    salt = secrets.token_bytes(_SALT_BYTES)
    derived = _derive(password, salt, _N, _R, _P, _HASH_BYTES)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(derived)}"


def verify_password(password: str, stored: str) -> bool:
    """Does ``password`` match ``stored``? False for a malformed or foreign hash."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt" or len(password) > MAX_LENGTH:
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        return False
    if not expected or n < 2 or n > 2**20 or not 1 <= r <= 32 or not 1 <= p <= 16:
        return False
    derived = _derive(password, salt, n, r, p, len(expected))
    return hmac.compare_digest(derived, expected)


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def burn_time(password: str) -> None:
    """Spend the time of one password check: a sign-in for an unknown name then takes as long
    as one for a known name (no user enumeration by timing)."""
    verify_password(password, _dummy_hash())
