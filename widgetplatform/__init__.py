"""The host project: a stand-in for the widget platform's monolith."""
