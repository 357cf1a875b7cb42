#!/usr/bin/env bash
# The main job on a fresh machine: virtualenv, install, migrate, simulators, Dagster UI.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure_venv.sh
exec .venv/bin/hub demo "$@"
