"""Hive metastore configuration: one standalone metastore per release, on its own database."""

import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

READY_LINE = "Started the new metaserver on port"


def model_classes(spark_home: Path) -> list[str]:
    """Every JDO model class of the release's hive-metastore jar.

    With only autoCreateAll, DataNucleus creates some tables lazily on a second connection and the
    first CREATE TABLE can hang on PostgreSQL; naming all classes creates every table at start.
    """
    jars = sorted((spark_home / "jars").glob("hive-metastore-*.jar"))
    if not jars:
        raise FileNotFoundError(f"no hive-metastore jar in {spark_home / 'jars'}")
    with zipfile.ZipFile(jars[-1]) as jar:
        root = ET.fromstring(jar.read("package.jdo"))
    return [f"{package.get('name')}.{cls.get('name')}"
            for package in root.iter("package") for cls in package.iter("class")]


LOG4J2 = ("status = error\n"
          "appender.console.type = Console\n"
          "appender.console.name = console\n"
          "appender.console.layout.type = PatternLayout\n"
          "appender.console.layout.pattern = %d{ISO8601} %-5p %c{1}: %m%n\n"
          "rootLogger.level = info\n"
          "rootLogger.appenderRef.console.ref = console\n"
          "logger.datanucleus.name = DataNucleus\n"
          "logger.datanucleus.level = warn\n")


def site_xml(spark_home: Path, jdbc_url: str, credentials: tuple[str, str], warehouse: str,
             conf_dir: str) -> str:
    """hive-site.xml of a metastore; warehouse a URI, conf_dir where its files are as it runs."""
    user, password = credentials
    props = {
        "javax.jdo.option.ConnectionURL": jdbc_url,
        "javax.jdo.option.ConnectionDriverName": "org.postgresql.Driver",
        "javax.jdo.option.ConnectionUserName": user,
        "javax.jdo.option.ConnectionPassword": password,
        "datanucleus.schema.autoCreateAll": "true",
        "datanucleus.autoStartMechanism": "Classes",
        "datanucleus.autoStartClassNames": ",".join(model_classes(spark_home)),
        "hive.metastore.schema.verification": "false",
        "hive.metastore.warehouse.dir": warehouse,
        "hive.metastore.event.db.notification.api.auth": "false",
        # Spark lacks the disruptor jar that async logging needs.
        "hive.async.log.enabled": "false",
        # Named here, not found on the classpath: the metastore's classpath is only jars, so it
        # is the same in every environment (class-data archives). Without it Hive takes the file
        # in hive-common's jar and logs to /tmp/<user>/hive.log.
        "hive.log4j.file": f"{conf_dir}/hive-log4j2.properties",
    }
    body = "".join(f"  <property><name>{escape(k)}</name>"
                   f"<value>{escape(str(v))}</value></property>\n" for k, v in props.items())
    return f"<configuration>\n{body}</configuration>\n"


def write_conf(conf_dir: Path, spark_home: Path, jdbc_url: str, credentials: tuple[str, str],
               warehouse: Path) -> None:
    (conf_dir / "hive-site.xml").write_text(
        site_xml(spark_home, jdbc_url, credentials, f"file:{warehouse}", str(conf_dir)))
    (conf_dir / "hive-site.xml").chmod(0o600)  # it holds the database password
    (conf_dir / "hive-log4j2.properties").write_text(LOG4J2)


def read_jdbc_url(conf_dir: Path) -> str:
    """The JDBC URL the metastore process was started with (its hive-site.xml)."""
    return jdbc_url_in((conf_dir / "hive-site.xml").read_text(), str(conf_dir / "hive-site.xml"))


def jdbc_url_in(text: str, where: str) -> str:
    """The JDBC URL of a hive-site.xml's text (where: the file, for the error)."""
    match = re.search(r"<name>javax.jdo.option.ConnectionURL</name><value>([^<]+)</value>", text)
    if not match:
        raise ValueError(f"{where} has no javax.jdo.option.ConnectionURL")
    return match.group(1)
