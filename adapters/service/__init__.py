"""The application layer: use cases that load aggregates, let the domain decide and save (one unit of work), the outbox relay, audit and history."""
