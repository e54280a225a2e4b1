"""Acceptance criteria as pure functions: facts in, a Verdict out (with a message that says what is
wrong). They import only the model, so a unit test can hand them any facts, and the Dagster layer,
the static chart checks and the benchmarks all judge with the same functions."""
