"""The signing key: an ECDSA P-256 key (ES256) in a PEM file. `make run` generates
it on first start into the git-ignored data folder; compose and Kubernetes mount
it as a secret file. Only its public half leaves this module, as the JWKS."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

log = logging.getLogger(__name__)

ALGORITHM = "ES256"


class SigningKey:
    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("the signing key must be an EC P-256 key (ES256)")
        self._private_key = private_key
        public_der = private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # Derived from the public key: every replica given the same key names it alike.
        self.kid = hashlib.sha256(public_der).hexdigest()[:16]

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._private_key, algorithm=ALGORITHM, headers={"kid": self.kid})

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        public: dict[str, Any] = dict(
            ECAlgorithm.to_jwk(self._private_key.public_key(), as_dict=True)
        )
        public.update({"kid": self.kid, "use": "sig", "alg": ALGORITHM})
        return {"keys": [public]}

    def pem(self) -> bytes:
        return self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def load_signing_key(path: Path, *, create: bool) -> SigningKey:
    """The key in `path`; with `create`, a new one is written there first if absent
    (readable by this user only). A configured path that is missing is an error:
    a mounted secret that is not there must not silently become a fresh key."""
    if not path.exists():
        if not create:
            raise FileNotFoundError(f"signing key file {path} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
        key = SigningKey.generate()
        # Written aside, then linked into place: a second process starting at the same
        # moment either finds the whole file or loses the link race and reads ours.
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(key.pem())
        try:
            os.link(draft, path)
            log.info("generated a new signing key %s in %s", key.kid, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} does not hold an EC private key")
    return SigningKey(loaded)


def main() -> None:
    """`python -m identity_service.adapters.keys PATH`: write a new key to PATH unless
    one is there (for a compose volume or a Kubernetes secret); prints its kid."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("path", type=Path)
    print(load_signing_key(parser.parse_args().path, create=True).kid)


if __name__ == "__main__":
    main()
