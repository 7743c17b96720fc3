"""Composite connectors: ordered chains of HTTP calls run for widgets."""
