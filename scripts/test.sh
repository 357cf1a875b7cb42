#!/usr/bin/env bash
# The test suite on a fresh machine: virtualenv, PostgreSQL and Redis up, definitions valid, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure_venv.sh
source scripts/ensure_services.sh
.venv/bin/dagster definitions validate -w workspace.yaml
exec .venv/bin/python -m pytest -n "${HUB_TEST_WORKERS:-2}" -q --durations=15 "$@"
