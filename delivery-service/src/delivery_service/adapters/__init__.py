"""Delivery context adapters: tables, mappings and repositories land here."""
