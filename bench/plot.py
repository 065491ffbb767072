"""The offered-load sweep as a picture: throughput and p99 latency against offered load.

matplotlib is imported here only, when a plot is asked for: a ``--quick``
run, or a machine without the ``bench`` extra, never pays for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def plot_sweep(points: Sequence[Mapping[str, Any]], max_rate: float, p99_target_ms: float,
               output: Path) -> Path:
    """Write a two-panel PNG: answered/s and p99 (log scale) against offered msgs/s."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    offered = [point["offered_per_s"] for point in points]
    figure, (throughput, latency) = pyplot.subplots(1, 2, figsize=(11, 4.2))
    throughput.plot(offered, [point["msgs_per_s"] for point in points], "o-",
                    label="answered msgs/s")
    throughput.plot(offered, offered, ":", color="grey", label="offered (ideal)")
    throughput.axhline(max_rate, linestyle="--", color="tab:red",
                       label=f"closed-loop max {max_rate:,.0f}/s")
    throughput.set(xlabel="offered load (msgs/s)", ylabel="answered (msgs/s)",
                   title="Throughput")
    throughput.legend()
    latency.plot(offered, [point["p99_ms"] for point in points], "o-", color="tab:orange",
                 label="p99 POST → answer")
    latency.plot(offered, [point["p50_ms"] for point in points], "o-", color="tab:green",
                 label="p50")
    latency.axhline(p99_target_ms, linestyle="--", color="tab:red",
                    label=f"p99 target {p99_target_ms:g} ms at half max")
    latency.axvline(max_rate / 2, linestyle=":", color="grey", label="half max")
    latency.set(xlabel="offered load (msgs/s)", ylabel="ms", yscale="log",
                title="Latency, open loop")
    latency.legend()
    figure.tight_layout()
    figure.savefig(output, dpi=110)
    pyplot.close(figure)
    return output
