"""Metrics (Prometheus) and structured JSON logs, shared by the worker, the web app and the CLI."""
