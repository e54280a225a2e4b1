"""Property-based requests against an Iceberg REST catalog, generated from the spec by schemathesis
(PyPI), bounded in time and seeded; its findings, as data, for the fuzzed_contract criterion.

The vendored spec is prepared first (FIELD_NOTES, "Iceberg REST catalog"): `nullable` normalised
(a 3.1 validator ignores it), the `{prefix}` path segment replaced by the server's own prefix, and
the `Idempotency-Key` header removed: schemathesis reuses the spec's example key, which makes a
conforming server replay its cached answer to an earlier, different request. The auth and
unsupported-method checks are skipped (the review does not judge a catalog's auth, and the spec
does not list the methods a server must refuse). On a catalog Testbed did not deploy only GET and
HEAD are fuzzed: generated writes could touch namespaces that are not the review's.
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import yaml

from resources.iceberg_client import SPEC_FILE, CatalogTarget, with_prefix
from resources.model.iceberg import FuzzFinding, FuzzRun
from resources.model.openapi import normalise_nullable

# The namespace and table operations (seed 004: "fuzzing of the namespace and table endpoints").
OPERATIONS = {
    "listNamespaces": "GET", "createNamespace": "POST", "loadNamespaceMetadata": "GET",
    "namespaceExists": "HEAD", "dropNamespace": "DELETE", "updateProperties": "POST",
    "listTables": "GET", "createTable": "POST", "loadTable": "GET", "tableExists": "HEAD",
    "dropTable": "DELETE", "renameTable": "POST",
}
READ_ONLY = ("GET", "HEAD")
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"}
SKIPPED_CHECKS = ("ignored_auth", "unsupported_method")
SEED = 1729


def prepared_spec(prefix: str = "") -> dict:
    document = normalise_nullable(yaml.safe_load(SPEC_FILE.read_text()))
    document.pop("servers", None)
    paths = {}
    for path, item in document["paths"].items():
        path = with_prefix(path, prefix)
        item.pop("parameters", None) if _only_prefix(item.get("parameters")) else None
        for op in item.values():
            if isinstance(op, dict) and "parameters" in op:
                op["parameters"] = [p for p in op["parameters"] if not _dropped(p)]
        if "parameters" in item:
            item["parameters"] = [p for p in item["parameters"] if not _dropped(p)]
        paths[path] = item
    document["paths"] = paths
    return document


def _only_prefix(parameters) -> bool:
    return bool(parameters) and all(_dropped(p) for p in parameters)


def _dropped(parameter) -> bool:
    ref = parameter.get("$ref", "") if isinstance(parameter, dict) else ""
    name = parameter.get("name", "") if isinstance(parameter, dict) else ""
    return ref.endswith(("/prefix", "/idempotency-key")) or name in ("prefix", "Idempotency-Key")


def fuzz_catalog(target: CatalogTarget, work: Path, max_seconds: float, read_only: bool,
                 prefix: str = "", seed: int = SEED, env: dict[str, str] | None = None) -> FuzzRun:
    """env: extra variables for the fuzzer's process (the environment's marker, so a reaper finds
    it should this run be killed; it also ends by itself after max_seconds)."""
    methods = READ_ONLY if read_only else tuple(sorted(set(OPERATIONS.values())))
    run = FuzzRun(seed=seed, max_seconds=max_seconds, methods=methods)
    work.mkdir(parents=True, exist_ok=True)
    spec, report = work / "fuzz-spec.yaml", work / "fuzz-junit.xml"
    spec.write_text(yaml.safe_dump(prepared_spec(prefix), sort_keys=False))
    report.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "schemathesis.cli", "run", str(spec), "--url", target.url,
            "--seed", str(seed), "--max-time", str(int(max(1, max_seconds))), "--workers", "1",
            "--request-timeout", str(target.timeout), "--exclude-checks", ",".join(SKIPPED_CHECKS),
            "--phases", "examples,coverage,fuzzing", "--report", "junit",
            "--report-junit-path", str(report), "--output-truncate", "true"]
    for operation, method in OPERATIONS.items():
        if method in methods:
            argv += ["--include-operation-id", operation]
    if target.token:
        argv += ["--header", f"Authorization: Bearer {target.token}"]
    started = time.monotonic()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, cwd=work,
                              timeout=max_seconds + 120, env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        run.error = f"schemathesis did not finish within {max_seconds + 120:.0f}s"
        return run
    run.seconds = round(time.monotonic() - started, 2)
    (work / "fuzz-output.txt").write_text(done.stdout + done.stderr)
    if not report.exists():
        run.error = (f"schemathesis exited {done.returncode} without a report: "
                     f"{(done.stderr or done.stdout).strip()[-600:]}")
        return run
    try:
        run.operations, run.findings = parse_junit(report.read_text())
    except ET.ParseError as exc:
        run.error = f"schemathesis wrote a report that does not parse: {exc}"
    return run


def parse_junit(text: str) -> tuple[int, list[FuzzFinding]]:
    """(operations tested, findings) from schemathesis' JUnit report: one testcase per operation,
    its failure text a numbered list of test cases, each with its checks, the answer and a curl
    command that reproduces it. Methods the spec does not have (the coverage phase also sends
    e.g. QUERY) are left out: refusing them is not a contract finding."""
    root = ET.fromstring(text)
    operations, findings = 0, []
    for case in root.iter("testcase"):
        operation = case.get("name", "")
        operations += 1
        if operation.split(" ")[0] not in KNOWN_METHODS:
            continue
        for failure in list(case.iter("failure")) + list(case.iter("error")):
            for block in re.split(r"(?m)^\d+\. Test Case ID: \S+\s*$", failure.text or "")[1:]:
                checks = re.findall(r"(?m)^- (ST\d+ [^\n]+)$", block)
                status = re.search(r"(?m)^\[(\d{3})\] ([^\n:]+):?$", block)
                curl = re.search(r"(?m)^\s+(curl [^\n]+)$", block)
                findings.append(FuzzFinding(
                    operation=operation, check=", ".join(checks) or "error",
                    message=f"{status.group(1)} {status.group(2)}" if status else
                    block.strip().splitlines()[0][:200] if block.strip() else "",
                    reproduce=curl.group(1)[:400] if curl else ""))
    return operations, findings
