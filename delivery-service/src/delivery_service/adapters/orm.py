"""Tables of the Delivery context. None yet: the first migration holds only the
outbox and inbox, which every service's Alembic environment adds itself."""

from sqlalchemy import MetaData

metadata = MetaData()
