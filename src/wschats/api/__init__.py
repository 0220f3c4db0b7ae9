"""HTTP layer: translates requests to service calls and results to JSON. No business rules."""
