"""wschats: a server for the Workstream Collaboration Chats API v1.3.1."""

__version__ = "0.1.0"
