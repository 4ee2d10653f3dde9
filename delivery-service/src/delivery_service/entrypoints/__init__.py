"""Delivery context processes: the HTTP API and the worker that applies the policies."""
