"""Facts about releases read from Kubernetes objects: rendered manifests (before install) or the
live API (after). Both are plain dicts in the API's camelCase shape, so one reader serves both.

How Kubernetes maps onto ComponentFacts: `name` is the workload's name, `ports` only the ports a
node or the cluster shares (nodePort, hostPort: a ClusterIP port belongs to its own Service and
cannot collide), `data_dir` the storage the component writes (its PVCs; the metastore's
warehouse), `conf_dir` the ConfigMap of the component itself.
"""

import re

from resources.model.facts import ComponentFacts, Facts

INSTANCE = "app.kubernetes.io/instance"
COMPONENT = "app.kubernetes.io/component"
VERSION = "app.kubernetes.io/version"
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume",
                  "StorageClass", "CustomResourceDefinition", "PriorityClass", "IngressClass",
                  "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
                  "APIService", "CSIDriver", "RuntimeClass"}


def labels(obj: dict) -> dict:
    return obj.get("metadata", {}).get("labels") or {}


def name(obj: dict) -> str:
    return obj.get("metadata", {}).get("name", "")


def instance(obj: dict) -> str:
    return labels(obj).get(INSTANCE, "")


def of_release(objects: list[dict], release: str, kind: str | None = None) -> list[dict]:
    return [o for o in objects if instance(o) == release and (kind is None or o["kind"] == kind)]


def pod_spec(obj: dict) -> dict:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Pod":
        return spec
    if obj.get("kind") == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    return spec.get("template", {}).get("spec") or {}


def pod_labels(obj: dict) -> dict:
    if obj.get("kind") == "Pod":
        return labels(obj)
    return (obj.get("spec") or {}).get("template", {}).get("metadata", {}).get("labels") or {}


def containers(spec: dict) -> list[dict]:
    return (spec.get("initContainers") or []) + (spec.get("containers") or [])


def selects(service: dict, workload: dict) -> bool:
    selector = (service.get("spec") or {}).get("selector") or {}
    mine = pod_labels(workload)
    return bool(selector) and all(mine.get(k) == v for k, v in selector.items())


