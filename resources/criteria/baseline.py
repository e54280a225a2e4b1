"""Performance baselines as checks: is a number worse than what this asset usually shows?

Generic over any asset that records numbers (Connect load figures, release startup times, Delta
write rates, CDC rates): the caller passes this run's numbers and the same numbers from the last
materializations of the same asset; the verdict names every metric that is worse than the rolling
median by more than the margin.
"""

from statistics import median

from resources.model.verdict import Verdict, not_evaluated, verdict

HIGHER_IS_BETTER = ("qps", "per_second", "throughput", "ratio")


def higher_is_better(metric: str) -> bool:
    """Rates go up when things improve; latencies, seconds, memory and CPU go down."""
    return any(metric.endswith(suffix) for suffix in HIGHER_IS_BETTER)


def no_regression_against_baseline(current: dict[str, float], history: list[dict[str, float]],
                                   margin: float = 0.25, min_history: int = 3,
                                   what: str = "") -> Verdict:
    """current: metric -> value of this run; history: the previous runs' metrics, newest first.
    A metric with fewer than min_history earlier values has no baseline yet (said, not failed)."""
    if margin < 0:
        raise ValueError(f"margin must be >= 0, not {margin}")
    problems, compared, young = [], {}, []
    for metric, value in sorted(current.items()):
        earlier = [run[metric] for run in history if metric in run]
        if len(earlier) < min_history:
            young.append(metric)
            continue
        base = median(earlier)
        compared[f"baseline/{metric}"] = round(base, 3)
        if base == 0:
            continue
        change = (value - base) / abs(base)
        worse = -change if higher_is_better(metric) else change
        if worse > margin:
            problems.append(f"{what}{metric} is {value:g}, {worse:.0%} worse than the median "
                            f"{base:g} of the last {len(earlier)} runs (margin {margin:.0%})")
    if not compared and current:
        return not_evaluated(f"{what}no baseline yet: fewer than {min_history} earlier runs "
                             f"recorded {', '.join(young[:5])}", runs=len(history))
    return verdict(problems, f"{what}{len(compared)} metrics within {margin:.0%} of their rolling "
                             f"median ({len(history)} earlier runs)"
                   + (f"; no baseline yet for {', '.join(young)}" if young else ""),
                   runs=len(history), **compared)
