"""What every check function returns: passed or not, a message that says what is wrong, metadata."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Verdict:
    passed: bool
    message: str
    metadata: dict = field(default_factory=dict)
    # False: the criterion could not be judged here (says why); reported as a warning, never a pass
    evaluated: bool = True


def not_evaluated(reason: str, **metadata) -> Verdict:
    return Verdict(False, f"not evaluated: {reason}", metadata, evaluated=False)


def verdict(problems: list[str], ok: str, **metadata) -> Verdict:
    """Failed with every problem listed, or passed with the `ok` message."""
    if problems:
        return Verdict(False, "; ".join(problems), metadata)
    return Verdict(True, ok, metadata)
