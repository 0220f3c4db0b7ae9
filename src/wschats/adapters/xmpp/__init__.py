"""xmpp_server: message dispatchers for the chat server (original-behaviour §8, decisions D8)."""

from wschats.adapters.xmpp.ejabberd import EjabberdMessageDispatcher
from wschats.adapters.xmpp.mongooseim import MongooseImMessageDispatcher

__all__ = ["EjabberdMessageDispatcher", "MongooseImMessageDispatcher"]
