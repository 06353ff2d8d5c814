#!/usr/bin/env bash
# Install everything and run the whole suite: lint, types, then the tests on every
# database (SQLite, PostgreSQL, MariaDB), with Redis on and off.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev || exit 1
# The sandbox tests need bubblewrap; without it they fail loudly rather than skip.
bash scripts/system-deps.sh || exit 1

failed=0
echo "== ruff"; .venv/bin/ruff check . || failed=1
echo "== mypy"; .venv/bin/mypy tiangong || failed=1

rm -rf .test-results && mkdir -p .test-results
# Each combination is a separate pytest run against its own fresh database. Suites that touch
# no database or cache (runtime engines, SSRF client, sandbox, tools) run in the first only.
standalone="--ignore=tests/runtime --ignore=tests/net --ignore=tests/sandbox --ignore=tests/tools --ignore=tests/rag --ignore=tests/workflow"
first=1
for combo in ${TIANGONG_TEST_MATRIX:-sqlite:0 sqlite:1 postgres:0 postgres:1 mysql:0 mysql:1}; do
  db=${combo%%:*}; redis=${combo##*:}
  skip=""; [ $first -eq 1 ] || skip=$standalone
  first=0
  echo "== pytest: database=$db redis=$redis"
  # shellcheck disable=SC2086
  TIANGONG_TEST_DB=$db TIANGONG_TEST_REDIS=$redis .venv/bin/python -m pytest -q -p no:cacheprovider \
    --junitxml=".test-results/$db-redis$redis.xml" $skip "$@" || failed=1
done

.venv/bin/python scripts/summarize_tests.py .test-results/*.xml || failed=1
[ $failed -eq 0 ] && echo "== all checks passed" || echo "== SOME CHECKS FAILED"
exit $failed
