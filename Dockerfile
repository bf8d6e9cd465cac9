# The dmarcflow image used by docker-compose.yml: the daemon and the one-shot setup steps.
FROM python:3.11.11-slim-bookworm
WORKDIR /src
COPY pyproject.toml README.md ./
COPY dmarcflow ./dmarcflow
# orjson is optional; it makes bulk indexing faster. Data files ship inside the package (dmarcflow/resources).
RUN pip install --no-cache-dir . "orjson==3.10.15" \
    && groupadd --system --gid 10001 dmarcflow \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/dmarcflow --shell /usr/sbin/nologin dmarcflow \
    && mkdir -p /var/lib/dmarcflow && chown 10001:10001 /var/lib/dmarcflow
# Numeric, so that the host can resolve it (volumes are owned by uid 10001).
USER 10001:10001
EXPOSE 9108
# For `dmarcflow watch --http 0.0.0.0:9108`: healthy while /healthz answers 200 (urlopen raises on a 503).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=8).status != 200)"]
ENTRYPOINT ["dmarcflow"]
CMD ["--help"]
