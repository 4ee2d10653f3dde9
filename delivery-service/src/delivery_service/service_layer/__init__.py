"""Delivery context service layer: command handlers, policies, unit of work and bus land here."""
