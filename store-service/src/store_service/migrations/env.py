from shared_events.migrations import run_env
from store_service.adapters.orm import metadata

run_env(metadata)
