from identity_service.adapters.orm import metadata
from service_kit.migrations import run_env

run_env(metadata, plumbing=False)  # identity-service publishes and consumes no events
