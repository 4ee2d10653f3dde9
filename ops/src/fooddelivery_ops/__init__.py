"""Operator commands, one entry: `python -m fooddelivery_ops dlq|topics|rebuild ...`."""
