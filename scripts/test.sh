#!/usr/bin/env bash
# The whole test suite from a fresh checkout: install what the tests need, lint, then run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian's chromium for the browser tests, a small CJK font so Chinese pages render in screenshots, and
# poppler-utils (pdftoppm) for the test that renders the board pack PDF (the product itself needs none).
if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/truetype/wqy ] || ! command -v pdftoppm >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    (apt-get update && apt-get install -y chromium fonts-wqy-microhei poppler-utils) >/tmp/portal-apt.log 2>&1 \
      || { tail -20 /tmp/portal-apt.log; exit 1; }
  else
    echo "browser tests need Debian's chromium: sudo apt-get install -y chromium fonts-wqy-microhei poppler-utils" >&2
  fi
fi
# Java for the Spark parity test (it skips with a reason when Java is missing and apt is not available).
if ! command -v java >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  (apt-get update && apt-get install -y openjdk-17-jre-headless) >>/tmp/portal-apt.log 2>&1 \
    || echo "could not install Java: the Spark parity test will be skipped" >&2
fi
python -m pip install --quiet --disable-pip-version-check -e ".[test]"
python -m ruff check portal tests bench
# Three workers on two cores (PORTAL_TEST_WORKERS): the browser and server tests wait as much as they compute,
# so a third worker fills those waits. Each test file runs on one worker, so its module fixtures are built once;
# the 15 slowest tests are listed at the end.
exec python -m pytest -q -p no:cacheprovider -n "${PORTAL_TEST_WORKERS:-3}" --dist loadfile --durations=15 "$@"
