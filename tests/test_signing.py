"""JWT signing: every algorithm verified against its public key, keys damaged
in storage, and each way a key can be wrong."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from composites.exceptions import JWTSigningError
from composites.signing import ALGORITHMS, normalise_key, sign_jwt
from tests.keys import pem, public_pem

HMAC_SECRETS = {
    "HS256": "hs256-secret-for-tests-0123456789abcdef",
    "HS384": "hs384-secret-for-tests-0123456789abcdef0123456789",
    "HS512": "hs512-secret-for-tests-0123456789abcdef0123456789abcdef0123456",
}
PASSPHRASE = b"correct horse battery staple"
PAYLOAD = {"sub": "ada", "iat": 1_700_000_000, "exp": 1_700_000_300}


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    """Private keys generated for this module, by family or curve."""
    return {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "P-256": ec.generate_private_key(ec.SECP256R1()),
        "P-384": ec.generate_private_key(ec.SECP384R1()),
        "P-521": ec.generate_private_key(ec.SECP521R1()),
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
        "ed448": ed448.Ed448PrivateKey.generate(),
    }


KEY_OF = {
    "RS256": "rsa",
    "RS384": "rsa",
    "RS512": "rsa",
    "PS256": "rsa",
    "PS384": "rsa",
    "PS512": "rsa",
    "ES256": "P-256",
    "ES384": "P-384",
    "ES512": "P-521",
    "EdDSA": "ed25519",
}


def signing_and_verifying(keys: dict[str, Any], algorithm: str) -> tuple[str, Any]:
    if algorithm in HMAC_SECRETS:
        return HMAC_SECRETS[algorithm], HMAC_SECRETS[algorithm]
    key = keys[KEY_OF[algorithm]]
    return pem(key), key.public_key()


def test_algorithms_table_covers_every_supported_algorithm() -> None:
    assert {*HMAC_SECRETS, *KEY_OF} == ALGORITHMS


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_sign_jwt_with_each_algorithm_verifies_against_public_key(
    keys: dict[str, Any], algorithm: str
) -> None:
    private, public = signing_and_verifying(keys, algorithm)

    token = sign_jwt(PAYLOAD, private, algorithm, {"kid": "key-1"})

    claims = jwt.decode(
        token, public, algorithms=[algorithm], options={"verify_exp": False}
    )
    assert claims == PAYLOAD
    assert jwt.get_unverified_header(token) == {
        "alg": algorithm,
        "kid": "key-1",
        "typ": "JWT",
    }


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("ed448", serialization.PrivateFormat.PKCS8),
        ("rsa", serialization.PrivateFormat.TraditionalOpenSSL),
        ("rsa", serialization.PrivateFormat.OpenSSH),
        ("ed25519", serialization.PrivateFormat.OpenSSH),
    ],
)
def test_sign_jwt_with_other_key_encodings_verifies(
    keys: dict[str, Any], name: str, fmt: Any
) -> None:
    key = keys[name]
    algorithm = "RS256" if name == "rsa" else "EdDSA"

    token = sign_jwt(PAYLOAD, pem(key, fmt), algorithm)

    options = {"verify_exp": False}
    decoded = jwt.decode(token, key.public_key(), [algorithm], options=options)
    assert decoded == PAYLOAD


# Keys damaged in storage ----------------------------------------------------


def damaged(text: str, how: str) -> str:
    if how == "literal-newlines":
        return text.replace("\n", "\\n")
    if how == "literal-crlf":
        return text.replace("\n", "\\r\\n")
    if how == "crlf":
        return text.replace("\n", "\r\n")
    if how == "spaces":
        return text.replace("\n", " ")
    if how == "indented":
        return "\n".join("    " + line for line in text.splitlines())
    assert how == "one-line-body"
    lines = text.strip().splitlines()
    return "\n".join([lines[0], "".join(lines[1:-1]), lines[-1]])


DAMAGE = ["literal-newlines", "literal-crlf", "crlf", "spaces", "indented"]


@pytest.mark.parametrize("how", [*DAMAGE, "one-line-body"])
@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
def test_sign_jwt_with_damaged_pem_line_breaks_still_signs(
    keys: dict[str, Any], how: str, algorithm: str
) -> None:
    private, public = signing_and_verifying(keys, algorithm)

    token = sign_jwt(PAYLOAD, damaged(private, how), algorithm)

    options = {"verify_exp": False}
    assert jwt.decode(token, public, [algorithm], options=options) == PAYLOAD


@pytest.mark.parametrize("how", DAMAGE)
def test_normalise_key_restores_the_original_pem(
    keys: dict[str, Any], how: str
) -> None:
    original = pem(keys["P-256"])

    assert normalise_key(damaged(original, how)) == original


@pytest.mark.parametrize("value", ["a shared secret\\n", b"-----BEGIN\\n", ""])
def test_normalise_key_leaves_non_pem_values_alone(value: str | bytes) -> None:
    assert normalise_key(value) == value


# Keys that cannot sign ------------------------------------------------------


def encrypted_pem(key: Any, fmt: Any) -> str:
    encryption = serialization.BestAvailableEncryption(PASSPHRASE)
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption).decode()


def truncated(text: str) -> str:
    lines = text.splitlines()
    return "\n".join([*lines[:4], lines[-1]])


KEY_ERRORS: list[tuple[str, str, str]] = [
    # (how the key is made, algorithm, what the detail says)
    ("not-pem", "RS256", "RS256 needs a PEM private key"),
    ("truncated", "RS256", "could not be read"),
    ("garbled", "ES256", "could not be read"),
    ("public", "RS256", "is a public key or certificate"),
    ("encrypted-pkcs8", "RS256", "protected by a passphrase"),
    ("encrypted-traditional", "RS256", "protected by a passphrase"),
    ("ec-for-rsa", "RS256", "RS256 needs an RSA private key, but the key is an EC"),
    ("ec-for-pss", "PS384", "PS384 needs an RSA private key"),
    ("rsa-for-ec", "ES256", "ES256 needs an EC private key, but the key is an RSA"),
    ("p384-for-es256", "ES256", "curve P-256, but the key is an EC key on curve P-384"),
    ("p256-for-es512", "ES512", "curve P-521, but the key is an EC key on curve P-256"),
    ("rsa-for-eddsa", "EdDSA", "EdDSA needs an Ed25519 private key"),
    ("pem-for-hmac", "HS256", "HS256 signs with a shared secret"),
]


def make_key(keys: dict[str, Any], how: str) -> str:
    rsa_pem = pem(keys["rsa"])
    made = {
        "not-pem": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        "truncated": truncated(rsa_pem),
        "garbled": pem(keys["P-256"]).replace("M", "%", 3),
        "public": public_pem(keys["rsa"]),
        "encrypted-pkcs8": encrypted_pem(
            keys["rsa"], serialization.PrivateFormat.PKCS8
        ),
        "encrypted-traditional": encrypted_pem(
            keys["rsa"], serialization.PrivateFormat.TraditionalOpenSSL
        ),
        "ec-for-rsa": pem(keys["P-256"]),
        "ec-for-pss": pem(keys["P-384"]),
        "rsa-for-ec": rsa_pem,
        "p384-for-es256": pem(keys["P-384"]),
        "p256-for-es512": pem(keys["P-256"]),
        "rsa-for-eddsa": rsa_pem,
        "pem-for-hmac": rsa_pem,
    }
    return made[how]


@pytest.mark.parametrize(("how", "algorithm", "expected"), KEY_ERRORS)
def test_sign_jwt_with_unusable_key_says_why_without_the_key(
    keys: dict[str, Any], how: str, algorithm: str, expected: str
) -> None:
    key = make_key(keys, how)

    with pytest.raises(JWTSigningError) as caught:
        sign_jwt(PAYLOAD, key, algorithm)

    assert expected in caught.value.detail
    body = [line for line in key.splitlines() if "-----" not in line]
    assert not any(line and line in caught.value.detail for line in body)
    assert caught.value.__cause__ is None


@pytest.mark.parametrize("algorithm", ["none", "RS1", "hs256", "", "HS256 "])
def test_sign_jwt_with_algorithm_outside_the_list_is_refused(algorithm: str) -> None:
    with pytest.raises(
        JWTSigningError, match="is not one of ES256, ES384, ES512, EdDSA, HS256"
    ):
        sign_jwt(PAYLOAD, HMAC_SECRETS["HS256"], algorithm)


@pytest.mark.parametrize(
    ("payload", "key", "headers", "expected"),
    [
        (PAYLOAD, "", None, "must be a non-empty string"),
        (PAYLOAD, None, None, "must be a non-empty string"),
        (["not", "an", "object"], "secret", None, "payload must be an object"),
        ({"when": {1, 2}}, "secret", None, "not JSON-serialisable"),
        (PAYLOAD, "secret", "kid=1", "headers must be an object"),
        (PAYLOAD, "secret", {"alg": "none"}, "'alg' must not differ from"),
        (PAYLOAD, "secret", {"kid": 7}, "Key ID header parameter must be a string"),
    ],
)
def test_sign_jwt_with_bad_arguments_raises_signing_error(
    payload: Any, key: Any, headers: Any, expected: str
) -> None:
    with pytest.raises(JWTSigningError) as caught:
        sign_jwt(payload, key, "HS256", headers)

    assert expected in caught.value.detail


def test_sign_jwt_with_header_alg_equal_to_algorithm_signs() -> None:
    token = sign_jwt(PAYLOAD, "secret", "HS384", {"alg": "HS384"})

    assert jwt.get_unverified_header(token)["alg"] == "HS384"
