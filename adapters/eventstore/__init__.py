"""Event stores for the eventsourcing library: SQLite (embedded) and MongoDB, with the JSON transcoder they share."""
