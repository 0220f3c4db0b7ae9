"""event_dispatcher adapters: in-process fan-out (default) and RabbitMQ."""

from wschats.adapters.events.inprocess import InProcessEventDispatcher
from wschats.adapters.events.rabbitmq import RabbitMqEventDispatcher
from wschats.ports import StreamClosedError, StreamOverflowError

__all__ = [
    "InProcessEventDispatcher",
    "RabbitMqEventDispatcher",
    "StreamClosedError",
    "StreamOverflowError",
]
