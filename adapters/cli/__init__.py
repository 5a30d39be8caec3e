"""`agent-learning`: the command line, one module per command group."""
