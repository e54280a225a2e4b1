"""What the engine reports of a compose project, read: published ports, component facts, how
long a container took to pass its healthcheck, and whether a project's labels say it may go. Pure
functions over `docker inspect` documents and labels."""

import socket
from datetime import datetime

import psutil

from resources.docker.compose import ComposeError
from resources.docker.project import CONF, LABELS, PORTS
from resources.model.facts import ComponentFacts

ENV_LABEL, OWNER_LABEL, CREATED_LABEL, TTL_LABEL = LABELS


def abandoned(labels: dict[str, str], now: float) -> str | None:
    host_name, _, rest = labels.get(OWNER_LABEL, "::").partition(":")
    pid, _, started = rest.partition(":")
    if host_name == socket.gethostname():
        try:
            alive = abs(psutil.Process(int(pid)).create_time() - float(started)) < 1.0
        except (psutil.NoSuchProcess, ValueError):
            alive = False
        if not alive:
            return f"owner pid {pid} is gone"
    try:
        age = now - float(labels[CREATED_LABEL])
        if age > float(labels[TTL_LABEL]):
            return f"TTL {labels[TTL_LABEL]}s expired ({age:.0f}s old)"
    except (KeyError, ValueError):
        return "no creation time or TTL label"
    return None


def host_port(info: dict, port: int) -> int:
    bindings = (info["NetworkSettings"]["Ports"] or {}).get(f"{port}/tcp") or []
    if not bindings:
        raise ComposeError(f"{info['Name'].lstrip('/')} publishes no port for {port}")
    return int(bindings[0]["HostPort"])


def published_ports(info: dict) -> dict[str, int]:
    return {key.split("/")[0]: int(bindings[0]["HostPort"])
            for key, bindings in (info["NetworkSettings"]["Ports"] or {}).items() if bindings}


def component_facts(release: str, component: str, info: dict) -> ComponentFacts:
    name = info["Name"].lstrip("/")
    state = info["State"]
    health = (state.get("Health") or {}).get("Status", "none")
    roles = {port: role.split(".")[1] for role, port in PORTS.items()
             if role.startswith(f"{component}.")}
    ports = {roles.get(int(inside), inside): outside
             for inside, outside in published_ports(info).items()}
    return ComponentFacts(
        release=release, kind=component, name=name, ports=ports,
        data_dir=f"{name}:/opt/work", conf_dir=f"{name}:{CONF}", pid=state.get("Pid") or None,
        ready=state.get("Running", False) and health == "healthy",
        probe=f"container {state['Status']}, healthcheck {health}")


def ready_seconds(info: dict) -> float:
    """Start to the first passing healthcheck, as the engine recorded them."""
    state = info["State"]
    passed = [entry["End"] for entry in (state.get("Health") or {}).get("Log") or []
              if entry.get("ExitCode") == 0]
    if not passed:
        return 0.0
    return round((parse_time(min(passed)) - parse_time(state["StartedAt"])), 2)


def parse_time(stamp: str) -> float:
    """Docker's RFC 3339 times with nanoseconds (Python parses microseconds)."""
    head, _, tail = stamp.partition(".")
    fraction = "".join(ch for ch in tail if ch.isdigit())[:6]
    zone = tail[len("".join(ch for ch in tail if ch.isdigit())):] or "Z"
    return datetime.fromisoformat(f"{head}.{fraction or '0'}{zone.replace('Z', '+00:00')}") \
        .timestamp()
