"""Background work of this module, started and stopped with the app."""

from __future__ import annotations

from tiangong.notices.alerts import loop as alert_loop
from tiangong.notices.audit import recorder as audit_recorder
from tiangong.notices.system_logs import ring


def start() -> None:
    ring.install()
    audit_recorder.start()
    alert_loop.start()


async def stop() -> None:
    await alert_loop.stop()
    # Last: requests answered during shutdown are still in the buffer.
    await audit_recorder.stop()
