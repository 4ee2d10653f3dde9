"""The signing key: generated once into the data folder, read back the same; a
configured key file that is missing is an error, never a silent new key."""

from __future__ import annotations

import stat

import jwt
import pytest

from identity_service.adapters.keys import load_signing_key


def test_the_key_is_generated_once_private_to_its_owner_and_read_back_alike(tmp_path):
    path = tmp_path / "data" / "key.pem"

    first = load_signing_key(path, create=True)
    again = load_signing_key(path, create=True)

    assert first.kid == again.kid
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(path.parent.iterdir()) == [path]  # no draft left behind


def test_a_missing_configured_key_file_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_signing_key(tmp_path / "mounted-secret.pem", create=False)


def test_what_it_signs_verifies_with_its_published_key_only(tmp_path):
    key = load_signing_key(tmp_path / "key.pem", create=True)
    other = load_signing_key(tmp_path / "other.pem", create=True)
    token = key.sign({"sub": "a1"})

    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": key.kid, "typ": "JWT"}
    public = jwt.PyJWKSet.from_dict(key.jwks())[key.kid]
    assert jwt.decode(token, public, algorithms=["ES256"])["sub"] == "a1"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, jwt.PyJWKSet.from_dict(other.jwks())[other.kid], algorithms=["ES256"])
