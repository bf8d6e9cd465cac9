"""`dmarcflow watch`: one worker thread per mailbox, each a loop of connect -> pass -> wait for mail.

Waiting is IDLE where the server offers it (re-issued every min(idle_timeout, poll_interval), with a pass
in between as a safety net for missed notifications), else a sleep of poll_interval. Any failure ends the
session; the worker reconnects after an exponential backoff with jitter, forever, logging each attempt.
Only a refused login before the first successful one is fatal: that is a configuration mistake, and a
daemon that retried it forever would hide it.

Signals (main thread only): SIGTERM/SIGINT finish the message in hand, file what was committed, log out
and exit 0; SIGHUP reloads the configuration (a broken new file is logged and the old one kept).
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import FrameType
from typing import Any

from dmarcflow.config import MailboxSettings, Settings
from dmarcflow.enrich import Enricher, open_ip_db
from dmarcflow.errors import ConfigError, MailboxError, StoreError
from dmarcflow.fetch import run_pass
from dmarcflow.health import HealthState
from dmarcflow.ingest import Ingestor
from dmarcflow.mailbox import Mailbox, MailboxAuthError, check_settings
from dmarcflow.pass_lock import lock_path, pass_lock
from dmarcflow.store import DatabaseError, Store
from dmarcflow.systemd_notify import Notifier

# What signal.signal() takes and returns.
SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None

log = logging.getLogger(__name__)

WAKE_INTERVAL = 1.0  # the supervisor checks its workers at least this often
JOIN_TIMEOUT = 120.0  # a worker finishing a very large message may need a while

TICK_INTERVAL = 30.0  # seconds between two runs of the tick hooks (schedules, retries)

AfterPass = Callable[[], None]
HookFactory = Callable[[Settings], "AfterPass | None"]
TickFactory = Callable[[Settings], "list[AfterPass]"]


def registered_hooks(group: str = "dmarcflow.after_pass") -> tuple[Callable[[Settings], Any], ...]:
    """The hook factories that features register as entry points of ``group`` (see pyproject.toml), by name.

    Each feature's module must stay cheap to import: it loads its heavy clients only in the
    factory, and only when the feature is configured.
    """
    return tuple(point.load() for point in sorted(entry_points(group=group), key=lambda p: p.name))


# Features that run after every pass (``dmarcflow.after_pass``: the index sync, the alert rules). Each
# factory is called with the settings at start and after each reload and returns a callable, or None when
# the feature is not configured. Hooks run in a worker thread, one at a time.
HOOK_FACTORIES: tuple[HookFactory, ...] = registered_hooks()
# Features that run every TICK_INTERVAL seconds (and once at start), whether mail arrives or not, one at a
# time with the after-pass hooks (``dmarcflow.tick``: alert delivery retries, the digest schedule).
TICK_FACTORIES: tuple[TickFactory, ...] = registered_hooks("dmarcflow.tick")


@dataclass
class Backoff:
    """Exponential backoff with "equal jitter": half the delay is fixed, half random, so delays never
    collapse to zero and several daemons that failed together do not retry in lockstep."""

    minimum: float
    maximum: float
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.minimum * 2.0 ** min(self.attempt, 30))
        self.attempt += 1
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.attempt = 0


class Hooks:
    """The after-pass and tick callables, run one at a time whichever thread calls them."""

    def __init__(self, hooks: list[AfterPass], ticks: list[AfterPass] | None = None) -> None:
        self.after_pass = hooks
        self.ticks = list(ticks or [])
        self._lock = threading.Lock()

    def run(self) -> None:
        self._run(self.after_pass, "after-pass")

    def tick(self) -> None:
        self._run(self.ticks, "tick")

    def _run(self, hooks: list[AfterPass], what: str) -> None:
        with self._lock:
            for hook in hooks:
                try:
                    hook()
                except Exception:
                    log.exception("%s hook %r failed", what, hook)


class Ticker(threading.Thread):
    """Runs the tick hooks at start and then every TICK_INTERVAL seconds until stopped."""

    def __init__(self, hooks: Hooks, stop: threading.Event, interval: float = TICK_INTERVAL) -> None:
        super().__init__(name="ticker", daemon=True)
        self.hooks, self.stop, self.interval = hooks, stop, interval
        self.fatal = ""  # a Ticker never gives up; the attribute lets the supervisor treat it like a worker

    def run(self) -> None:
        while not self.stop.is_set():
            self.hooks.tick()
            self.stop.wait(self.interval)


class MailboxWorker(threading.Thread):
    def __init__(self, box: MailboxSettings, settings: Settings, state: HealthState, hooks: Hooks,
                 stop: threading.Event) -> None:
        super().__init__(name=f"mailbox-{box.name}", daemon=True)
        self.box = box
        self.settings = settings
        self.state = state
        self.hooks = hooks
        self.stop = stop
        self.fatal = ""  # set when the worker gave up for good
        self._logged_in_once = False

    def run(self) -> None:
        try:
            store = Store.open(self.settings.store.resolved_path())
        except StoreError as exc:
            self._give_up(f"mailbox {self.box.name!r}: {exc}")
            return
        enricher = Enricher(self.settings.enrichment)
        try:
            ingestor = Ingestor(store, enricher, self.settings.limits,
                                keep_failure_samples=self.settings.failure_reports.keep_samples)
            try:
                ingestor.complete_enrichment()  # what an interrupted run left without its IP facts
            except StoreError as exc:
                log.warning("mailbox %s: IP facts left by an earlier run not filled in yet: %s", self.box.name, exc)
            self._loop(ingestor)
        finally:
            enricher.close()
            store.close()

    def _give_up(self, why: str) -> None:
        self.fatal = why
        log.error("giving up: %s", why)
        self.stop.set()

    def _loop(self, ingestor: Ingestor) -> None:
        backoff = Backoff(self.box.reconnect_min, self.box.reconnect_max)
        while not self.stop.is_set():
            if self._session(ingestor, backoff) == "fatal" or self.stop.is_set():
                return
            delay = backoff.next_delay()
            self.state.reconnecting(self.box.name)
            log.warning("mailbox %s: reconnecting to %s:%d in %.1f s (attempt %d)", self.box.name,
                        self.box.host, self.box.effective_port(), delay, backoff.attempt)
            self.stop.wait(delay)

    def _session(self, ingestor: Ingestor, backoff: Backoff) -> str:
        """One connection, until it fails or a stop is requested."""
        try:
            with Mailbox.connect(self.box) as mailbox:
                self._logged_in_once = True
                backoff.reset()
                log.info("mailbox %s: connected to %s:%d (%s)", self.box.name, self.box.host,
                         self.box.effective_port(), "IDLE" if mailbox.can_idle else f"polling every {self.box.poll_interval:g} s")
                self._serve(mailbox, ingestor)
            return "stopped"
        except (MailboxAuthError, ConfigError) as exc:
            # Refused credentials or an unreadable CA/password/token file: fatal before the first login
            # (a mistake to fix), retried after it (a token file being rotated, an auth backend restarting).
            if not self._logged_in_once:
                self._give_up(str(exc))
                return "fatal"
            self._failed(str(exc))
        except MailboxError as exc:
            self._failed(str(exc))
        except (StoreError, DatabaseError) as exc:
            self._failed(f"mailbox {self.box.name!r}: store: {exc}", store=True)
        except Exception as exc:
            log.exception("mailbox %s: unexpected error", self.box.name)
            self._failed(f"mailbox {self.box.name!r}: unexpected {type(exc).__name__}: {exc}")
        return "failed"

    def _failed(self, why: str, store: bool = False) -> None:
        """Why names the mailbox already (every MailboxError does)."""
        log.error("%s", why)
        self.state.failed(self.box.name, why, store=store)

    def _serve(self, mailbox: Mailbox, ingestor: Ingestor) -> None:
        lock = lock_path(self.settings.store.resolved_path(), self.box)
        while not self.stop.is_set():
            with pass_lock(lock, wait=False) as ours:
                # jobs=1: mail is filed as it arrives, a pool's start would cost more than it saves
                result = run_pass(mailbox, ingestor, self.stop.is_set, self.state.filed, jobs=1) if ours else None
            if result is None:
                log.debug("mailbox %s: another process is filing this mailbox; waiting for its pass", self.box.name)
                self._wait_for_mail(mailbox)
                continue
            self.state.polled(self.box.name)
            self.hooks.run()
            if result.stopped:
                return
            if result.filed:
                continue  # mail that arrived during the pass was announced before any IDLE began
            self._wait_for_mail(mailbox)

    def _wait_for_mail(self, mailbox: Mailbox) -> None:
        period = min(self.box.idle_timeout, self.box.poll_interval)
        if not mailbox.can_idle:
            self.stop.wait(self.box.poll_interval)
            return
        deadline = time.monotonic() + period
        mailbox.idle_start()
        try:
            while not self.stop.is_set() and time.monotonic() < deadline:
                if mailbox.idle_poll():
                    break
        finally:
            mailbox.idle_stop()


class Daemon:
    """Supervises one worker per mailbox; reloads on SIGHUP; stops on SIGTERM/SIGINT."""

    def __init__(self, load: Callable[[], Settings], state: HealthState, after_pass: list[AfterPass] | None = None,
                 notifier: Notifier | None = None) -> None:
        self._load = load
        self.state = state
        self.extra_hooks = list(after_pass or [])
        self.notifier = notifier or Notifier()  # systemd: READY, WATCHDOG, STATUS, RELOADING, STOPPING
        self._next_watchdog = 0.0
        self._wake = threading.Event()
        self._exit_signal: str | None = None
        self._reload = False

    def run(self) -> int:
        """Run until a stop signal (0) or a fatal worker error (1)."""
        settings = load_checked(self._load)
        previous = self._install_signals()
        try:
            return self._supervise(settings)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _supervise(self, settings: Settings) -> int:
        while True:
            stop = threading.Event()
            workers = self._start(settings, stop)
            self.notifier.ready(self._status(workers, problems=False))  # the workers create the store just now
            self._wait(workers, stop)
            self._notify_leaving(workers)
            stop.set()
            self._join(workers)
            if any(w.fatal for w in workers):
                return 1
            if self._exit_signal is not None:
                log.info("dmarcflow watch: stopped (%s)", self._exit_signal)
                return 0
            settings = self._reloaded(settings)

    def _start(self, settings: Settings, stop: threading.Event) -> list[MailboxWorker | Ticker]:
        hooks = Hooks(self.extra_hooks + [h for f in HOOK_FACTORIES if (h := f(settings)) is not None],
                      [h for f in TICK_FACTORIES for h in f(settings)])
        longest = max(box.poll_interval for box in settings.mailboxes)
        self.state.watch([box.name for box in settings.mailboxes], longest)
        workers: list[MailboxWorker | Ticker] = [MailboxWorker(box, settings, self.state, hooks, stop)
                                                 for box in settings.mailboxes]
        if hooks.ticks:
            workers.append(Ticker(hooks, stop))
        for worker in workers:
            worker.start()
        log.info("dmarcflow watch: watching %d mailbox(es): %s", len(settings.mailboxes),
                 ", ".join(box.name for box in settings.mailboxes))
        return workers

    def _wait(self, workers: list[MailboxWorker | Ticker], stop: threading.Event) -> None:
        while self._exit_signal is None and not self._reload and not stop.is_set():
            self._wake.wait(min(WAKE_INTERVAL, self.notifier.watchdog_interval or WAKE_INTERVAL))
            self._wake.clear()
            self._keepalive(workers)

    def _notify_leaving(self, workers: list[MailboxWorker | Ticker]) -> None:
        """Sent here, not in the signal handlers, which may interrupt a send holding the notifier's lock."""
        fatal = next((w.fatal for w in workers if w.fatal), "")
        if self._exit_signal is not None:
            self.notifier.stopping(f"stopping ({self._exit_signal}): finishing the message in hand")
        elif fatal:
            self.notifier.stopping(f"giving up: {fatal}")
        elif self._reload:
            self.notifier.reloading()

    def _join(self, workers: list[MailboxWorker | Ticker]) -> None:
        """Wait for the workers (a very large message may take a while), still feeding the watchdog."""
        deadline = time.monotonic() + JOIN_TIMEOUT
        for worker in workers:
            while worker.is_alive() and time.monotonic() < deadline:
                worker.join(min(WAKE_INTERVAL, self.notifier.watchdog_interval or WAKE_INTERVAL))
                self._keepalive(workers, require_alive=False)

    def _keepalive(self, workers: list[MailboxWorker | Ticker], require_alive: bool = True) -> None:
        """WATCHDOG=1 every half WATCHDOG_USEC while every worker thread lives (a dead one gets us restarted)."""
        interval = self.notifier.watchdog_interval
        if interval is None or time.monotonic() < self._next_watchdog:
            return
        if require_alive and not all(w.is_alive() for w in workers):
            return
        self._next_watchdog = time.monotonic() + interval
        self.notifier.send(WATCHDOG="1", STATUS=self._status(workers))

    def _status(self, workers: list[MailboxWorker | Ticker], problems: bool = True) -> str:
        found = self.state.problems() if problems else []
        boxes = [w.box.name for w in workers if isinstance(w, MailboxWorker)]
        return f"watching {len(boxes)} mailbox(es): {', '.join(boxes)}" + (f"; {found[0]}" if found else "")

    def _reloaded(self, current: Settings) -> Settings:
        self._reload = False
        try:
            settings = load_checked(self._load)
        except ConfigError as exc:
            log.error("reload failed, keeping the previous configuration: %s", exc)
            return current
        log.info("configuration reloaded from %s", settings.source or "the environment")
        return settings

    def _install_signals(self) -> dict[int, SignalHandler]:
        previous: dict[int, SignalHandler] = {}
        handlers = ((signal.SIGTERM, self._on_stop), (signal.SIGINT, self._on_stop), (signal.SIGHUP, self._on_reload))
        for signum, handler in handlers:
            previous[signum] = signal.signal(signum, handler)
        return previous

    def _on_stop(self, signum: int, frame: object) -> None:
        self._exit_signal = signal.Signals(signum).name
        log.info("dmarcflow watch: %s received, finishing the message in hand", self._exit_signal)
        self._wake.set()

    def _on_reload(self, signum: int, frame: object) -> None:
        log.info("dmarcflow watch: SIGHUP received, reloading the configuration")
        self._reload = True
        self._wake.set()


def load_checked(load: Callable[[], Settings]) -> Settings:
    settings = load()
    if not settings.mailboxes:
        raise ConfigError("no mailbox configured: add a [[mailboxes]] table or set DMARCFLOW_MAILBOX_HOST")
    for box in settings.mailboxes:
        check_settings(box)
    from dmarcflow.notify.hooks import check_settings as check_notify

    check_notify(settings)  # [alerts] channels and the [digest] schedule, before anything starts
    open_ip_db(settings.enrichment).close()  # a missing ip_db stops the start, not each worker thread
    return settings
