"""The ledger: a typed record of every thing an environment started, and the teardown report.

A handle is written the moment its thing exists (a process right after it is spawned, before any
readiness wait; a namespace before it is created), and persisted in env.json, so teardown and the
reaper find everything from the ledger alone. Each kind carries what it takes to find and remove it
without the process that made it.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, Field


class _Handle(BaseModel):
    name: str  # what it is, e.g. "spark-3.5-master", "postgres", "table test_1a2b3c4d"
    owner: str = ""  # the release or group it belongs to ("spark-3.5", "cdc", "alerting")
    done: bool = False  # teardown removed it (set as teardown goes, so a crash mid-way resumes)

    def describe(self) -> str:
        return f"{self.kind} {self.name}"  # type: ignore[attr-defined]


class ProcessHandle(_Handle):
    """A child process (and its descendants). pid + create time identify it (a recycled pid is
    never hit); every process also carries TESTBED_ENV_DIR=<env dir> in its environment, the second
    way to find it and its children."""

    kind: Literal["process"] = "process"
    pid: int
    create_time: float
    ports: dict[str, int] = Field(default_factory=dict)
    log_file: str | None = None
    # Others write to it until they stop (the object store: a Spark driver closes its event log
    # on the way out): teardown stops it only once the processes recorded after it are gone.
    serves_others: bool = False

    def describe(self) -> str:
        return f"process {self.name} (pid {self.pid})"


class InProcessHandle(_Handle):
    """Something running inside the orchestrator (a CDC stream's threads, the webhook receiver).
    It dies with its owner, so the reaper has nothing to do; teardown stops it first."""

    kind: Literal["in_process"] = "in_process"
    ports: dict[str, int] = Field(default_factory=dict)


class ComposeProjectHandle(_Handle):
    """A compose project (the compose platform): its containers, network and named volumes, all
    labelled with the project name, so `down` and the label sweep need nothing else."""

    kind: Literal["compose_project"] = "compose_project"
    project: str
    files: list[str] = Field(default_factory=list)  # its compose files, while they exist
    # Only these services of it (a service started for the environment, stopped on its own);
    # empty: the whole project.
    services: list[str] = Field(default_factory=list)

    def describe(self) -> str:
        if self.services:
            return f"compose service {', '.join(self.services)} of {self.project}"
        return f"compose project {self.project}"


class NamespaceHandle(_Handle):
    kind: Literal["namespace"] = "namespace"
    namespace: str

    def describe(self) -> str:
        return f"namespace {self.namespace}"


class HelmReleaseHandle(_Handle):
    kind: Literal["helm_release"] = "helm_release"
    namespace: str
    release: str

    def describe(self) -> str:
        return f"helm release {self.namespace}/{self.release}"


class TableHandle(_Handle):
    """Data written for the environment outside its dir (a Delta table under the tables root)."""

    kind: Literal["table"] = "table"
    path: str

    def describe(self) -> str:
        return f"table {self.path}"


class DirectoryHandle(_Handle):
    """The environment dir itself (always the first handle, so it is removed last)."""

    kind: Literal["directory"] = "directory"
    path: str

    def describe(self) -> str:
        return f"environment dir {self.path}"


Handle = Annotated[ProcessHandle | InProcessHandle | ComposeProjectHandle | NamespaceHandle
                   | HelmReleaseHandle | TableHandle | DirectoryHandle, Field(discriminator="kind")]
# Files: kept for debugging when a failed environment has keep_on_failure.
FILE_KINDS = ("table", "directory")


class TeardownEntry(BaseModel):
    """One item of a teardown: what, how it ended, how long it took."""

    what: str
    kind: str
    result: str  # stopped | already gone | removed | kept | nothing to do | failed: <why>
    seconds: float


class TeardownReport(BaseModel):
    env_id: str
    platform: str = ""
    entries: list[TeardownEntry] = Field(default_factory=list)
    leftovers: list[str] = Field(default_factory=list)  # still there afterwards: should be empty
    kept_dir: str | None = None  # set when keep_on_failure kept a failed environment's files
    seconds: float = 0.0  # wall time of the whole teardown (items stop side by side)

    @property
    def stopped(self) -> list[str]:
        """What this teardown stopped (running things; not files, not what had already ended)."""
        return [entry.what for entry in self.entries if entry.result == "stopped"]

    def lines(self) -> list[str]:
        return [f"{entry.result:13} {entry.seconds:6.2f}s  {entry.what}" for entry in self.entries]
