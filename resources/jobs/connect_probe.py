"""The Spark Connect probe as a program, for where the orchestrator cannot reach the server: the
kubernetes platform runs it in a Job beside the release (resources/k8s/jobs.py).

Usage: python -m resources.jobs.connect_probe <release> <sc://host:port> <table>

Prints the JobResult as JSON on its last stdout line; exits 0 when the probe passed, 1 when it
failed (the JSON says why), 2 on bad arguments (no JSON: the platform reports the usage error from
the log). Unlike the other scripts here it runs under the code location's Python (pyspark-client),
not under a release's spark-submit.
"""

import argparse
import re
import sys

from resources.spark import connect_probe


def _url(value: str) -> str:
    if not value.startswith("sc://"):
        raise argparse.ArgumentTypeError(f"{value!r} is not a Spark Connect URL (sc://host:port)")
    return value


def _table(value: str) -> str:
    # The probe puts the name into SQL unquoted.
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a plain table name")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m resources.jobs.connect_probe",
                                     description="Probe a Spark Connect server; print a JobResult")
    parser.add_argument("release", help="the catalog's release name, e.g. spark-4.1")
    parser.add_argument("url", type=_url, help="sc://host:port of the release's Connect server")
    parser.add_argument("table", type=_table, help="probe table to create in its metastore")
    args = parser.parse_args(argv)
    result = connect_probe(args.release, args.url, args.table)
    print(result.model_dump_json(), flush=True)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
