"""The rules document as people write it: TOML text in and out, and its JSON Schema."""
