"""Tables of the identity context (its repositories read and write them on Core).
Opaque tokens are stored only as their SHA-256 digests."""

from typing import Any

from sqlalchemy import Column, Index, MetaData, String, Table

from identity_service.domain.model import Role
from service_kit.mapping import states, version_column
from service_kit.tables import DIGEST, REGION, UUID, belongs_to, key, serial
from service_kit.types import UtcDateTime

metadata = MetaData()


accounts = Table(
    "accounts",
    metadata,
    key("account_id", UUID),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", states(Role), nullable=False),
    Column("name", String(100), nullable=False),
    Column("region", REGION, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    version_column(),
)


def credential(name: str, identity: Column[str], *columns: Column[Any], ended: str) -> Table:
    """A credential an account holds: it expires, and may end before that (`ended`)."""
    return Table(
        name,
        metadata,
        identity,
        belongs_to(accounts.c.account_id, nullable=False, index=True),
        *columns,
        Column("expires_at", UtcDateTime, nullable=False),
        Column(ended, UtcDateTime, nullable=True),
        version_column(),
    )


# One row per login session; current_hash is the only refresh token it accepts.
refresh_families = credential(
    "refresh_families",
    key("family_id", UUID),
    Column("current_hash", DIGEST, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    ended="revoked_at",
)

# Every refresh token a family ever issued, so a rotated one is recognised when it comes back.
refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    key("token_hash", DIGEST),
    belongs_to(refresh_families.c.family_id, nullable=False, index=True),
    Column("issued_at", UtcDateTime, nullable=False),
)

reset_tokens = credential("reset_tokens", key("token_hash", DIGEST), ended="used_at")

# Failed logins per throttle key (a digest of the email, or the client address).
login_failures = Table(
    "login_failures",
    metadata,
    serial(),
    Column("key", String(80), nullable=False),
    Column("failed_at", UtcDateTime, nullable=False),
    Index("ix_login_failures_key_failed_at", "key", "failed_at"),
    Index("ix_login_failures_failed_at", "failed_at"),
)
