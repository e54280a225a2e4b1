"""What runs, read back from the running system (not as it was configured), and what jobs and
tools answered. Checks compare these; platforms produce them."""

from dataclasses import dataclass

from pydantic import BaseModel, Field

from resources.model.catalog import ReleaseSpec


class ComponentFacts(BaseModel):
    release: str
    kind: str
    name: str
    ports: dict[str, int]
    data_dir: str | None = None
    conf_dir: str | None = None
    pid: int | None = None
    ready: bool = False
    probe: str = ""


class HistoryApp(BaseModel):
    id: str
    name: str
    spark_version: str
    # spark.eventLog.dir as the application ran with it (the History Server's environment API):
    # where it actually logged; None where that could not be read
    event_log_dir: str | None = None

    @classmethod
    def from_api(cls, app: dict) -> "HistoryApp":
        """One entry of the History Server's /api/v1/applications."""
        attempts = app.get("attempts") or [{}]
        return cls(id=app["id"], name=app.get("name", ""),
                   spark_version=attempts[-1].get("appSparkVersion", "unknown"))

    @staticmethod
    def environment_path(app: dict) -> str:
        """Its /environment under /api/v1/applications (an attempt's, where attempts have ids)."""
        attempt = (app.get("attempts") or [{}])[-1].get("attemptId")
        return f"api/v1/applications/{app['id']}" + (f"/{attempt}" if attempt else "") + \
            "/environment"

    def with_environment(self, environment: dict) -> "HistoryApp":
        properties = dict(environment.get("sparkProperties") or [])
        return self.model_copy(update={"event_log_dir": properties.get("spark.eventLog.dir")})


class Facts(BaseModel):
    """One deployed release as the running system reports it (not as it was configured)."""

    release: str
    version: str
    components: list[ComponentFacts]
    metastore_uri: str
    metastore_db: str  # from the JDBC URL the metastore process was started with
    metastore_tables: list[str]  # "<db>.<table>" from TBLS/DBS in that database
    event_log_dir: str  # where this release's applications write their event logs
    history_log_dir: str  # what its History Server reads (from the History UI)
    history_apps: list[HistoryApp]
    # Names directly under event_log_dir, listed from the store (or the dir) after the jobs ran;
    # None where the platform cannot list it from here (a cluster's object store).
    event_logs: list[str] | None = None
    # Why what only a process inside the release can tell (its metastore's tables, its History
    # Server's applications) was not read; empty where it was. Pods on simulated nodes run no
    # container: nothing answers there, and an empty list would read as "none".
    unobserved: str = ""


class ObjectStoreFacts(BaseModel):
    """What the environment's object store answered: its buckets with the environment's keys, and
    what it did with requests it must refuse."""

    endpoint: str
    data_dir: str
    expected_buckets: list[str]
    buckets: list[str]  # listed with the environment's own keys
    list_error: str = ""  # why listing with the right keys failed
    unsigned: str  # what an unsigned request got, e.g. "refused: 403 AccessDenied"
    unsigned_refused: bool
    wrong_key: str  # what a request signed with a wrong secret got
    wrong_key_refused: bool
    rss_mb: float = 0.0


class JobResult(BaseModel):
    release: str
    job: str
    returncode: int
    seconds: float
    output: str = ""  # stdout tail (or the client's answer)
    error: str = ""  # stderr tail (or the exception)
    values: dict[str, float | int | str] = Field(default_factory=dict)
    # Why the job's own output could not be read although it ran (a pod on a simulated node
    # completes without running its container); empty where it was read.
    unobserved: str = ""


@dataclass(frozen=True)
class ToolResult:
    """What a validating tool (amtool, promtool) said about a file."""

    tool: str
    ok: bool
    output: str


class Endpoints(BaseModel):
    """Where a deployed release answers. Addresses are what the orchestrator (local) or a pod in the
    cluster (kubernetes) reaches; components a release does not have stay None."""

    metastore: str  # thrift://host:port
    metastore_db: str
    history_ui: str | None = None  # None: the release has no History Server
    event_log_dir: str  # a local path, or s3a://bucket/prefix
    metastore_jdbc: str | None = None
    master: str | None = None  # spark://host:port
    master_ui: str | None = None
    worker_ui: str | None = None
    connect: str | None = None  # sc://host:port
    connect_ui: str | None = None
    namespace: str | None = None  # kubernetes: the environment's namespace
    helm_release: str | None = None  # kubernetes: the Helm release name

    def present(self) -> dict[str, str]:
        """The endpoints this release has, by name (for asset metadata)."""
        return self.model_dump(exclude_none=True)


class Deployment(BaseModel):
    """What a platform returns for a deployed release: endpoints and where it lives."""

    spec: ReleaseSpec
    env_id: str
    root: str
    endpoints: Endpoints
    startup_seconds: float
    component_seconds: dict[str, float]
