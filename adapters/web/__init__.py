"""The HTTP API and owner pages (`agent-learning web`)."""

from adapters.web.app import create_app, run_web

__all__ = ["create_app", "run_web"]
