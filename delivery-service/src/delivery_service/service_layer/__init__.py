"""Delivery context service layer: rider commands, policies, unit of work and bus."""
