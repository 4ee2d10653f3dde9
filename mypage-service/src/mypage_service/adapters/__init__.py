"""Customer context adapters: tables, mappings and repositories of the read model."""
