"""Routers per contract tag."""
