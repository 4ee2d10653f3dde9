"""Delivery context: riders pick up and deliver orders (the Delivery aggregate)."""
