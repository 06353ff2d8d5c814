"""Pub/sub: Redis when configured, otherwise in-process with the same interface.

Live streams (a workflow run's events) reach watchers in any API process through here.
Delivery is at-most-once to whoever is subscribed at the time: durable state lives in the
database, and watchers read a snapshot from it after subscribing.
"""

from tiangong.bus.base import Bus, Subscription
from tiangong.bus.factory import close_bus, get_bus, publish, subscribe

__all__ = ["Bus", "Subscription", "close_bus", "get_bus", "publish", "subscribe"]
