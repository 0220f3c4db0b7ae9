"""Adapters: one package per port."""
