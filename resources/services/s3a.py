"""Hadoop's S3A filesystem inside a Spark release: the jars it needs and the settings it takes.

A Spark distribution ships Hadoop's client (3.3.4 in Spark 3.5.7, 3.4.2 in 4.1.0) but not hadoop-aws
or the AWS SDK. hadoop-aws must match that Hadoop exactly, and each Hadoop line wants its own SDK
(v1 for 3.3, v2 for 3.4). The SDK bundles are 282 and 645 MB; the few service modules S3A loads,
minus what Spark already ships, are 7 and 13 MB and work the same (measured here): `make setup`
resolves those once into TESTBED_CACHE/s3a/<hadoop version>/jars.
"""

from dataclasses import dataclass
from pathlib import Path

from resources.model.errors import ConfigError
from resources.settings import s3a_dir


@dataclass(frozen=True)
class SdkModules:
    group: str
    version: str  # the SDK version hadoop-aws itself was built against
    modules: tuple[str, ...]
    bundle: str  # what hadoop-aws depends on, excluded


# By exact Hadoop version: each hadoop-aws release is built against one SDK version, and a patch
# release may move it (3.4.0, 3.4.1 and 3.4.2 each use a different v2 SDK), so a minor line is no key.
SDK_FOR_HADOOP = {
    "3.3.4": SdkModules("com.amazonaws", "1.12.262",  # Spark 3.5.x
                        ("aws-java-sdk-s3", "aws-java-sdk-sts", "aws-java-sdk-dynamodb"),
                        "aws-java-sdk-bundle"),
    "3.4.2": SdkModules("software.amazon.awssdk", "2.29.52", ("s3", "s3-transfer-manager", "sts"),
                        "bundle"),  # Spark 4.1.x
}


def hadoop_version(spark_home: Path) -> str:
    """The Hadoop a Spark install ships, from its hadoop-client-api jar."""
    found = sorted((spark_home / "jars").glob("hadoop-client-api-*.jar"))
    if not found:
        raise ConfigError(f"no hadoop-client-api jar in {spark_home / 'jars'}: is Spark installed "
                          f"there? (make setup)")
    return found[-1].name.removeprefix("hadoop-client-api-").removesuffix(".jar")


def sdk_for(hadoop: str) -> SdkModules:
    if hadoop not in SDK_FOR_HADOOP:
        raise ConfigError(f"Hadoop {hadoop} has no S3A recipe here (known: "
                          f"{', '.join(SDK_FOR_HADOOP)}): add the SDK version its hadoop-aws POM "
                          f"names to SDK_FOR_HADOOP in resources/services/s3a.py, or run with "
                          f"storage local")
    return SDK_FOR_HADOOP[hadoop]


def jars_dir(spark_home: Path) -> Path:
    return s3a_dir(hadoop_version(spark_home)) / "jars"


def check_installed(spark_home: Path, release: str) -> None:
    hadoop = hadoop_version(spark_home)
    if not (s3a_dir(hadoop) / ".installed").exists():
        raise ConfigError(f"release {release}: hadoop-aws {hadoop} and its AWS SDK modules are not "
                          f"in {s3a_dir(hadoop)}: run `make setup` (or use storage local)")


def pom(hadoop: str) -> str:
    """hadoop-aws of exactly this Hadoop, without the SDK bundle it names, plus the SDK's service
    modules. Hadoop itself is provided by Spark."""
    sdk = sdk_for(hadoop)
    modules = "".join(
        f"<dependency><groupId>{sdk.group}</groupId><artifactId>{m}</artifactId>"
        f"<version>{sdk.version}</version></dependency>\n" for m in sdk.modules)
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.testbed</groupId><artifactId>s3a-{hadoop}</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.hadoop</groupId><artifactId>hadoop-aws</artifactId>
      <version>{hadoop}</version>
      <exclusions><exclusion><groupId>{sdk.group}</groupId><artifactId>{sdk.bundle}</artifactId>
      </exclusion></exclusions></dependency>
    {modules}  </dependencies>
</project>
"""


def conf(endpoint: str, access_key: str, secret_key: str, hadoop: str) -> dict[str, str]:
    """Spark settings (spark.hadoop.*) for S3A against one path-style, plain-HTTP endpoint."""
    settings = {
        "fs.s3a.endpoint": endpoint,
        "fs.s3a.endpoint.region": "us-east-1",
        "fs.s3a.path.style.access": "true",
        "fs.s3a.connection.ssl.enabled": "false",
        "fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        "fs.s3a.access.key": access_key,
        "fs.s3a.secret.key": secret_key,
        # Hadoop 3.3 deletes "directory" marker objects by default: the event-log prefix's marker
        # would go, and a History Server started on it fails (the prefix must exist).
        "fs.s3a.directory.marker.retention": "keep",
        # A loopback store answers at once or not at all: fail in seconds, not after minutes.
        "fs.s3a.attempts.maximum": "3",
        "fs.s3a.retry.limit": "3",
    }
    sdk_for(hadoop)  # an unknown Hadoop version is refused here too
    return {f"spark.hadoop.{key}": value for key, value in settings.items()}
