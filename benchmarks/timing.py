"""Timing helpers shared by the benchmark sections: interleaved repeats, medians, one row type."""

import time
from dataclasses import dataclass, field
from statistics import median


@dataclass
class Row:
    """One line of the results table."""

    section: str
    case: str
    sizes: str
    threads: str
    versions: str
    measured: str
    ratio: str = ""
    target: str = ""
    met: str = ""  # "yes", "NO", or "" (information only)
    extra: dict = field(default_factory=dict)  # raw numbers, for --json


def interleaved_medians(candidates, repeats, warmup=1):
    """Median wall time in seconds of each zero-argument callable, run in turns.

    Candidates are timed round-robin (a, b, c, a, b, c, ...) so that a slow spell of a shared
    machine hits all of them alike; ratios of the medians are what the benchmark reports.
    """
    for _ in range(warmup):
        for fn in candidates.values():
            fn()
    times = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: median(ts) for name, ts in times.items()}


def verdict(value, limit, larger_is_better=False):
    ok = value >= limit if larger_is_better else value <= limit
    return "yes" if ok else "NO"


def fmt_ms(seconds):
    ms = seconds * 1e3
    return f"{ms:.2f} ms" if ms < 100 else f"{ms:.0f} ms"


def fmt_s(seconds):
    return f"{seconds:.2f} s"
