"""The database port: SQLAlchemy Core over SQLite (embedded) or PostgreSQL (production)."""
