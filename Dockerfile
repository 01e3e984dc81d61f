# Workers, the scheduler, the tile server and one-off runs: the locked environment (scripts/install.sh,
# as `make` and CI), run as a non-root user. Entrypoints (docker run IMAGE <entrypoint> ...):
#   serve     the tile server on :8000 (default)
#   schedule  `sensing schedule`: a Prefect server (SQLite in /data) serving the deployments on :4200
#   worker    a Prefect worker of a work pool: worker --pool NAME [--type process|kubernetes]
#   run       any sensing command once, e.g. run reprocess --aoi ... --start ... --end ...
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTHON=python3.11
RUN apt-get update \
    && apt-get install -y --no-install-recommends make tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 sensing \
    && mkdir -p /data && chown sensing:sensing /data

WORKDIR /app
COPY --chown=sensing:sensing . /app
USER sensing
RUN bash scripts/install.sh /app/.venv

# GDAL, hardened: no directory listings of remote folders, only raster extensions over HTTP, no
# Python or derived datasets inside VRTs, TLS verified, finite timeouts; no anonymous telemetry.
ENV PATH=/app/.venv/bin:$PATH \
    SENSING_DATA_DIR=/data \
    PREFECT_HOME=/data/prefect \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    DO_NOT_TRACK=1 \
    GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR \
    CPL_VSIL_CURL_ALLOWED_EXTENSIONS=.tif,.tiff,.TIF,.TIFF,.jp2,.JP2 \
    GDAL_VRT_ENABLE_PYTHON=NO \
    GDAL_VRT_ENABLE_RAWRASTERBAND=NO \
    GDAL_HTTP_UNSAFESSL=NO \
    GDAL_HTTP_TIMEOUT=60 \
    GDAL_HTTP_CONNECTTIMEOUT=10 \
    GDAL_HTTP_MAX_RETRY=3 \
    GDAL_HTTP_RETRY_DELAY=1

VOLUME ["/data"]
EXPOSE 8000 4200
ENTRYPOINT ["tini", "--", "bash", "/app/scripts/entrypoint.sh"]
CMD ["serve"]
