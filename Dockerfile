# Workers and the tile server: the same install as `make` and CI (scripts/install.sh), non-root.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTHON=python3.11
RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 sensing

WORKDIR /app
COPY --chown=sensing:sensing . /app
USER sensing
RUN bash scripts/install.sh /app/.venv
ENV PATH=/app/.venv/bin:$PATH SENSING_DATA_DIR=/data

VOLUME ["/data"]
EXPOSE 8000
# Default: the tile server. For a flow run: docker run IMAGE sensing run nightly --config ...
CMD ["sensing", "serve", "--host", "0.0.0.0", "--port", "8000"]
