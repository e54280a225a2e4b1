"""Apache Iceberg's REST catalog server (org.apache.iceberg.rest.RESTCatalogServer, 1.11.0) as a
service: one JVM, a JDBC catalog on its own PostgreSQL database, the warehouse in its directory.

Configured by CATALOG_* environment variables only (`CATALOG_A_B` becomes property `a.b`; the port
is CATALOG_REST_PORT, REST_PORT is ignored). It binds every interface with SO_REUSEPORT and offers no
host setting, so a second server on a taken port starts silently and shares it: the port is checked
free right before the start, and `facts()` reports what it really binds. Ready when GET /v1/config
answers 200 (FIELD_NOTES, "Iceberg REST catalog").
"""

from pathlib import Path

from resources.model.errors import ConfigError
from resources.ports import HOST, port_taken
from resources.probes import HttpOk, Probe
from resources.processes import ProcessSpec
from resources.services.base import Service
from resources.services.jvm import ArchivedJvm, archive_for, check_java, java_home
from resources.settings import iceberg_rest_dir

VERSION = "1.11.0"
MAIN_CLASS = "org.apache.iceberg.rest.RESTCatalogServer"
POM = Path(__file__).resolve().parent.parent / "iceberg" / "pom.xml"


def classpath() -> list[Path]:
    jars = iceberg_rest_dir() / VERSION / "jars"
    if not list(jars.glob(f"iceberg-open-api-{VERSION}-test-fixtures.jar")):
        raise ConfigError(f"Iceberg's REST catalog server {VERSION} is not installed in {jars}: "
                          f"run make setup (resolves resources/iceberg/pom.xml from Maven Central)")
    return [jars]


class IcebergRestServer(ArchivedJvm, Service):
    kind = "iceberg-rest"
    what = "the Iceberg REST catalog"
    port_role = "http"

    def __init__(self, root: Path, jdbc_url: str, user: str, password: str,
                 ready_timeout: float = 90.0, name: str = "iceberg-rest", owner: str = "iceberg"):
        super().__init__(name, root, ready_timeout, owner=owner)
        self.jdbc = (jdbc_url, user, password)
        self.warehouse = root / "warehouse"
        self.archive = archive_for(f"iceberg-rest-{VERSION}", classpath)

    @classmethod
    def check_installed(cls) -> None:
        classpath()
        check_java()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def prepare(self) -> None:
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        self.warehouse.mkdir(exist_ok=True)
        if port_taken(self.port):  # SO_REUSEPORT would let it share the port without a word
            raise ConfigError(f"{self.name}: port {self.port} is already taken on {HOST}; the "
                              f"Iceberg REST server would share it silently. Free it or retry")

    def recipe(self) -> ProcessSpec:
        url, user, password = self.jdbc
        return ProcessSpec(
            name=self.name,
            argv=[str(java_home() / "bin" / "java"), "-Xmx512m", "-XX:+UseSerialGC",
                  *self.archive.flags(), "-cp", f"{classpath()[0]}/*", MAIN_CLASS],
            log_file=self.root / "logs" / f"{self.name}.log", cwd=self.root,
            env={"CATALOG_URI": url, "CATALOG_JDBC_USER": user, "CATALOG_JDBC_PASSWORD": password,
                 "CATALOG_WAREHOUSE": str(self.warehouse), "CATALOG_REST_PORT": str(self.port),
                 "CATALOG_CATALOG_NAME": self.name})

    def probe(self) -> Probe:
        return HttpOk(f"{self.url}/v1/config")
