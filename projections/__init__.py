"""Projections: small functions that apply events to read-model documents, and the runner that keeps them caught up."""
