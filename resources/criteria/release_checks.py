"""Acceptance criteria of seed 000 as pure functions over Facts and JobResults.

Each returns a Verdict; the Dagster checks only gather facts and call these, so a unit test can hand
them conflicting facts and watch them fail with a message that says what is wrong.
"""

import re
from collections import defaultdict
from pathlib import PurePosixPath

from resources.model.facts import Facts, JobResult
from resources.model.ledger import TeardownReport
from resources.model.verdict import Verdict, not_evaluated, verdict

PI = 3.14159
PI_TOLERANCE = 0.01
PI_LINE = re.compile(r"Pi is roughly (\d+\.\d+)")
# The Spark Connect probe's known answers (resources/spark.py asks the questions).
CONNECT_EXPECTED = {"sql_answer": 42, "range_sum": 500500, "range_count": 1000}


def parse_pi(output: str) -> float | None:
    match = PI_LINE.search(output)
    return float(match.group(1)) if match else None


def release_ready(facts: Facts) -> Verdict:
    down = [f"{c.name} ({c.probe})" for c in facts.components if not c.ready]
    return verdict(
        [f"{facts.release}: not ready: {', '.join(down)}"] if down else [],
        f"{facts.release}: all {len(facts.components)} components answer their probes",
        components={c.name: c.probe for c in facts.components})


def _unread(result: JobResult) -> Verdict | None:
    """A job that ran but whose output nobody could read is not evaluated (never a pass); one
    that failed still fails."""
    if result.unobserved and result.returncode == 0:
        return not_evaluated(f"{result.release} {result.job}: {result.unobserved}",
                             seconds=result.seconds)
    return None


def _unobserved(facts: list[Facts], what: str) -> str:
    """Why `what` cannot be read for some releases ("" when every release could be read)."""
    why = "; ".join(f"{f.release}: {f.unobserved}" for f in facts if f.unobserved)
    return f"{what} cannot be read ({why})" if why else ""


def sparkpi_completes(result: JobResult) -> Verdict:
    if (unread := _unread(result)) is not None:
        return unread
    pi = parse_pi(result.output)
    problems = []
    if result.returncode != 0:
        problems.append(f"spark-submit exited {result.returncode}: {result.error.strip()[-600:]}")
    if pi is None:
        problems.append("the job printed no 'Pi is roughly' line")
    elif abs(pi - PI) > PI_TOLERANCE:
        problems.append(f"pi = {pi} is off by {abs(pi - PI):.4f} (allowed {PI_TOLERANCE})")
    return verdict(problems, f"SparkPi on {result.release}: pi = {pi} in {result.seconds}s",
                    pi=pi if pi is not None else "none", returncode=result.returncode,
                    seconds=result.seconds)


def connect_job_completes(result: JobResult) -> Verdict:
    if (unread := _unread(result)) is not None:
        return unread
    problems = []
    if result.returncode != 0:
        problems.append(f"Spark Connect job failed: {result.error[-600:]}")
    for key, expected in CONNECT_EXPECTED.items():
        got = result.values.get(key)
        if got != expected:
            problems.append(f"{key} = {got!r}, expected {expected!r}")
    return verdict(problems, f"Spark Connect on {result.release}: SQL and aggregation answered "
                              f"correctly in {result.seconds}s",
                    **{k: str(v) for k, v in result.values.items()}, seconds=result.seconds)


def _shared(facts: list[Facts], value_of) -> dict[str, list[str]]:
    owners: dict[str, list[str]] = defaultdict(list)
    for f in facts:
        owners[value_of(f)].append(f.release)
    return {value: releases for value, releases in owners.items() if len(releases) > 1}


def metastore_config_problems(facts: list[Facts]) -> list[str]:
    """The configuration half of metastore_isolated: what rendered manifests can show too."""
    problems = [f"{' and '.join(releases)} share metastore database {db!r}"
                for db, releases in _shared(facts, lambda f: f.metastore_db).items()]
    problems += [f"{' and '.join(releases)} share metastore service {uri}"
                 for uri, releases in _shared(facts, lambda f: f.metastore_uri).items()]
    return problems


