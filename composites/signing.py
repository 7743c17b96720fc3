"""JSON Web Token signing, the one place PyJWT errors are translated.

``sign_jwt`` loads the key itself, with ``cryptography``, before handing it
to PyJWT, so that every way a key can be wrong (not PEM, damaged, protected
by a passphrase, a public key, the wrong type or curve for the algorithm)
becomes a ``JWTSigningError`` that says which, and never shows the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from composites.exceptions import JWTSigningError

ALGORITHMS = frozenset(
    {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384"}
    | {"ES512", "PS256", "PS384", "PS512", "EdDSA"}
)
CURVES = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}

PEM_BLOCK = re.compile(
    r"(-----BEGIN (?P<label>[A-Z0-9 ]+)-----)(?P<body>.*?)(-----END (?P=label)-----)",
    re.DOTALL,
)
PEM_LINE = 64

SigningKey = (
    bytes
    | rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
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
        # The rendered value is not quoted: it may hold part of a secret.
        raise JWTSigningError(f"the algorithm is not one of {allowed}")
    if not isinstance(payload, Mapping):
        raise JWTSigningError("the JWT payload must be an object")
    extra_headers = _headers(headers, algorithm)
    signing_key = load_key(key, algorithm)
    try:
        return jwt.encode(
            dict(payload), signing_key, algorithm=algorithm, headers=extra_headers
        )
    except Exception as exc:
        raise JWTSigningError(_describe(exc, algorithm)) from None


def load_key(key: Any, algorithm: str) -> SigningKey:
    """Return the key ``algorithm`` signs with, or raise ``JWTSigningError``.

    HMAC algorithms take the key's bytes as the shared secret; the others
    need a PEM (or OpenSSH) private key of the matching type.
    """
    if not isinstance(key, str | bytes) or not key:
        raise JWTSigningError("the signing key must be a non-empty string")
    if algorithm.startswith("HS"):
        return _shared_secret(key, algorithm)
    return _check_type(_private_key(normalise_key(key), algorithm), algorithm)


def normalise_key(key: str | bytes) -> str | bytes:
    """Restore the line breaks of a PEM key damaged by storage.

    A PEM block's body is base64, which has neither backslashes nor spaces,
    so literal ``\\n`` (or ``\\r\\n``) sequences, spaces in place of line
    breaks, indentation and Windows line ends can be undone without
    ambiguity.  A block with RFC 1421 headers (a legacy encrypted key) only
    has its escaped line breaks restored.  Anything else is returned as is.
    """
    if isinstance(key, bytes) or "-----BEGIN" not in key:
        return key
    text = key.replace("\\r\\n", "\n").replace("\\n", "\n")
    text = text.replace("\\r", "\n").replace("\r\n", "\n").strip()
    return PEM_BLOCK.sub(_rewrap, text) + "\n"


def _rewrap(match: re.Match[str]) -> str:
    begin, body, end = match.group(1), match.group("body"), match.group(4)
    if ":" in body:
        lines = [line.strip() for line in body.strip().splitlines()]
        return "\n".join([begin, *lines, end])
    compact = "".join(body.split())
    lines = [compact[i : i + PEM_LINE] for i in range(0, len(compact), PEM_LINE)]
    return "\n".join([begin, *lines, end])


def _shared_secret(key: str | bytes, algorithm: str) -> bytes:
    secret = key.encode() if isinstance(key, str) else key
    if b"-----BEGIN" in secret or secret.startswith((b"ssh-", b"ecdsa-")):
        raise JWTSigningError(
            f"{algorithm} signs with a shared secret, but the key is a PEM or "
            "SSH key; use an RS, PS, ES or EdDSA algorithm with it"
        )
    return secret


def _private_key(key: str | bytes, algorithm: str) -> PrivateKeyTypes:
    data = key.encode() if isinstance(key, str) else key
    if b"-----BEGIN" not in data:
        raise JWTSigningError(
            f"{algorithm} needs a PEM private key ('-----BEGIN ... PRIVATE "
            "KEY-----'); the key is not PEM"
        )
    if b"PUBLIC KEY-----" in data or b"CERTIFICATE-----" in data:
        raise JWTSigningError(
            "the key is a public key or certificate; signing needs the private key"
        )
    if b"ENCRYPTED" in data:
        raise JWTSigningError(_PASSPHRASE)
    try:
        if b"OPENSSH PRIVATE KEY" in data:
            return serialization.load_ssh_private_key(data, password=None)
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise JWTSigningError(_PASSPHRASE) from None
    except UnsupportedAlgorithm:
        raise JWTSigningError("the key's type is not supported for signing") from None
    except ValueError:
        raise JWTSigningError(
            "the PEM private key could not be read; check that it is complete "
            "and that its line breaks survived storage"
        ) from None


_PASSPHRASE = (
    "the private key is protected by a passphrase; store it unencrypted "
    "(PKCS #8 without encryption) in the secrets backend"
)


def _check_type(key: PrivateKeyTypes, algorithm: str) -> SigningKey:
    family = algorithm[:2]
    if family in ("RS", "PS") and isinstance(key, rsa.RSAPrivateKey):
        return key
    if family == "ES" and isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name == CURVES[algorithm]:
            return key
        curve = CURVE_NAMES[CURVES[algorithm]]
        raise JWTSigningError(
            f"{algorithm} needs an EC key on curve {curve}, "
            f"but the key is {_key_kind(key)}"
        )
    if algorithm == "EdDSA" and isinstance(
        key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
    ):
        return key
    needed = {"RS": "an RSA", "PS": "an RSA", "ES": "an EC", "Ed": "an Ed25519"}
    raise JWTSigningError(
        f"{algorithm} needs {needed[family]} private key, "
        f"but the key is {_key_kind(key)}"
    )


def _key_kind(key: PrivateKeyTypes) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return "an RSA key"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        curve = CURVE_NAMES.get(key.curve.name, key.curve.name)
        return f"an EC key on curve {curve}"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "an Ed25519 key"
    if isinstance(key, ed448.Ed448PrivateKey):
        return "an Ed448 key"
    return f"a {type(key).__name__.removeprefix('_')}"


def _headers(headers: Any, algorithm: str) -> dict[str, Any] | None:
    if headers is None:
        return None
    if not isinstance(headers, Mapping):
        raise JWTSigningError("the JWT headers must be an object")
    # PyJWT would sign with a header's "alg" in place of the algorithm
    # argument, which would let "none" through.
    alg = headers.get("alg")
    if alg is not None and alg != algorithm:
        raise JWTSigningError(
            f"the JWT header 'alg' must not differ from the algorithm {algorithm}"
        )
    return dict(headers) or None


def _describe(exc: Exception, algorithm: str) -> str:
    if isinstance(exc, jwt.exceptions.InvalidKeyError):
        return f"the key is not valid for {algorithm}"
    if isinstance(exc, jwt.exceptions.PyJWTError):
        return f"the JWT could not be signed: {exc}"
    if isinstance(exc, TypeError | ValueError) and "serializable" in str(exc):
        return "the JWT payload or headers are not JSON-serialisable"
    return f"signing with {algorithm} failed: {type(exc).__name__}"
