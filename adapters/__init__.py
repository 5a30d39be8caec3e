"""Adapters: event stores, read-model stores, message parsing, relay sinks, the CLI, and the wiring."""
