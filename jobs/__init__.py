"""The batch loop: daily datasets, weekly training jobs, monthly archetype refresh (issue #5)."""
