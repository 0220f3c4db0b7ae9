"""authentication_service / profiling_service adapters."""
