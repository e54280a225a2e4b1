"""An S3-compatible object store on 127.0.0.1, one per environment: versitygw over a directory.

versitygw (Apache-2.0, built from the Go module proxy by `make setup`) serves <root>/data as S3:
bucket `b`, key `k` is the file <root>/data/b/k (metadata in xattrs), so what teardown and the
sweep remove is a directory, with or without the store running. It enforces SigV4 and conditional
puts (`If-None-Match: *`), which delta-rs commits rely on instead of a lock table. Credentials are
made per environment and reach the store through its environment, not its command line.
"""

import secrets
import threading
from pathlib import Path

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from resources.model.errors import ConfigError
from resources.model.facts import ObjectStoreFacts
from resources.model.storage import TableLocation, split_s3
from resources.ports import HOST
from resources.probes import HttpOk, Probe
from resources.processes import ProcessSpec, rss_bytes
from resources.services.base import Service
from resources.settings import tools_dir

VERSION = "1.8.0"
MODULE = "github.com/versity/versitygw/cmd/versitygw"
REGION = "us-east-1"
# spark-logs: event logs, <minor>/events per release (the catalog's event_log_prefix);
# tables: Delta tables (test_<8 hex>, the CDC bronze and mirror).
BUCKETS = ("spark-logs", "tables")
TABLES_BUCKET = BUCKETS[1]


def versitygw_binary() -> Path:
    return tools_dir() / f"versitygw-{VERSION}" / "versitygw"


class ObjectStore(Service):
    kind = "s3"
    what = "the object store"
    port_role = "http"
    serves_others = True  # Spark drivers close their event logs into it as they stop

    def __init__(self, root: Path, ready_timeout: float = 30.0):
        super().__init__("s3", root, ready_timeout, owner="storage")
        self.data_dir = root / "data"
        self.access_key = "TB" + secrets.token_hex(9).upper()
        self.secret_key = secrets.token_urlsafe(30)
        self._client = None
        self._lock = threading.Lock()

    @classmethod
    def check_installed(cls) -> None:
        if not versitygw_binary().exists():
            raise ConfigError(f"versitygw {VERSION} is not built at {versitygw_binary()}: run "
                              f"`make setup` (it needs go), or run with storage local")

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def recipe(self) -> ProcessSpec:
        return ProcessSpec(
            name=self.name, log_file=self.root / "versitygw.log", cwd=self.root,
            argv=[str(versitygw_binary()), "--quiet", "--port", f"{HOST}:{self.port}",
                  "posix", str(self.data_dir)],
            env={"ROOT_ACCESS_KEY_ID": self.access_key, "ROOT_SECRET_ACCESS_KEY": self.secret_key,
                 "VGW_REGION": REGION})

    def probe(self) -> Probe:
        # Up means: it answers, and refuses a request without credentials.
        return HttpOk(f"{self.endpoint}/", status=403)

    def bootstrap(self) -> None:
        client = self.client()
        for bucket in BUCKETS:
            client.create_bucket(Bucket=bucket)

    # --- clients ---------------------------------------------------------------------------------

    def client(self, access_key: str | None = None, secret_key: str | None = None,
               signed: bool = True):
        """A boto3 S3 client for this store (other keys, or unsigned: to see it refuse them).
        The environment's own is made once (checks list the store many times; clients are
        thread-safe, and making one costs ~25 ms of CPU)."""
        if access_key is None and secret_key is None and signed:
            with self._lock:
                if self._client is None:
                    self._client = self._make_client(self.access_key, self.secret_key, True)
                return self._client
        return self._make_client(access_key or self.access_key, secret_key or self.secret_key,
                                 signed)

    def _make_client(self, access_key: str, secret_key: str, signed: bool):
        config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2},
                        connect_timeout=5, read_timeout=30,
                        **({} if signed else {"signature_version": UNSIGNED}))
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION, config=config,
                            aws_access_key_id=access_key, aws_secret_access_key=secret_key)

    def ensure_prefix(self, uri: str) -> None:
        """An empty marker object `<prefix>/`: a History Server or SparkContext refuses an event-log
        prefix that does not exist, and on S3 a prefix exists only while something is under it."""
        bucket, key = split_s3(uri)
        self.client().put_object(Bucket=bucket, Key=f"{key}/", Body=b"")

    def entries(self, uri: str) -> list[str]:
        """The names directly under a prefix (objects and sub-prefixes), listed from the store;
        the prefix's own marker is not an entry."""
        bucket, key = split_s3(uri)
        prefix = f"{key}/" if key else ""
        names: list[str] = []
        for page in self.client().get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix, Delimiter="/"):
            names += [p["Prefix"][len(prefix):].rstrip("/") for p in page.get("CommonPrefixes", [])]
            names += [o["Key"][len(prefix):] for o in page.get("Contents", []) if o["Key"] != prefix]
        return sorted(names)

    def local_path(self, uri: str) -> Path:
        bucket, key = split_s3(uri)
        return self.data_dir / bucket / key

    def table(self, name: str) -> TableLocation:
        uri = f"s3://{TABLES_BUCKET}/{name}"
        return TableLocation(uri=uri, local_path=str(self.local_path(uri)),
                             storage_options=self.delta_options())

    def delta_options(self) -> dict[str, str]:
        """delta-rs storage options: no locking provider (commits use conditional puts)."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key, "AWS_REGION": REGION,
                "AWS_ALLOW_HTTP": "true"}

    # --- facts -----------------------------------------------------------------------------------

    def access_facts(self) -> ObjectStoreFacts:
        """Its buckets, listed with the environment's keys; and what it does with an unsigned
        request and one signed with a wrong secret (both must be refused)."""
        buckets, list_error = [], ""
        try:
            buckets = sorted(b["Name"] for b in self.client().list_buckets().get("Buckets", []))
        except (ClientError, BotoCoreError) as exc:
            list_error = str(exc)
        unsigned = _attempt(self.client(signed=False), BUCKETS[0])
        wrong = _attempt(self.client(secret_key=self.secret_key + "x"), BUCKETS[0])
        pid = self.process.pid if self.process is not None and self.running() else None
        return ObjectStoreFacts(
            endpoint=self.endpoint, data_dir=str(self.data_dir), expected_buckets=list(BUCKETS),
            buckets=buckets, list_error=list_error, unsigned=unsigned[1],
            unsigned_refused=unsigned[0], wrong_key=wrong[1], wrong_key_refused=wrong[0],
            rss_mb=round(rss_bytes([pid]) / 2**20, 1) if pid else 0.0)


def _attempt(client, bucket: str) -> tuple[bool, str]:
    """(refused, what happened) for listing bucket with this client."""
    try:
        client.list_objects_v2(Bucket=bucket, MaxKeys=1)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        refused = status in (401, 403)
        return refused, f"{'refused' if refused else 'failed'}: {status} {error.get('Code', '')}"
    except BotoCoreError as exc:
        return False, f"failed: {exc}"
    return False, f"accepted: listed bucket {bucket}"
