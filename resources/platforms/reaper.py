"""Teardown layers 3 and 4: remove what runs left behind, from their persisted ledgers alone.

An environment may go when its owner process is gone or its TTL expired (`EnvironmentState.abandoned`);
a failed one kept for debugging waits for its TTL. Removing it = `destroy` of each pending handle of
its ledger, newest first. Then whatever carries the platform's labels but belongs to no known
environment (a run killed before it could write env.json down, a namespace from another machine)
goes too, and `test_*` tables no live environment claims, once older than the table TTL.

The policy needs from a platform only its name, its state dir, `destroy(handle)` and `strays()`.
"""

import shutil
import time
from pathlib import Path
from typing import Protocol

from resources.model.ledger import Handle
from resources.model.state import EnvironmentState


class Destroyer(Protocol):
    name: str
    state_dir: Path
    grace_seconds: float

    def table_roots(self) -> list[Path]: ...

    def destroy(self, handle: Handle, grace_seconds: float) -> str: ...

    def strays(self, known: set[str], now: float) -> list[tuple[str, Handle]]: ...


def states(state_dir: Path) -> list[EnvironmentState]:
    found = []
    envs = state_dir / "envs"
    for env_dir in sorted(envs.glob("env-*")) if envs.exists() else []:
        try:
            found.append(EnvironmentState.load(env_dir))
        except (OSError, ValueError):
            continue  # not ours to judge: env.json is written before anything starts
    return found


def remove(platform: Destroyer, state: EnvironmentState) -> list[str]:
    """Destroy every pending handle of the ledger, newest first, then the env dir; returns one
    line per handle. When an item cannot be removed, the env dir (with env.json saying what is
    left) stays for the next sweep."""
    lines = []
    failed = False
    for handle in state.pending():
        if handle.kind == "directory" and failed:
            lines.append(f"{handle.describe()}: kept: the next sweep retries what failed")
            break
        try:
            result = platform.destroy(handle, platform.grace_seconds)
            handle.done = True
        except Exception as exc:
            result = f"failed: {type(exc).__name__}: {exc}"
            failed = True
        state.save(create=False)
        lines.append(f"{handle.describe()}: {result}")
    return lines


def reap_run(platform: Destroyer, run_id: str) -> list[str]:
    """Teardown layer 3: remove what run `run_id` left, once the run has finished. Idempotent
    (a run that tore down after itself left nothing); a failed environment kept for debugging
    stays until its TTL. Returns one line per environment of the run: what happened to it."""
    lines = []
    for state in states(platform.state_dir):
        if state.platform != platform.name or state.owner_run_id != run_id:
            continue
        if state.failed and state.keep_on_failure:
            lines.append(f"{state.env_id}: kept for debugging (keep_on_failure) until its "
                         f"TTL; `testbed sweep` removes it then")
            continue
        remove(platform, state)
        lines.append(f"{state.env_id}: removed, left by run {run_id}")
    return lines


def sweep(platform: Destroyer, now: float | None = None,
          table_ttl_seconds: float = 4 * 3600) -> list[str]:
    """Teardown layer 4: remove environments of this platform whose owner is gone or whose TTL
    expired, with their tables; then strays; then `test_*` tables no live environment claims,
    older than the TTL. One line per thing removed."""
    now = time.time() if now is None else now
    removed = []
    claimed: set[str] = set()
    envs = platform.state_dir / "envs"
    # Every env dir with an env.json is accounted for, also one this version cannot read.
    known = {str(d) for d in envs.glob("env-*") if (d / "env.json").exists()} \
        if envs.exists() else set()
    for state in states(platform.state_dir):
        reason = state.abandoned(now) if state.platform == platform.name else None
        if reason is None:
            claimed.update(state.tables)
            continue
        remove(platform, state)
        removed.append(f"{state.env_id}: {reason}")
    for line, handle in platform.strays(known, now):
        platform.destroy(handle, platform.grace_seconds)
        removed.append(line)
    # The tables dir, and the tables bucket of each object store (a prefix is a directory there).
    for root in platform.table_roots():
        for table in sorted(root.glob("test_*")) if root.exists() else []:
            age = now - table.stat().st_mtime
            if str(table) not in claimed and age > table_ttl_seconds:
                shutil.rmtree(table, ignore_errors=True)
                removed.append(f"table {table.name}: unclaimed, {age:.0f}s old")
    return removed
