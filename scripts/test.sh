#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need (PyPI + Debian),
# starts the local LLM server for the judge integration test, then runs ruff, pytest (unit,
# reference-equivalence, property, doctest, training smoke) and the strict docs build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"

echo "== install" >&2
bash .ci/setup_train.sh                      # torch==2.13.0 (CPU, local) first, then TRL stack
# constraints.txt pins every test/dev dependency, so a fresh clone reproduces CI.
"$PY" -m pip install --quiet -c constraints.txt -e ".[dev,server,eval,docs]"
bash .ci/setup_frameworks.sh                 # verl 0.9.1, OpenRLHF 0.11.2 (adapter tests)
# bert-score depends on torch (installed above); --no-deps keeps it from touching the stack.
"$PY" -m pip install --quiet --no-deps bert-score==0.3.13   # the BERTScore backend's tests
# radgraph pins transformers < 5; its F1 code (what test_radgraph compares with) needs none of it.
"$PY" -m pip install --quiet --no-deps radgraph==0.1.18

echo "== Chromium for the docs-site test" >&2
bash .ci/setup_docs_browser.sh               # Debian's chromium (idempotent)

echo "== WordNet for nltk (reference tests)" >&2
eval "$(bash .ci/setup_wordnet.sh)"          # exports NLTK_DATA

echo "== local LLM server for the judge integration test" >&2
eval "$(bash .ci/setup_llm_server.sh)"       # exports HIMED_TEST_LLM_URL
stop_server() { bash .ci/setup_llm_server.sh --stop || true; }
trap stop_server EXIT

echo "== shipped clinical rule table matches its build script" >&2
if [ -d ../shared/data/vocab ]; then
  "$PY" scripts/build_clinical_rules.py --vocab ../shared/data/vocab --check
else
  echo "skipped: ../shared/data/vocab (the sources) is not beside this checkout" >&2
fi

echo "== ruff" >&2
"$PY" -m ruff check .

echo "== pytest" >&2
"$PY" -m pytest -q -rs -p no:warnings "$@"

echo "== docs" >&2
NO_MKDOCS_2_WARNING=1 "$PY" -m mkdocs build --strict --quiet --site-dir /tmp/himed-site
