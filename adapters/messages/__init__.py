"""The public contract in and out: parsing and validating inbound messages, building outbound ones. The one place that knows the wire format."""
