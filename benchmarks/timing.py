"""Timing helpers shared by the benchmark sections: interleaved repeats, medians, one row type."""

import time
from dataclasses import dataclass, field
from statistics import median

import numpy as np


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


class RoundClock:
    """Timestamps of one training run: its start, then one per boosting round (the libraries'
    per-iteration callbacks call ``tick``)."""

    def __init__(self):
        self.marks = [time.perf_counter()]

    def tick(self):
        self.marks.append(time.perf_counter())

    def rounds(self):
        return np.diff(self.marks)


def interleaved_round_medians(candidates, repeats):
    """Training time of each candidate as the sum over rounds of the median time of that round.

    ``candidates`` maps names to callables ``fn(clock)`` that train with ``clock.tick`` called
    after every round (warm them up beforehand). Candidates run in turns (a, b, c, a, b, c, ...)
    as in :func:`interleaved_medians`; then for every round index the median over the repeats is
    taken, and those medians are summed. On a shared machine a slow spell lasting a second or
    two spoils a few rounds of one run, not the run's whole total, so this estimator moves much
    less from one benchmark run to the next than the median of the totals (also returned).

    Returns ``{name: (sum of per-round medians, median of totals)}`` in seconds (a total runs
    from the start of the call to the last round's tick).
    """
    rounds = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            clock = RoundClock()
            fn(clock)
            rounds[name].append(clock.rounds())
    out = {}
    for name, per_run in rounds.items():
        per_run = np.array(per_run)  # (repeats, rounds)
        out[name] = (float(np.median(per_run, axis=0).sum()), float(np.median(per_run.sum(axis=1))))
    return out


def verdict(value, limit, larger_is_better=False):
    ok = value >= limit if larger_is_better else value <= limit
    return "yes" if ok else "NO"


def fmt_ms(seconds):
    ms = seconds * 1e3
    return f"{ms:.2f} ms" if ms < 100 else f"{ms:.0f} ms"


def fmt_s(seconds):
    return f"{seconds:.2f} s"
