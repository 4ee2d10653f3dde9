"""Tables of the Kitchen context, mapped onto the plain domain classes."""

from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table
from sqlalchemy.orm import registry

from store_service.domain.model import MenuItem, Store

metadata = MetaData()

stores = Table(
    "stores",
    metadata,
    Column("store_id", String(64), primary_key=True),
    Column("owner_id", String(64), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("region", String(64), nullable=False),
    Column("version", Integer, nullable=False),
)

menu_items = Table(
    "menu_items",
    metadata,
    Column("store_id", String(64), ForeignKey("stores.store_id"), primary_key=True),
    Column("item_id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("price", Integer, nullable=False),
    Column("stock", Integer, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("version", Integer, nullable=False),
)

mapper_registry = registry()
_started = False


def start_mappers() -> None:
    """Map once per process; `version` turns concurrent updates into StaleDataError."""
    global _started
    if _started:
        return
    mapper_registry.map_imperatively(Store, stores, version_id_col=stores.c.version)
    mapper_registry.map_imperatively(MenuItem, menu_items, version_id_col=menu_items.c.version)
    _started = True
