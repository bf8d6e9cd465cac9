"""The daemon's Prometheus metrics, through prometheus_client.

`/metrics` serves ``REGISTRY``, prometheus_client's default registry: it already carries the process
metrics (``process_*``) and the Python ones (``python_info``, ``python_gc_*``). The daemon registers one
``DaemonCollector`` on it, which reads its figures when scraped: the mailbox counters kept by
``HealthState``, ``dmarcflow_build_info`` and the DMARC figures of the store (``dmarcflow.store.figures``).

Other modules add their own metrics the prometheus_client way, once, at import time::

    from prometheus_client import Counter
    from dmarcflow.metrics import REGISTRY
    ALERTS_SENT = Counter("dmarcflow_alerts_sent", "Alerts delivered", ["channel"], registry=REGISTRY)
    ALERTS_SENT.labels("smtp").inc()

and they appear on /metrics with no other change (names start with ``dmarcflow_``; counters get ``_total``).
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from dmarcflow import __version__
from dmarcflow.config import Settings
from dmarcflow.errors import StoreError
from dmarcflow.health import COUNTERS, HealthState
from dmarcflow.store.figures import StoreFigures, read_figures

__all__ = ["REGISTRY", "DaemonCollector", "index_targets", "registered", "render"]

log = logging.getLogger(__name__)

DAY = 86400


def render(registry: CollectorRegistry = REGISTRY) -> bytes:
    return generate_latest(registry)


@contextmanager
def registered(collector: Collector, registry: CollectorRegistry = REGISTRY) -> Iterator[None]:
    """The collector's figures are on /metrics while the block runs (then gone, so a reload can't double them)."""
    registry.register(collector)
    try:
        yield
    finally:
        registry.unregister(collector)


def index_targets(settings: Settings) -> list[str]:
    """The outbox target of the configured search index (none when indexing is off)."""
    if not settings.elasticsearch.url:
        return []
    from dmarcflow.index.outbox import target_name

    return [target_name(settings.elasticsearch.url, settings.elasticsearch.index_prefix)]


class DaemonCollector(Collector):
    """Everything the daemon knows, computed at scrape time (nothing to keep in step between scrapes).

    targets: the index targets configured now (the settings may be reloaded), for the outbox backlog.
    clock: wall-clock seconds; "the last day" is the UTC day before the current one.
    """

    def __init__(self, state: HealthState, store_path: Path, targets: Callable[[], Sequence[str]] = tuple,
                 clock: Callable[[], float] = time.time) -> None:
        self._state = state
        self._store_path = store_path
        self._targets = targets
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        yield _build_info()
        yield from self._mailbox_metrics()
        yield from self._store_metrics()

    def _mailbox_metrics(self) -> Iterator[Metric]:
        boxes = self._state.snapshot()
        for key, text in COUNTERS.items():
            family = CounterMetricFamily(f"dmarcflow_{key}", f"{text}.", labels=["mailbox"])
            for name, box in boxes.items():
                family.add_metric([name], box.counters[key])
            yield family
        last = GaugeMetricFamily("dmarcflow_last_poll_timestamp_seconds",
                                 "Unix time of the mailbox's last successful pass.", labels=["mailbox"])
        for name, box in boxes.items():
            if box.last_poll is not None:
                last.add_metric([name], box.last_poll)
        yield last

    def _store_metrics(self) -> Iterator[Metric]:
        day = int(self._clock()) // DAY - 1
        up = GaugeMetricFamily("dmarcflow_store_up", "1 when the store's figures could be read at this scrape.")
        try:
            figures = read_figures(self._store_path, day, self._targets())
        except StoreError as exc:
            log.warning("metrics: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from store_families(figures)


def store_families(figures: StoreFigures) -> Iterator[Metric]:
    reports = GaugeMetricFamily("dmarcflow_store_reports", "Reports in the store, by status.", labels=["status"])
    for status in ("active", "conflict"):
        reports.add_metric([status], figures.reports.get(status, 0))
    yield reports
    yield GaugeMetricFamily("dmarcflow_store_records", "Records of the reports in the store.", value=figures.records)
    rejected = GaugeMetricFamily("dmarcflow_store_rejected_inputs", "Rejected inputs kept in the store, by reason.",
                                 labels=["reason"])
    for reason, count in sorted(figures.rejected.items()):
        rejected.add_metric([reason], count)
    yield rejected
    day = GaugeMetricFamily("dmarcflow_last_day_messages",
                            "Messages by class per policy domain in reports for the previous UTC day.",
                            labels=["domain", "class"])
    for domain, classes in figures.day_messages.items():
        for klass, messages in classes.items():
            day.add_metric([domain, klass], messages)
    yield day
    latest = GaugeMetricFamily("dmarcflow_latest_report_end_timestamp_seconds",
                               "End of the newest report interval per policy domain (Unix time).", labels=["domain"])
    for domain, end in sorted(figures.latest_report_end.items()):
        latest.add_metric([domain], end)
    yield latest
    pending = GaugeMetricFamily("dmarcflow_index_backlog_records",
                                "Stored records the search index has not acknowledged yet.", labels=["target"])
    parked = GaugeMetricFamily("dmarcflow_index_parked_records",
                               "Records the search index refused, parked and retried each pass.", labels=["target"])
    for backlog in figures.backlog:
        pending.add_metric([backlog.target], backlog.pending)
        parked.add_metric([backlog.target], backlog.parked)
    yield pending
    yield parked


def _build_info() -> Metric:
    info = InfoMetricFamily("dmarcflow_build", "The running dmarcflow.")
    info.add_metric([], {"version": __version__, "python": platform.python_version()})
    return info
