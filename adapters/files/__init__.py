"""Files: JSONL ingest and the relay's file sink (the embedded default's input and output)."""
