"""The model: plain, validated data (catalog, facts, ledger, environment state, verdicts).

Nothing here imports anything of the project outside this package, so every other layer (criteria,
services, platforms, the Dagster layer) can build on it without cycles.
"""
