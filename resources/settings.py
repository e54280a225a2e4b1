"""Every setting Testbed reads from the environment, in one place (read when asked, so a run sees
the environment it starts in, not the one the code location was loaded in)."""

import os
import sys
from pathlib import Path


def cache_dir() -> Path:
    """Installed Spark releases, built wheels, Maven jars. Survives between runs."""
    return Path(os.environ.get("TESTBED_CACHE", Path.home() / ".cache" / "testbed")).expanduser()


def state_dir() -> Path:
    """Running environments live under <state dir>/envs/<env id>/.

    Not under $HOME by default: as root, PostgreSQL runs as the `postgres` user and must be able
    to reach its data dir, which /root (mode 700) forbids.
    """
    default = Path("/var/tmp") / f"testbed-{os.getuid()}"
    return Path(os.environ.get("TESTBED_STATE_DIR", default)).expanduser()


def spark_home(version: str) -> Path:
    return cache_dir() / "spark" / version / "pyspark"


def job_python() -> str:
    """The interpreter Spark drivers and workers run: the base Python, not the orchestrator venv.

    The venv holds pyspark-client; classic pyspark comes from the release's own pyspark.zip, and
    one process can import only one `pyspark`.
    """
    return os.environ.get("TESTBED_JOB_PYTHON", getattr(sys, "_base_executable", sys.executable))


def dagster_home() -> Path:
    """The Dagster instance `testbed run` records into and `make ui` shows (DAGSTER_HOME)."""
    return Path(os.environ.get("DAGSTER_HOME", cache_dir() / "dagster")).expanduser()


def go_suite_dir() -> Path:
    """The Go module of the Connect client suites (tests/go in the checkout)."""
    return Path(os.environ.get("TESTBED_GO_SUITES",
                               Path(__file__).resolve().parent.parent / "tests" / "go"))


def release_jars(release: str) -> Path:
    """Maven jars a release needs (e.g. Delta), resolved once by `make setup`, used offline."""
    return cache_dir() / "jars" / release


def debezium_dir() -> Path:
    """The Debezium embedded engine: its Maven jars and the compiled TestbedEngine (make setup)."""
    return cache_dir() / "debezium"


def kafka_dir() -> Path:
    """Kafka's jars (broker and Connect) for the debezium-kafka CDC engine (make setup)."""
    return cache_dir() / "kafka"


def iceberg_rest_dir() -> Path:
    """Apache Iceberg's REST catalog server classpath, by version (make setup resolves it)."""
    return cache_dir() / "iceberg-rest"


def s3a_dir(hadoop_version: str) -> Path:
    """hadoop-aws and the AWS SDK modules S3A needs, for the Hadoop inside a Spark (make setup)."""
    return cache_dir() / "s3a" / hadoop_version


def tools_dir() -> Path:
    """Binaries built from the Go module proxy by make setup (versitygw), by name and version."""
    return cache_dir() / "tools"


def clusters_dir() -> Path:
    """Where simulated clusters keep their certs, etcd data and logs: inside `testbed cluster run`
    a tmpfs mounted over it in the cluster's own mount namespace, so it empties itself when the
    cluster ends, however it ends."""
    return cache_dir() / "clusters"


def storage_setting() -> str:
    """Where environments keep event logs and tables: s3 (an object store per environment, the
    default) or local (plain directories); TESTBED_STORAGE."""
    return os.environ.get("TESTBED_STORAGE", "s3")


def ivy_dir(release: str) -> Path:
    """The release's own Ivy cache (spark.jars.ivy), so releases never share resolved jars."""
    return cache_dir() / "ivy" / release


def platform_name() -> str:
    """TESTBED_PLATFORM, else DEPLOY_TARGET (the seed's name for it), else local."""
    return os.environ.get("TESTBED_PLATFORM") or os.environ.get("DEPLOY_TARGET") or "local"


def search_path() -> str:
    """Where server binaries are looked up: Debian's sbin dirs first (not on a user's PATH)."""
    return "/usr/sbin:/usr/bin:" + os.environ.get("PATH", "")


def java_home_setting() -> str | None:
    """JAVA_HOME when set; otherwise the platform derives it from `java` on PATH."""
    return os.environ.get("JAVA_HOME") or None


# --- Kubernetes ----------------------------------------------------------------------------------


def s3_settings() -> dict[str, str]:
    """The object store the releases of the kubernetes platform write event logs and tables to
    (TESTBED_S3_ENDPOINT, TESTBED_S3_ACCESS_KEY, TESTBED_S3_SECRET_KEY); empty when unset."""
    return {"s3_endpoint": os.environ.get("TESTBED_S3_ENDPOINT", ""),
            "s3_access_key": os.environ.get("TESTBED_S3_ACCESS_KEY", ""),
            "s3_secret_key": os.environ.get("TESTBED_S3_SECRET_KEY", "")}


def kube_context() -> str | None:
    return os.environ.get("TESTBED_KUBE_CONTEXT") or None


def kubeconfig_setting() -> str:
    """TESTBED_KUBECONFIG, else the first file of KUBECONFIG ("" when neither is set)."""
    return os.environ.get("TESTBED_KUBECONFIG") or os.environ.get("KUBECONFIG", "").split(":")[0]


def in_cluster() -> bool:
    """Running in a pod (a service account token is mounted and the API server is announced)."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


def k8s_ready_timeout() -> float:
    """Image pulls and the jars init containers take minutes on a fresh cluster: never wait less
    than TESTBED_K8S_READY_TIMEOUT (default 600 s) for a release."""
    return float(os.environ.get("TESTBED_K8S_READY_TIMEOUT", "600"))


def k8s_client_image(default: str) -> str:
    """The image the Spark Connect probe Job runs in (TESTBED_K8S_CLIENT_IMAGE)."""
    return os.environ.get("TESTBED_K8S_CLIENT_IMAGE", "").strip() or default


# --- Dagster layer -------------------------------------------------------------------------------


def alertmanager_url() -> str | None:
    """Where failed-check alerts go (TESTBED_ALERTMANAGER_URL); unset: nowhere."""
    return os.environ.get("TESTBED_ALERTMANAGER_URL") or None


def ui_url() -> str:
    """The Dagster UI's base URL, for run links in alerts (TESTBED_UI_URL)."""
    return os.environ.get("TESTBED_UI_URL", "http://127.0.0.1:3000")


def schedule_timezone() -> str:
    return os.environ.get("TESTBED_TIMEZONE", "UTC")


def catalog_file() -> Path:
    """The release catalog: TESTBED_CATALOG (a catalog of your own), else the one in the package."""
    from resources.model.catalog import CATALOG_FILE

    return Path(os.environ["TESTBED_CATALOG"]).expanduser() if os.environ.get("TESTBED_CATALOG") \
        else CATALOG_FILE