def metastore_isolated(facts: list[Facts], probe_tables: dict[str, str]) -> Verdict:
    """Distinct databases and URIs, and each release's probe table is in its own database only.

    probe_tables: release -> "<db>.<table>" its job created (read back from PostgreSQL's TBLS/DBS).
    """
    problems = metastore_config_problems(facts)
    unobserved = _unobserved(facts, "the metastores' tables")
    if unobserved and not problems:
        return not_evaluated(f"{unobserved} (the databases are distinct)",
                             **{f"{f.release} database": f.metastore_db for f in facts})
    live = [] if unobserved else facts  # with a clash, the configuration half alone judges
    for f in live:
        table = probe_tables.get(f.release)
        if table is None:
            problems.append(f"{f.release}: its job reported no probe table")
            continue
        if table not in f.metastore_tables:
            problems.append(f"{f.release}: table {table} is missing from its own database "
                            f"{f.metastore_db} (has {f.metastore_tables or 'no tables'})")
        for other in facts:
            if other.release != f.release and table in other.metastore_tables:
                problems.append(f"{f.release}'s table {table} appears in {other.release}'s "
                                f"database {other.metastore_db}")
    return verdict(problems, "each release's metastore holds only its own tables: " + ", ".join(
        f"{f.metastore_db}={f.metastore_tables}" for f in facts),
        **{f"{f.release} database": f.metastore_db for f in facts},
        **{f"{f.release} tables": ", ".join(f.metastore_tables) for f in facts})


def _dir(location: str) -> str:
    """file:/x/ and /x name one directory; s3a://b/p/ and s3a://b/p one prefix."""
    return location.removeprefix("file:").rstrip("/")


def _nested(a: str, b: str) -> bool:
    pa, pb = PurePosixPath(a), PurePosixPath(b)
    return pa == pb or pa in pb.parents or pb in pa.parents


def _overlapping_prefixes(facts: list[Facts]) -> list[tuple[Facts, Facts]]:
    """Pairs of releases whose event-log prefixes are the same or one inside the other (a release
    with none, "", writes no event logs: it overlaps nothing)."""
    return [(a, b) for i, a in enumerate(facts) for b in facts[i + 1:]
            if a.event_log_dir and b.event_log_dir and _nested(a.event_log_dir, b.event_log_dir)]


def history_config_problems(facts: list[Facts]) -> list[str]:
    """The configuration half of history_isolated: distinct, non-overlapping event-log prefixes,
    each History Server reading its own (what rendered manifests can show too)."""
    problems = [f"{a.release} and {b.release} write event logs to overlapping prefixes "
                f"{a.event_log_dir} and {b.event_log_dir}" for a, b in _overlapping_prefixes(facts)]
    for f in facts:
        if f.history_log_dir != f.event_log_dir:
            problems.append(f"{f.release}: History Server reads {f.history_log_dir} but the "
                            f"release writes to {f.event_log_dir}")
    return problems


def history_isolated(facts: list[Facts]) -> Verdict:
    """Distinct, non-overlapping event-log prefixes; each History Server reads its own prefix and
    lists only applications of its own Spark version (and at least one: the jobs ran before)."""
    problems = history_config_problems(facts)
    unobserved = _unobserved(facts, "the History Servers' applications")
    if unobserved and not problems:
        return not_evaluated(f"{unobserved} (the event-log prefixes are distinct and each "
                             f"History Server reads its own)",
                             **{f"{f.release} event logs": f.event_log_dir for f in facts})
    live = [] if unobserved else facts  # with a clash, the configuration half alone judges
    for f in live:
        if not f.history_apps:
            problems.append(f"{f.release}: History Server lists no application (expected its job)")
        foreign = [f"{app.id} ({app.name}, Spark {app.spark_version})" for app in f.history_apps
                   if app.spark_version != f.version]
        if foreign:
            problems.append(f"{f.release} History Server (Spark {f.version}) lists foreign "
                            f"applications: {', '.join(foreign)}")
        # Where each listed application really logged (its spark.eventLog.dir): catches a
        # neighbour of the same Spark version, which the version comparison cannot tell apart.
        elsewhere = [f"{app.id} ({app.name}) logged to {app.event_log_dir}"
                     for app in f.history_apps if app.event_log_dir is not None
                     and _dir(app.event_log_dir) != _dir(f.event_log_dir)]
        if elsewhere:
            problems.append(f"{f.release} History Server lists applications that did not log to "
                            f"its prefix {f.event_log_dir}: {', '.join(elsewhere)}")
    return verdict(problems, "each History Server lists only its own version's applications",
                    **{f"{f.release} event logs": f.event_log_dir for f in facts},
                    **{f"{f.release} applications": ", ".join(
                        f"{a.id}@{a.spark_version}" + (f" in {a.event_log_dir}" if a.event_log_dir
                                                       else "") for a in f.history_apps)
                       for f in facts})


