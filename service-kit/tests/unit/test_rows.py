"""A view's rows as dicts (service_kit.rows), ready to be answered as JSON unvalidated."""

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import Column, DateTime, MetaData, String, Table, create_engine, insert, select

from service_kit.rows import columns, shown

things = Table(
    "things",
    MetaData(),
    Column("thing_id", String, primary_key=True),
    Column("name", String),
    Column("hidden", String),
    Column("at", DateTime),
)


class Thing(BaseModel):
    thing_id: str
    at: str


def test_a_row_is_shown_with_its_views_columns_plain_keys_and_iso_times():
    engine = create_engine("sqlite://")
    things.metadata.create_all(engine)
    at = datetime(2026, 1, 2, 3, 4, 5)
    with engine.begin() as conn:
        conn.execute(insert(things).values(thing_id="t1", name="n", hidden="h", at=at))
        row = conn.execute(select(*columns(things, Thing))).one()

    found = shown(row)

    assert found == {"thing_id": "t1", "at": at.isoformat()}
    # Plain str keys, not SQLAlchemy's quoted_name: JSON encoders take those the slow way.
    assert {type(key) for key in found} == {str}
