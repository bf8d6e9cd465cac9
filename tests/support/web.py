"""The web UI under test: a real uvicorn on a loopback port, hostile reports, and headless Chromium.

Chromium and chromedriver come from Debian's packages (scripts/install-system-deps.sh); Selenium is
pointed at both binaries, so it never downloads a browser or a driver.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from dmarcflow.config import EnrichmentSettings, Limits
from dmarcflow.enrich import Enricher
from dmarcflow.ingest import Ingestor
from dmarcflow.store import Store

from tests.support.analysis_data import feedback, ingest_payloads, rec

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


class LiveServer:
    """uvicorn serving ``app`` on 127.0.0.1 (a free port) in a thread; stopped on exit."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()


# Attacker-controlled text, as it arrives in a report (XML-escaped) and as it must be shown (inert).
SCRIPT = '<script>alert("xss")</script>'
IMG = '"><img src=x onerror=alert(1)>'
SVG = "<svg onload=alert(2)>"


def xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


HOSTILE_DOMAIN = "evil.example/" + SCRIPT.lower()  # the policy domain is lowercased by the parser
HOSTILE_ORG = f"Org {SCRIPT}"
HOSTILE_REPORT_ID = f"id{IMG}"


def hostile_payloads() -> list[bytes]:
    """Reports whose org name, report id, domains, reasons and contact fields hold HTML and script."""
    reason = f"<reason><type>local_policy</type><comment>{xml_text(SVG)}</comment></reason>"
    bad = rec("198.51.100.9", 40, xml_text("x." + SCRIPT), spf=(xml_text(f"spf{IMG}"), "pass"),
              dkim=((xml_text(f"dkim{SVG}"), "pass"),))
    bad = bad.replace("</spf></policy_evaluated>", "</spf>" + reason + "</policy_evaluated>")
    good = rec("192.0.2.7", 60, xml_text(HOSTILE_DOMAIN), dkim=((xml_text(HOSTILE_DOMAIN), "pass"),),
               spf=(xml_text(HOSTILE_DOMAIN), "pass"), evaluated=("pass", "pass"))
    report = feedback([good, bad], domain=xml_text(HOSTILE_DOMAIN), org=xml_text(HOSTILE_ORG),
                      report_id=xml_text(HOSTILE_REPORT_ID))
    report = report.replace(b"<email>", b"<extra_contact_info>" + xml_text(SCRIPT).encode() + b"</extra_contact_info><email>", 1)
    return [report]


def build_hostile_store(db: Path) -> None:
    """The hostile report, a conflicting second version of it (other counts), and a rejected input."""
    first = hostile_payloads()[0]
    second = first.replace(b"<count>40</count>", b"<count>41</count>")
    outcomes = ingest_payloads(db, [first, second], {"198.51.100.9": "mx.attacker.example"})
    assert [o.status for o in outcomes] == ["ingested", "conflict"], [o.as_dict() for o in outcomes]
    with Store.open(db) as store:
        enricher = Enricher(EnrichmentSettings(offline=True))
        try:
            rejected = Ingestor(store, enricher, Limits()).ingest_bytes(f"{SCRIPT}.xml", f"<feedback>{SCRIPT}".encode())
        finally:
            enricher.close()
    assert rejected.status == "rejected"


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(path) is None:
            return f"{path} is not installed (scripts/install-system-deps.sh installs chromium and chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


def start_chromium(width: int = 1280, height: int = 1000) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="dmarcflow-chromium-")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
                f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.dmarcflow_profile = profile
    return driver


def stop_chromium(driver: Any) -> None:
    driver.quit()
    shutil.rmtree(driver.dmarcflow_profile, ignore_errors=True)