def references(workload: dict) -> set[tuple[str, str]]:
    """(kind, name) of every ConfigMap, Secret, PVC and ServiceAccount the workload's pods use."""
    spec = pod_spec(workload)
    refs: set[tuple[str, str]] = set()
    for volume in spec.get("volumes") or []:
        if "configMap" in volume:
            refs.add(("ConfigMap", volume["configMap"]["name"]))
        if "secret" in volume:
            refs.add(("Secret", volume["secret"]["secretName"]))
        if "persistentVolumeClaim" in volume:
            refs.add(("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]))
    for container in containers(spec):
        for env in container.get("env") or []:
            source = env.get("valueFrom") or {}
            if "configMapKeyRef" in source:
                refs.add(("ConfigMap", source["configMapKeyRef"]["name"]))
            if "secretKeyRef" in source:
                refs.add(("Secret", source["secretKeyRef"]["name"]))
        for source in container.get("envFrom") or []:
            if "configMapRef" in source:
                refs.add(("ConfigMap", source["configMapRef"]["name"]))
            if "secretRef" in source:
                refs.add(("Secret", source["secretRef"]["name"]))
    if spec.get("serviceAccountName"):
        refs.add(("ServiceAccount", spec["serviceAccountName"]))
    refs.update(("PersistentVolumeClaim", claim) for claim in claims(workload))
    return refs


def claims(workload: dict) -> list[str]:
    """PVC names a StatefulSet's volumeClaimTemplates create: <template>-<set>-<ordinal>."""
    if workload.get("kind") != "StatefulSet":
        return []
    spec = workload.get("spec") or {}
    return [f"{name(t)}-{name(workload)}-{i}" for t in spec.get("volumeClaimTemplates") or []
            for i in range(spec.get("replicas", 1))]


def _config(objects: list[dict], release: str, key: str) -> str:
    for cm in of_release(objects, release, "ConfigMap"):
        if key in (cm.get("data") or {}):
            return cm["data"][key]
    return ""


def spark_default(objects: list[dict], release: str, prop: str) -> str:
    match = re.search(rf"^{re.escape(prop)}\s+(\S+)\s*$",
                      _config(objects, release, "spark-defaults.conf"), re.M)
    return match.group(1) if match else "unknown"


def hive_property(objects: list[dict], release: str, prop: str) -> str:
    text = _config(objects, release, "hive-site.xml.template")
    match = re.search(rf"<name>{re.escape(prop)}</name>\s*<value>([^<]*)</value>", text)
    return match.group(1) if match else "unknown"


def history_log_dir(objects: list[dict], release: str) -> str:
    match = re.search(r"-Dspark\.history\.fs\.logDirectory=(\S+)",
                      _config(objects, release, "SPARK_HISTORY_OPTS"))
    return match.group(1) if match else "unknown"


def node_ports(objects: list[dict], workload: dict) -> dict[str, int]:
    ports = {}
    for svc in objects:
        if svc.get("kind") == "Service" and selects(svc, workload):
            for port in (svc.get("spec") or {}).get("ports") or []:
                if port.get("nodePort"):
                    ports[f"{name(svc)}.{port.get('name', port['port'])}.nodePort"] = port["nodePort"]
    for container in containers(pod_spec(workload)):
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                ports[f"{container['name']}.{port.get('name', '')}.hostPort"] = port["hostPort"]
    return ports


def metastore_service(objects: list[dict], release: str, namespace: str) -> str:
    for svc in of_release(objects, release, "Service"):
        if labels(svc).get(COMPONENT) == "metastore":
            port = svc["spec"]["ports"][0]["port"]
            return f"thrift://{name(svc)}.{namespace}.svc:{port}"
    return "none"


def component_facts(objects: list[dict], release: str, ready: dict[str, tuple[bool, str]]
                    ) -> list[ComponentFacts]:
    """ready: workload name -> (ready, how it was judged); missing means not deployed."""
    found = []
    # Sorted by name: the API lists by kind, Helm renders by template; facts must not differ.
    for workload in sorted(of_release(objects, release), key=name):
        if workload["kind"] not in WORKLOADS:
            continue
        kind = labels(workload).get(COMPONENT, workload["kind"].lower())
        own_conf = [ref for k, ref in references(workload)
                    if k == "ConfigMap" and ref == name(workload)]
        data = claims(workload) + [ref for k, ref in references(workload)
                                   if k == "PersistentVolumeClaim" and ref not in claims(workload)]
        if kind == "metastore":
            data.append(hive_property(objects, release, "hive.metastore.warehouse.dir"))
        is_ready, probe = ready.get(name(workload), (False, "rendered, not deployed"))
        found.append(ComponentFacts(
            release=release, kind=kind, name=name(workload),
            ports=node_ports(objects, workload),
            data_dir=",".join(data) or None, conf_dir=",".join(own_conf) or None,
            ready=is_ready, probe=probe))
    return found


def release_facts(objects: list[dict], release: str, namespace: str,
                  ready: dict[str, tuple[bool, str]] | None = None) -> Facts:
    """What the objects say about one release. Tables and History applications exist only on a
    live system; the platform fills them in."""
    workloads = [o for o in of_release(objects, release) if o["kind"] in WORKLOADS]
    version = next((labels(w).get(VERSION) for w in workloads if labels(w).get(VERSION)), "unknown")
    jdbc = hive_property(objects, release, "javax.jdo.option.ConnectionURL")
    return Facts(
        release=release, version=version,
        components=component_facts(objects, release, ready or {}),
        metastore_uri=metastore_service(objects, release, namespace),
        metastore_db=jdbc.rsplit("/", 1)[-1].split("?")[0] if jdbc != "unknown" else "unknown",
        metastore_tables=[],
        event_log_dir=spark_default(objects, release, "spark.eventLog.dir"),
        history_log_dir=history_log_dir(objects, release),
        history_apps=[])
