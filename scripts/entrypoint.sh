#!/usr/bin/env bash
# The image's entrypoints (see Dockerfile): serve | schedule | worker | run COMMAND...
set -euo pipefail
config="${SENSING_CONFIG:-/app/configs/demo.yaml}"
role="${1:-serve}"
shift || true
case "$role" in
  serve) exec sensing serve --config "$config" --host 0.0.0.0 --port 8000 "$@" ;;
  schedule) exec sensing schedule --config "$config" --host 0.0.0.0 --port 4200 "$@" ;;
  worker) exec prefect worker start "$@" ;;
  run) exec sensing "$@" ;;
  *) echo "unknown entrypoint '$role': serve, schedule, worker or run COMMAND..." >&2; exit 2 ;;
esac
