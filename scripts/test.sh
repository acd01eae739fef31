#!/usr/bin/env bash
# The test suite, on SQLite and (when a server answers at 127.0.0.1:5432, or ZOO_TEST_POSTGRES_URL is set)
# on PostgreSQL. Extra arguments go to pytest, e.g. scripts/test.sh -k sql.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
if [ -z "${ZOO_TEST_POSTGRES_URL:-}" ]; then
    local_pg=postgresql://postgres@127.0.0.1:5432/test
    if .venv/bin/python -c "import psycopg, sys; psycopg.connect('$local_pg', connect_timeout=3).close()" 2>/dev/null; then
        export ZOO_TEST_POSTGRES_URL=$local_pg
    else
        echo "note: no PostgreSQL at 127.0.0.1:5432; the Postgres variants of the database tests will be skipped" >&2
    fi
fi
# The browser tests (tests/zoo/web) drive the system's Chromium (Playwright comes with the dev extras); install
# it when missing and we may (root with apt-get), otherwise they are skipped with the reason.
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing chromium for the browser tests ..." >&2
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } \
            || echo "note: could not install chromium; the browser tests will be skipped" >&2
    else
        echo "note: no /usr/bin/chromium (apt-get install chromium); the browser tests will be skipped" >&2
    fi
fi
# Two test processes on two cores: keep each to one BLAS/torch thread.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
