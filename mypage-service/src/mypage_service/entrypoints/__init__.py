"""Customer context processes: the HTTP API and the Kafka worker."""
