"""Use cases. Each service takes ports in its constructor and imports no framework."""
