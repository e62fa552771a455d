"""`make bench`: every figure measured side by side in one run, on the bench's own stack, printed
as one table and written to bench/results/latest.json. Throughputs are the median of several
timed runs, each of which is kept in the JSON under `runs`.

Run: python -m bench.run [--images N]"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

from bench.footprint import mlflow_rss_mb
from bench.monitor import monitor_per_s
from bench.paths import (
    decode_forward_per_s,
    demo_pngs,
    forward_per_s,
    http_sequential,
    kafka_per_s,
    percentile,
    single_forward_ms,
)
from bench.procs import CpuUse, tree
from bench.swap import p99, under_load
from bench.system import broker_pid, log_dir, running_stack
from services.common.models import load_alias, registry_from
from services.common.settings import CommonSettings, load_settings
from services.monitor.config import MonitorSettings
from yieldloop.fleet import Fleet

RESULTS = Path(__file__).parent / "results" / "latest.json"
WARM_UP = 300  # images through a path before it is timed
# A throughput is timed this many times and its median reported: one run of a few seconds on a
# shared 2-core machine can be off by a factor of two. Each run's figure goes to the JSON too.
REPEATS = 9
REST_REQUESTS = 1000
CORES = os.cpu_count() or 1


def say(step: str) -> None:
    print(f"bench: {step}...", file=sys.stderr, flush=True)


class Figures(dict[str, float]):
    """Each figure by its key; a throughput timed several times keeps every run's figure."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: dict[str, list[float]] = {}

    def median_of(self, key: str, run: Callable[[], float], times: int) -> None:
        self.alternating({key: run}, times)

    def alternating(self, runs: dict[str, Callable[[], float]], times: int) -> None:
        """Each figure timed `times` times, taking turns, so that the figures of a ratio are
        timed over the same minutes: the machine's speed drifts within a bench."""
        for key in runs:
            self.runs[key] = []
        for _ in range(times):
            for key, run in runs.items():
                self.runs[key].append(run())
        for key in runs:
            self[key] = statistics.median(self.runs[key])


def measure(settings: CommonSettings, images: int) -> Figures:
    model = load_alias(registry_from(settings), settings.mlflow.model_name)
    pngs = demo_pngs(images)
    say("forward")
    figures = Figures()
    figures.median_of("forward_per_s", lambda: forward_per_s(model, pngs), 3)
    with Fleet(log_dir=log_dir()) as fleet:
        fleet.launch("inference")
        fleet.wait_ready("inference")
        say("Kafka path, taking turns with decode + forward")
        asyncio.run(
            kafka_per_s(settings, pngs[:WARM_UP])
        )  # the group joined, the first batches run

        def kafka(cpu: CpuUse | None = None) -> float:
            return asyncio.run(kafka_per_s(settings, pngs, cpu))

        cpu = kafka_cpu(fleet.daemons["inference"].pid(), broker_pid(settings))
        figures.alternating(
            {
                "decode_forward_per_s": lambda: decode_forward_per_s(model, pngs),
                "kafka_per_s": lambda: kafka(cpu),
            },
            REPEATS,
        )
        figures.update(cpu_figures(cpu, images=REPEATS * len(pngs)))
        say("REST, sequential, between two timings of one raw forward")
        before = single_forward_ms(model, pngs[0])
        figures["http_sequential_per_s"], latencies = http_sequential(
            fleet.inference_url, pngs[:REST_REQUESTS]
        )
        figures["single_forward_ms"] = (before + single_forward_ms(model, pngs[0])) / 2
        figures["rest_p50_ms"] = percentile(latencies, 0.5)
        figures["rest_p99_ms"] = percentile(latencies, 0.99)
        say("hot swap under load")
        steady = asyncio.run(under_load(settings, fleet.inference_url, pngs, swap=False))
        swapped = asyncio.run(under_load(settings, fleet.inference_url, pngs, swap=True))
        figures["swap_requests"] = len(swapped.latencies)
        figures["swap_failed_requests"] = swapped.failures + steady.failures
        figures["swap_p99_ratio"] = p99(swapped) / p99(steady)
        say("two replicas")
        with fleet.replica(2):
            asyncio.run(kafka_per_s(settings, pngs[:WARM_UP]))
            figures.median_of("two_replicas_kafka_per_s", kafka, REPEATS)
        say("monitor")
        fleet.daemons["inference"].stop()
        fleet.launch("monitor")
        fleet.wait_ready("monitor")
        monitor = load_settings(MonitorSettings).monitor

        def monitored(n: int = 20_000) -> float:
            return asyncio.run(monitor_per_s(settings.kafka_bootstrap, monitor, n))

        monitored()  # untimed: its first batches and checkpoints after the start
        figures.median_of("monitor_per_s", monitored, REPEATS)
    say("MLflow footprint")
    figures["mlflow_rss_mb_jobs_on"] = mlflow_rss_mb(jobs=True, port=14100)
    figures["mlflow_rss_mb_jobs_off"] = mlflow_rss_mb(jobs=False, port=14101)
    figures.update(ratios(figures))
    return figures


