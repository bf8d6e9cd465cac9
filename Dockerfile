# The dmarcflow image used by docker-compose.yml (daemon and one-shot setup).
FROM python:3.11.11-slim-bookworm
WORKDIR /src
COPY pyproject.toml README.md ./
COPY dmarcflow ./dmarcflow
# orjson is optional; it makes bulk indexing faster.
RUN pip install --no-cache-dir . "orjson>=3.9" \
    && useradd --system --uid 10001 --home-dir /var/lib/dmarcflow dmarcflow \
    && mkdir -p /var/lib/dmarcflow && chown dmarcflow /var/lib/dmarcflow
USER dmarcflow
ENTRYPOINT ["dmarcflow"]
CMD ["--help"]
