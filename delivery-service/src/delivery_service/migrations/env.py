from delivery_service.adapters.orm import metadata
from shared_events.migrations import run_env

run_env(metadata)
