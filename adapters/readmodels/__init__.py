"""Read-model stores (the projections' port): SQLite (embedded) and MongoDB."""