def event_logs_on_own_prefix(facts: list[Facts]) -> Verdict:
    """After the jobs: each release's event logs are in the store under its own prefix (listed,
    not assumed), prefixes neither shared nor nested, every application a release's History Server
    lists has its log there, and every log there is an application of that release's version.
    (Application ids alone can coincide across releases: two masters started in the same second
    both name their first application app-<time>-0000; logs are matched per release.)"""
    unlisted = [f.release for f in facts if f.event_logs is None]
    if unlisted:
        return not_evaluated(f"the event logs of {', '.join(unlisted)} cannot be listed from "
                             f"here (the platform's object store is not reachable from this "
                             f"process); history_isolated judges the configuration")
    problems = [f"{a.release} and {b.release} share event-log prefix {a.event_log_dir}"
                if a.event_log_dir == b.event_log_dir else
                f"{a.release}'s prefix {a.event_log_dir} and {b.release}'s {b.event_log_dir} overlap"
                for a, b in _overlapping_prefixes(facts)]
    for f in facts:
        logs = f.event_logs or []
        if not logs:
            problems.append(f"{f.release}: no event log under {f.event_log_dir} after its job "
                            f"ran (its applications logged elsewhere, or not at all)")
            continue
        logged = [app for app in f.history_apps if any(app.id in log for log in logs)]
        missing = [app.id for app in f.history_apps if app not in logged]
        if missing:
            problems.append(f"{f.release}: application(s) {', '.join(missing)} listed by its "
                            f"History Server have no log under {f.event_log_dir}")
        foreign = [f"{app.id} (Spark {app.spark_version})" for app in logged
                   if app.spark_version != f.version]
        if foreign:
            problems.append(f"{f.release}'s prefix {f.event_log_dir} holds the logs of other "
                            f"versions' applications: {', '.join(foreign)}")
        strays = [log for log in logs if not any(app.id in log for app in f.history_apps)]
        if strays:
            problems.append(f"{f.release}: log(s) {', '.join(strays)} under {f.event_log_dir} "
                            f"are no application its History Server lists")
    return verdict(problems, "each release's event logs are under its own prefix only: " + "; ".join(
        f"{f.event_log_dir}: {len(f.event_logs or [])}" for f in facts),
        **{f"{f.release} event logs": ", ".join(f.event_logs or []) for f in facts},
        **{f"{f.release} prefix": f.event_log_dir for f in facts})


def services_isolated(facts: list[Facts]) -> Verdict:
    """No two components (across releases) share a name, a port, a data dir or a conf dir, and no
    two releases share event-log storage (the same prefix, or one inside the other: a History
    Server lists everything below its prefix)."""
    users: dict[tuple[str, str], list[str]] = defaultdict(list)
    for f in facts:
        for c in f.components:
            who = f"{f.release}/{c.kind}"
            values = [("name", c.name), ("data dir", c.data_dir), ("conf dir", c.conf_dir)]
            values += [("port", str(port)) for port in c.ports.values()]
            for what, value in values:
                if value:
                    users[(what, value)].append(who)
    problems = [f"{' and '.join(who)} share {what} {value}"
                for (what, value), who in users.items() if len(who) > 1]
    problems += [f"{a.release} and {b.release} share event-log storage: {a.event_log_dir} and "
                 f"{b.event_log_dir} overlap" for a, b in _overlapping_prefixes(facts)]
    count = sum(len(f.components) for f in facts)
    return verdict(problems, f"{count} components, no shared name, port, data dir or conf dir",
                    components=", ".join(c.name for f in facts for c in f.components))


def nothing_left(report: TeardownReport) -> Verdict:
    """After teardown no process, listening port or environment dir of the run remains."""
    return verdict(
        [f"{report.env_id}: still there after teardown: {', '.join(report.leftovers)}"]
        if report.leftovers else [],
        f"{report.env_id}: {len(report.stopped)} components stopped, nothing left"
        + (f" (files kept for debugging in {report.kept_dir})" if report.kept_dir else ""),
        stopped=", ".join(report.stopped), items=len(report.entries),
        teardown_seconds=report.seconds)
