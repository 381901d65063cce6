"""Summaries of bench/lib.sh's hyperfine rounds: pooled medians per command, and
differences or ratios as the median of per-round values."""
import json
import os
import platform
import statistics


class Rounds:
    def __init__(self, files):
        self.rounds = [{r["command"]: r for r in json.load(open(f))["results"]} for f in files]
        self.names = list(self.rounds[0])
        times = {n: [t * 1000 for rd in self.rounds for t in rd[n]["times"]] for n in self.names}
        self.median = {n: statistics.median(times[n]) for n in self.names}
        self.mean = {n: statistics.mean(times[n]) for n in self.names}
        self.per_round_runs = len(self.rounds[0][self.names[0]]["times"])

    def per_round(self, f):
        """Median over rounds of f(medians of that round, in ms)."""
        return statistics.median(
            f({n: rd[n]["median"] * 1000 for n in self.names}) for rd in self.rounds
        )

    def header(self):
        return (
            f"{machine()}\n\n{len(self.rounds)} rounds of {self.per_round_runs} launches per "
            "command; differences and ratios are medians of per-round values"
        )


def machine():
    cpu = next(
        (l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
        "?",
    )
    return f"Machine: {cpu}, {os.cpu_count()} cores, Linux {platform.release()}"
