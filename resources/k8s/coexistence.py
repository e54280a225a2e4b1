"""Static coexistence: would these releases conflict in one namespace? Judged on the objects Helm
renders, before anything is installed.

Facts read from the manifests go through the same check functions the running system is judged by
(services_isolated; the configuration halves of metastore_isolated and history_isolated). Object
level rules that only Kubernetes has are added here: no duplicate (kind, namespace, name), no
ConfigMap/Secret/PVC/ServiceAccount used by two releases, no Service selecting another release's
pods, no cluster-scoped object shared by accident.
"""

from collections import defaultdict

from resources.criteria import release_checks
from resources.k8s import facts as k8s
from resources.model.facts import Facts
from resources.model.verdict import Verdict, verdict


def _key(obj: dict, namespace: str) -> tuple[str, str, str]:
    group = obj.get("apiVersion", "").rpartition("/")[0]
    kind = f"{obj['kind']}.{group}" if group else obj["kind"]
    return kind, "" if obj["kind"] in k8s.CLUSTER_SCOPED else namespace, k8s.name(obj)


def objects_distinct(objects: list[dict], namespace: str) -> Verdict:
    owners: dict[tuple, list[str]] = defaultdict(list)
    for obj in objects:
        owners[_key(obj, namespace)].append(k8s.instance(obj) or "?")
    problems = [f"{kind} {ns + '/' if ns else ''}{name} is rendered by {' and '.join(who)}"
                for (kind, ns, name), who in owners.items() if len(who) > 1]
    return verdict(problems, f"{len(objects)} objects, each (kind, namespace, name) once")


def cluster_scoped_owned(objects: list[dict]) -> Verdict:
    """A cluster-scoped object outlives the namespace and is shared by every install: it must
    carry its release's name, or two namespaces' installs overwrite each other."""
    problems = [f"cluster-scoped {o['kind']} {k8s.name(o)} of {k8s.instance(o) or '?'} does not "
                f"start with its release name"
                for o in objects if o["kind"] in k8s.CLUSTER_SCOPED
                and not k8s.name(o).startswith(f"{k8s.instance(o)}-")]
    count = sum(o["kind"] in k8s.CLUSTER_SCOPED for o in objects)
    return verdict(problems, f"{count} cluster-scoped objects, each owned by one release")


def references_distinct(objects: list[dict]) -> Verdict:
    """No two releases' pods use the same ConfigMap, PVC or ServiceAccount, or a Secret one of
    them creates. An external Secret (e.g. shared S3 credentials) may be read by both."""
    created = {(o["kind"], k8s.name(o)) for o in objects}
    users: dict[tuple[str, str], set[str]] = defaultdict(set)
    for workload in objects:
        if workload["kind"] in k8s.WORKLOADS:
            for ref in k8s.references(workload):
                users[ref].add(k8s.instance(workload))
    problems = [f"{kind} {name} is used by {' and '.join(sorted(who))}"
                for (kind, name), who in sorted(users.items())
                if len(who) > 1 and (kind != "Secret" or (kind, name) in created)]
    shared = sorted(f"Secret {n}" for (k, n), who in users.items()
                    if len(who) > 1 and k == "Secret" and (k, n) not in created)
    return verdict(problems, "no ConfigMap, Secret, PVC or ServiceAccount used by two releases"
                   + (f" (external, read-only: {', '.join(shared)})" if shared else ""))


def selectors_distinct(objects: list[dict]) -> Verdict:
    problems = []
    workloads = [o for o in objects if o["kind"] in k8s.WORKLOADS]
    for svc in (o for o in objects if o["kind"] == "Service"):
        selected = {k8s.instance(w) for w in workloads if k8s.selects(svc, w)}
        if selected - {k8s.instance(svc)}:
            problems.append(f"Service {k8s.name(svc)} of {k8s.instance(svc)} selects pods of "
                            f"{' and '.join(sorted(selected))}")
    for a in workloads:
        selector = (a.get("spec") or {}).get("selector", {}).get("matchLabels") or {}
        for b in workloads:
            if b is not a and k8s.instance(b) != k8s.instance(a) and selector and all(
                    k8s.pod_labels(b).get(k) == v for k, v in selector.items()):
                problems.append(f"{a['kind']} {k8s.name(a)} selects the pods of "
                                f"{b['kind']} {k8s.name(b)} ({k8s.instance(b)})")
    return verdict(problems, "every Service and workload selects only its own release's pods")


def metastores_distinct(facts: list[Facts]) -> Verdict:
    """The configuration half of release_checks.metastore_isolated (tables exist only live)."""
    problems = release_checks.metastore_config_problems(facts)
    problems += [f"{f.release}: no metastore database found in its manifests"
                 for f in facts if f.metastore_db == "unknown"]
    return verdict(problems, "distinct metastore databases: " + ", ".join(
        f"{f.release}={f.metastore_db}" for f in facts))


def history_prefixes_distinct(facts: list[Facts]) -> Verdict:
    """The configuration half of release_checks.history_isolated (applications exist only live)."""
    problems = release_checks.history_config_problems(facts)
    return verdict(problems, "distinct History prefixes: " + ", ".join(
        f"{f.release}={f.event_log_dir}" for f in facts))


def check(objects: list[dict], namespace: str) -> dict[str, Verdict]:
    """Every static coexistence verdict for the releases rendered into one namespace."""
    releases = sorted({k8s.instance(o) for o in objects if k8s.instance(o)})
    facts = [k8s.release_facts(objects, release, namespace) for release in releases]
    # Metastores and event logs are Spark's; another chart's release (an Iceberg catalog) has
    # neither, and writes no event logs that could overlap a Spark release's.
    spark = [f for f in facts if _is_spark(objects, f.release)]
    others = [f.model_copy(update={"event_log_dir": "", "history_log_dir": ""})
              for f in facts if f not in spark]
    return {
        "objects_distinct": objects_distinct(objects, namespace),
        "cluster_scoped_owned": cluster_scoped_owned(objects),
        "references_distinct": references_distinct(objects),
        "selectors_distinct": selectors_distinct(objects),
        "services_isolated": release_checks.services_isolated(spark + others),
        "metastore_isolated": metastores_distinct(spark),
        "history_isolated": history_prefixes_distinct(spark),
    }


def _is_spark(objects: list[dict], release: str) -> bool:
    """Rendered by a spark-* chart (app.kubernetes.io/name is the chart's name)."""
    return any(k8s.labels(o).get("app.kubernetes.io/name", "").startswith("spark")
               for o in objects if k8s.instance(o) == release)


def problems(verdicts: dict[str, Verdict]) -> list[str]:
    return [f"{name}: {v.message}" for name, v in verdicts.items() if not v.passed]
