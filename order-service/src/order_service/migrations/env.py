from order_service.adapters.orm import metadata
from service_kit.migrations import run_env

run_env(metadata)
