"""xmpp_server: message dispatchers for the chat server.

What is sent: behaviour.md#xmpp-operations; why ejabberd: DECISIONS.md#realtime.
"""

from wschats.adapters.xmpp.ejabberd import EjabberdMessageDispatcher
from wschats.adapters.xmpp.mongooseim import MongooseImMessageDispatcher

__all__ = ["EjabberdMessageDispatcher", "MongooseImMessageDispatcher"]
