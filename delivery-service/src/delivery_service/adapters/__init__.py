"""Delivery context adapters: the deliveries table, its mapping and repository."""
