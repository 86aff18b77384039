#!/usr/bin/env bash
# The whole test suite from a fresh checkout: install what the tests need, lint, then run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian's chromium for the browser tests, and a small CJK font so Chinese pages render in screenshots.
if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/truetype/wqy ]; then
  if [ "$(id -u)" = "0" ]; then
    (apt-get update && apt-get install -y chromium fonts-wqy-microhei) >/tmp/portal-apt.log 2>&1 \
      || { tail -20 /tmp/portal-apt.log; exit 1; }
  else
    echo "browser tests need Debian's chromium: sudo apt-get install -y chromium fonts-wqy-microhei" >&2
  fi
fi
python -m pip install --quiet --disable-pip-version-check -e ".[test]"
python -m ruff check portal tests bench
exec python -m pytest -q -p no:cacheprovider "$@"
