"""docs/go-client cannot rot: every example in examples.md is its program byte for byte (the Go
smoke suite runs those programs against a real server, TestExamples), and api.md lists every
exported function and type of tests/go/client with its real signature."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "go-client"
CLIENT = ROOT / "tests" / "go" / "client"


def test_every_example_in_the_docs_is_its_program_byte_for_byte():
    text = (DOCS / "examples.md").read_text()
    quoted = re.findall(r"<!-- example: (\S+) -->\s*```go\n(.*?)```", text, re.S)
    programs = sorted(p.relative_to(ROOT).as_posix()
                      for p in (ROOT / "tests" / "go" / "examples").glob("*/main.go"))
    assert sorted(path for path, _ in quoted) == programs
    for path, code in quoted:
        assert code == (ROOT / path).read_text(), f"{path} differs from examples.md"


def test_api_md_lists_every_exported_function_and_type_with_its_signature():
    api = (DOCS / "api.md").read_text()
    sources = [p for p in CLIENT.glob("*.go") if not p.name.endswith("_test.go")]
    declared = []
    for source in sources:
        for match in re.finditer(r"^(func (?:\(\w+ \*?[A-Z]\w*\) )?[A-Z]\w*\([^{]*?)\s*\{$|^type ([A-Z]\w*) ",
                                 source.read_text(), re.M):
            declared.append(match.group(1) or f"type {match.group(2)} ")
    assert declared, "no exported API found"
    missing = [d for d in declared if d not in api]
    assert missing == [], f"api.md lacks (or has an outdated signature of): {missing}"
