"""An environment's persisted state (env.json): who owns it, until when, and its ledger.

The reaper decides from this alone whether an environment is abandoned: its owner process is gone
(pid + start time, on this host) or its TTL expired.
"""

import os
import socket
import time
import uuid
from pathlib import Path

import psutil
from pydantic import BaseModel, Field

from resources.model.ledger import DirectoryHandle, Handle
from resources.model.storage import Storage


class EnvironmentState(BaseModel):
    env_id: str
    platform: str
    owner_run_id: str
    owner_pid: int
    owner_pid_started: float
    owner_host: str
    created: float
    ttl_seconds: float
    root: str
    keep_on_failure: bool = False
    failed: bool = False
    # Where event logs and tables go: the environment's own object store, or directories.
    storage: Storage = "local"
    # The ledger: everything started for this environment, in start order (see ledger.py).
    handles: list[Handle] = Field(default_factory=list)

    @classmethod
    def new(cls, platform: str, root: Path, run_id: str, ttl_seconds: float, keep_on_failure: bool,
            storage: Storage = "local"):
        env_id = f"env-{uuid.uuid4().hex[:10]}"
        me = psutil.Process()
        path = root / "envs" / env_id
        return cls(
            env_id=env_id,
            platform=platform,
            owner_run_id=run_id,
            owner_pid=me.pid,
            owner_pid_started=me.create_time(),
            owner_host=socket.gethostname(),
            created=time.time(),
            ttl_seconds=ttl_seconds,
            root=str(path),
            keep_on_failure=keep_on_failure,
            storage=storage,
        )

    @property
    def path(self) -> Path:
        return Path(self.root)

    @property
    def tables(self) -> list[str]:
        """Data written for this environment outside its dir (Delta tables under the tables root)."""
        return [h.path for h in self.handles if h.kind == "table"]

    @property
    def directory(self) -> DirectoryHandle:
        """The env dir (env.json lives in it): removed after everything in the ledger."""
        return DirectoryHandle(name=self.env_id, path=self.root)

    def pending(self) -> list[Handle]:
        """What teardown has not removed yet, newest first (the order to remove it in), and the
        env dir last."""
        return [h for h in reversed(self.handles) if not h.done] + [self.directory]

    def owner_alive(self) -> bool:
        if self.owner_host != socket.gethostname():
            return True  # cannot tell from here; the TTL decides
        try:
            return abs(psutil.Process(self.owner_pid).create_time() - self.owner_pid_started) < 1.0
        except psutil.NoSuchProcess:
            return False

    def abandoned(self, now: float | None = None) -> str | None:
        """Why the reaper may remove this environment, or None while it is owned and fresh."""
        now = time.time() if now is None else now
        kept = self.failed and self.keep_on_failure
        # A kept environment outlives its run on purpose (someone is debugging it): TTL only.
        if not kept and not self.owner_alive():
            return f"owner pid {self.owner_pid} on {self.owner_host} is gone"
        if now - self.created > self.ttl_seconds:
            return f"TTL {self.ttl_seconds:.0f}s expired ({now - self.created:.0f}s old)"
        return None

    def save(self, create: bool = True) -> None:
        """Write env.json atomically. create=False: only while the env dir exists (a teardown
        that removed it has nothing left to record)."""
        if not create and not self.path.exists():
            return
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / "env.json.tmp"
        tmp.write_text(self.model_dump_json(indent=2))
        os.replace(tmp, self.path / "env.json")

    @classmethod
    def load(cls, env_dir: Path) -> "EnvironmentState":
        return cls.model_validate_json((env_dir / "env.json").read_text())
