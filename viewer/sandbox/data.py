"""STUB — to be replaced by the demo data store. Interface is fixed."""

from __future__ import annotations

import threading


class DataStore:
    def __init__(self, *, seed: int, payments: int | None = None) -> None:
        self.seed = seed
        self.payments = payments
        self.lock = threading.RLock()

    def reset(self) -> None:
        pass

    def activity_tick(self) -> str | None:
        return None