def kafka_cpu(service: int | None, broker: int) -> CpuUse:
    """Where the cores go during the Kafka path: the service's process, its decoding processes,
    the broker, and the bench itself, which sends the images and reads the predictions."""
    if service is None:
        raise RuntimeError("the inference service is not running")
    bench = os.getpid()
    return CpuUse(
        {
            "service": lambda: [service],
            "decoders": lambda: tree(service)[1:],
            "broker": lambda: tree(broker),
            "bench": lambda: [bench],
        }
    )


def cpu_figures(cpu: CpuUse, *, images: int) -> dict[str, float]:
    """CPU microseconds per image of each group, how many cores were busy, and the rate that
    this much CPU per image allows if every core of the machine did nothing else."""
    per_image = {f"kafka_cpu_us_{name}": s / images * 1e6 for name, s in cpu.spent.items()}
    total = sum(per_image.values())
    return {
        **per_image,
        "kafka_cpu_us_total": total,
        "kafka_cores_busy": cpu.cores(),
        "kafka_cpu_bound_per_s": CORES * 1e6 / total,
    }


def ratios(f: dict[str, float]) -> dict[str, float]:
    return {
        "kafka_over_decode_forward": f["kafka_per_s"] / f["decode_forward_per_s"],
        "kafka_over_http_sequential": f["kafka_per_s"] / f["http_sequential_per_s"],
        "rest_p50_overhead_ms": f["rest_p50_ms"] - f["single_forward_ms"],
        "two_replicas_over_one": f["two_replicas_kafka_per_s"] / f["kafka_per_s"],
        "mlflow_rss_ratio_off_over_on": f["mlflow_rss_mb_jobs_off"] / f["mlflow_rss_mb_jobs_on"],
    }


ROWS = [
    ("batched forward only (batch 64)", "forward_per_s", "images/s"),
    ("PNG decode + batched forward", "decode_forward_per_s", "images/s"),
    ("Kafka path, producer not waiting", "kafka_per_s", "images/s"),
    ("  over decode + forward", "kafka_over_decode_forward", "ratio"),
    ("  CPU per image: inference service", "kafka_cpu_us_service", "us"),
    ("  CPU per image: its decoding processes", "kafka_cpu_us_decoders", "us"),
    ("  CPU per image: Kafka broker", "kafka_cpu_us_broker", "us"),
    ("  CPU per image: bench (sends, reads)", "kafka_cpu_us_bench", "us"),
    (f"  cores busy, of {CORES}", "kafka_cores_busy", "cores"),
    (f"  bound by that CPU on {CORES} cores", "kafka_cpu_bound_per_s", "images/s"),
    ("one sequential POST /predict per image", "http_sequential_per_s", "images/s"),
    ("  Kafka path over it", "kafka_over_http_sequential", "ratio"),
    ("REST p50 / p99", "rest_p50_ms", "ms"),
    ("  p50 over one raw forward", "rest_p50_overhead_ms", "ms"),
    ("hot swap under load: failed requests", "swap_failed_requests", "count"),
    ("  p99 with the swap over without", "swap_p99_ratio", "ratio"),
    ("two inference replicas over one", "two_replicas_over_one", "ratio"),
    ("monitor, commits and publishes included", "monitor_per_s", "predictions/s"),
    ("MLflow server RSS, job runner off / on", "mlflow_rss_mb_jobs_off", "MB"),
]


def table(f: Figures) -> str:
    """One row per figure; a median of several runs shows their spread beside it."""
    lines = [f"{'figure':<44} {'value':>12}  {'unit':<14} runs (min-max)", "-" * 88]
    for label, key, unit in ROWS:
        value = f"{f[key]:,.2f}" if f[key] < 100 else f"{f[key]:,.0f}"
        if key == "rest_p50_ms":
            value = f"{f['rest_p50_ms']:.2f} / {f['rest_p99_ms']:.2f}"
        if key == "mlflow_rss_mb_jobs_off":
            value = f"{f[key]:,.0f} / {f['mlflow_rss_mb_jobs_on']:,.0f}"
        runs = f.runs.get(key)
        spread = f"{len(runs)}: {min(runs):,.0f}-{max(runs):,.0f}" if runs else ""
        lines.append(f"{label:<44} {value:>12}  {unit:<14} {spread}".rstrip())
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=3000)
    args = parser.parse_args()
    with running_stack(say=lambda _: None) as settings:
        figures = measure(settings, args.images)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    body = {k: round(v, 3) for k, v in figures.items()}
    runs = {k: [round(v, 3) for v in vs] for k, vs in figures.runs.items()}
    RESULTS.write_text(json.dumps({**body, "runs": runs}, indent=1))
    print(table(figures))
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
