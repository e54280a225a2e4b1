"""The E2E suites' expected answers, from an engine that is not Spark: DuckDB over the same
parquet files the Connect servers read."""

from pathlib import Path

import duckdb

from resources.model.connect import E2EScenario, plain


def answers(data: Path, scenarios: tuple[E2EScenario, ...]) -> dict[str, list[list]]:
    """Scenario name -> its rows, in order (scenarios that expect an error have none)."""
    with duckdb.connect() as con:
        for view in ("trips", "zones"):
            con.execute(f"CREATE VIEW {view} AS SELECT * FROM "
                        f"read_parquet('{Path(data) / view}/*.parquet')")
        return {s.name: [[plain(v) for v in row]
                         for row in con.execute(s.duckdb or s.sql).fetchall()]
                for s in scenarios if not s.expect_error}
