"""Pure rules and types: no framework, no I/O."""
