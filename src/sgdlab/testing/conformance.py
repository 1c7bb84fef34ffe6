"""What a conformance check found: the checks passed, the contracts broken, and what the object does not declare."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class Conformance:
    """The report on one object (``subject``, its repr): ``passed``, ``failures`` and ``lacks``, each in words."""

    subject: str
    passed: list[str] = dataclasses.field(default_factory=list)
    failures: list[str] = dataclasses.field(default_factory=list)
    lacks: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether no contract is broken (what it lacks is refused or said, which is conforming)."""
        return not self.failures

    def expect(self, holds: bool, passed: str, failure: str) -> None:
        """Record ``passed`` when ``holds``, else ``failure``."""
        (self.passed if holds else self.failures).append(passed if holds else failure)

    def check(self) -> Conformance:
        """Itself, or an AssertionError that lists every broken contract."""
        if self.failures:
            raise AssertionError(f"{self.subject} does not conform:\n- " + "\n- ".join(self.failures))
        return self

    def __str__(self) -> str:
        lines = [f"{self.subject}: {'conforms' if self.ok else 'does not conform'}"]
        lines += [f"  fails: {text}" for text in self.failures] + [f"  lacks: {text}" for text in self.lacks]
        return "\n".join(lines + [f"  passes: {text}" for text in self.passed])
