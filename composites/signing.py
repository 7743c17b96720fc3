"""JSON Web Token signing, the one place PyJWT errors are translated."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jwt

from composites.exceptions import JWTSigningError

ALGORITHMS = frozenset(
    {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384"}
    | {"ES512", "PS256", "PS384", "PS512", "EdDSA"}
)


def sign_jwt(
    payload: Mapping[str, Any],
    key: Any,
    algorithm: str = "HS256",
    headers: Mapping[str, Any] | None = None,
) -> str:
    """Return a compact JWT; raise ``JWTSigningError`` for any failure."""
    if algorithm not in ALGORITHMS:
        allowed = ", ".join(sorted(ALGORITHMS))
        raise JWTSigningError(f"algorithm '{algorithm}' is not one of {allowed}")
    if not isinstance(payload, Mapping):
        raise JWTSigningError("the JWT payload must be an object")
    if not isinstance(key, str | bytes) or not key:
        raise JWTSigningError("the signing key must be a non-empty string")
    try:
        return jwt.encode(
            dict(payload),
            normalise_key(key),
            algorithm=algorithm,
            headers=dict(headers) if headers else None,
        )
    except Exception as exc:
        raise JWTSigningError(_describe(exc, algorithm)) from None


def normalise_key(key: str | bytes) -> str | bytes:
    """Restore line breaks of a PEM key stored with literal ``\\n``."""
    if isinstance(key, str) and "-----BEGIN" in key and "\\n" in key:
        return key.replace("\\r\\n", "\n").replace("\\n", "\n")
    return key


def _describe(exc: Exception, algorithm: str) -> str:
    if isinstance(exc, TypeError | ValueError) and "key" in str(exc).lower():
        return f"the key cannot sign {algorithm}: {type(exc).__name__}"
    if isinstance(exc, jwt.exceptions.InvalidKeyError):
        return f"the key is not valid for {algorithm}"
    if isinstance(exc, TypeError):
        return "the JWT payload or headers are not JSON-serialisable"
    return f"signing with {algorithm} failed: {type(exc).__name__}"
