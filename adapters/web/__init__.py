"""The HTTP API and owner pages (`agent-learning web`; the app is built in `adapters.web.app`)."""
