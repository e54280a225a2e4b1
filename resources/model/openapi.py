"""An OpenAPI document as a contract to judge answers by: which operations exist, which statuses
each declares, and whether a response body matches the schema the document gives for it.

The Iceberg REST spec is OpenAPI 3.1, whose schemas are JSON Schema 2020-12, but it still writes
the 3.0 keyword `nullable: true`, which a 2020-12 validator ignores: a conforming server that sends
`null` there would be reported as wrong. `normalise_nullable` rewrites it the 3.1 way
(`type: [T, "null"]`, or `anyOf` with null where there is no `type`) before anything validates.
"""

from dataclasses import dataclass
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

METHODS = ("get", "put", "post", "delete", "head", "patch")
ROOT = "urn:openapi-document"


def normalise_nullable(node):
    """A copy of node with every `nullable: true` expressed in JSON Schema 2020-12 terms."""
    if isinstance(node, list):
        return [normalise_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: normalise_nullable(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        elif isinstance(kind, list):
            out["type"] = kind if "null" in kind else [*kind, "null"]
        else:  # a $ref, allOf, oneOf ...: null is one more alternative
            return {"anyOf": [out, {"type": "null"}]}
    return out


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str  # upper case
    path: str  # as the document writes it, e.g. /v1/{prefix}/namespaces
    statuses: tuple[str, ...]  # declared response codes: "200", "404", "5XX"

    def declares(self, status: int) -> bool:
        return str(status) in self.statuses or f"{str(status)[0]}XX" in self.statuses

    @property
    def endpoint(self) -> str:
        """How /v1/config `endpoints` names it: "GET /v1/{prefix}/namespaces"."""
        return f"{self.method} {self.path}"


class OpenApiContract:
    def __init__(self, document: dict, source: str = "document"):
        self.source = source
        self.document = normalise_nullable(document)
        self.version = str(self.document.get("info", {}).get("version", ""))
        self.operations: dict[str, Operation] = {}
        for path, item in (self.document.get("paths") or {}).items():
            for method in METHODS:
                op = item.get(method)
                if isinstance(op, dict) and op.get("operationId"):
                    self.operations[op["operationId"]] = Operation(
                        op["operationId"], method.upper(), path,
                        tuple(str(code) for code in op.get("responses", {})))
        resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
        self._registry = Registry().with_resource(ROOT, resource)
        self._validators: dict[str, Draft202012Validator] = {}

    @classmethod
    def load(cls, path: Path) -> "OpenApiContract":
        return cls(yaml.safe_load(path.read_text()), source=path.name)

    def operation(self, operation_id: str) -> Operation:
        try:
            return self.operations[operation_id]
        except KeyError:
            raise KeyError(f"{self.source} has no operation {operation_id!r}") from None

    def _response(self, operation_id: str, status: int) -> dict | None:
        op = self.operation(operation_id)
        responses = self._raw(op)["responses"]
        answer = None
        for key in (status, str(status), f"{str(status)[0]}XX"):
            if key in responses:
                answer = responses[key]
                break
        while isinstance(answer, dict) and "$ref" in answer:  # #/components/responses/...
            answer = self._pointer(answer["$ref"])
        return answer

    def _raw(self, op: Operation) -> dict:
        return self.document["paths"][op.path][op.method.lower()]

    def _pointer(self, ref: str):
        node = self.document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def response_schema(self, operation_id: str, status: int) -> tuple[str, dict] | None:
        """(where, JSON schema) the document gives for this answer's JSON body, or None when the
        answer has no JSON body (204, HEAD) or is not declared."""
        answer = self._response(operation_id, status)
        content = (answer or {}).get("content") or {}
        media = content.get("application/json")
        if not media or "schema" not in media:
            return None
        schema = media["schema"]
        where = schema.get("$ref", f"{operation_id} {status}").rsplit("/", 1)[-1]
        return where, schema

    def violations(self, operation_id: str, status: int, body) -> list[str]:
        """What is wrong with body as the answer `status` to operation_id ([] when it conforms or
        the document gives no schema for it)."""
        found = self.response_schema(operation_id, status)
        if found is None:
            return []
        where, schema = found
        validator = self._validator(schema)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
        return [f"{where}: {_explain(error)}" for error in errors[:5]]

    def schema_violations(self, schema_name: str, body) -> list[str]:
        """What is wrong with body as an instance of #/components/schemas/schema_name."""
        validator = self._validator({"$ref": f"#/components/schemas/{schema_name}"})
        return [f"{schema_name}: {_explain(e)}" for e in list(validator.iter_errors(body))[:5]]

    def _validator(self, schema: dict) -> Draft202012Validator:
        key = repr(sorted(schema.items()))
        if key not in self._validators:
            # The schema's #/... references point into the whole document.
            self._validators[key] = Draft202012Validator(_rooted(schema), registry=self._registry)
        return self._validators[key]


def _rooted(node):
    if isinstance(node, list):
        return [_rooted(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {key: ROOT + value if key == "$ref" and isinstance(value, str) and value.startswith("#")
            else _rooted(value) for key, value in node.items()}


def _explain(error) -> str:
    """The deepest reason: a oneOf/anyOf that matched nothing says which part of the body no
    alternative accepted, not the whole body."""
    while error.context:
        error = max(error.context, key=lambda e: len(e.absolute_path))
    return f"{error.message[:200]} at /{'/'.join(map(str, error.absolute_path))}"
