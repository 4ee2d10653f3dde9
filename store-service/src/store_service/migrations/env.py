from service_kit.migrations import run_env
from store_service.adapters.orm import metadata

run_env(metadata)
