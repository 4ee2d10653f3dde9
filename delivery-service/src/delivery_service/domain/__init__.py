"""Delivery context domain: the Delivery aggregate and its state machine land here."""
