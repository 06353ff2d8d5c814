"""Background job queues: in-process by default, Redis Streams when scaled out."""

from tiangong.queue.base import Consumer, Handler, Queue
from tiangong.queue.factory import close_queue, get_queue, make_queue

__all__ = ["Consumer", "Handler", "Queue", "close_queue", "get_queue", "make_queue"]
