"""Where an environment keeps event logs and tables: plain directories, or an S3 object store.

A table has one location, seen three ways: the URI delta-rs opens (`s3://tables/test_ab12cd34`, or
a directory), the URI Spark opens (the same with `s3a://`), and the directory its bytes live in on
this machine (the store keeps objects as files), which is what teardown and the sweep remove.
"""

from typing import Literal

from pydantic import BaseModel, Field

Storage = Literal["local", "s3"]


class TableLocation(BaseModel):
    model_config = {"frozen": True}

    uri: str  # what delta-rs opens
    local_path: str  # where its bytes are on this machine
    # delta-rs storage options (endpoint, keys); kept out of asset metadata
    storage_options: dict[str, str] = Field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.uri.rstrip("/").rsplit("/", 1)[-1]

    @property
    def spark_uri(self) -> str:
        """Hadoop's S3 filesystem answers to s3a://."""
        return "s3a://" + self.uri.removeprefix("s3://") if self.uri.startswith("s3://") \
            else self.uri

    @classmethod
    def directory(cls, path: str) -> "TableLocation":
        return cls(uri=path, local_path=path)


def split_s3(uri: str) -> tuple[str, str]:
    """s3a://bucket/some/prefix -> (bucket, "some/prefix")."""
    rest = uri.split("://", 1)[-1]
    bucket, _, key = rest.partition("/")
    return bucket, key.strip("/")
