"""Delivery context processes: the HTTP API (and, with the first policy, the worker)."""
