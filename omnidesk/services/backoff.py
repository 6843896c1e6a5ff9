"""Exponential backoff with jitter, shared by the long-running loops."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2
    _attempt: int = field(default=0, init=False)

    def next(self) -> float:
        delay = min(self.maximum, self.initial * self.factor**self._attempt)
        self._attempt += 1
        return delay * (1 + random.uniform(-self.jitter, self.jitter))

    def reset(self) -> None:
        self._attempt = 0

    @property
    def attempts(self) -> int:
        return self._attempt
