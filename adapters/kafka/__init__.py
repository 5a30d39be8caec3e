"""Kafka: the feedback consumer, the relay's sink and the topic names."""
