#!/usr/bin/env bash
# One entry point for a fresh machine: `scripts/dev.sh tui`, `scripts/dev.sh serve` or
# `scripts/dev.sh test`. Each creates .venv (if missing) and installs the project into it first.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  local stamp="$VENV/.installed-$1"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
    if [ "$1" = dev ]; then
      "$VENV/bin/python" -m pip install --quiet -e '.[dev]' >&2
    else
      "$VENV/bin/python" -m pip install --quiet -e . >&2
    fi
    touch "$stamp"
  fi
}

# Install a Debian package when its command is missing and apt-get can be used (root: CI, fresh
# machines); otherwise say what will not work and how to install it.
#   ensure_command COMMAND PACKAGE WHAT-NEEDS-IT
ensure_command() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing $2 (apt-get)" >&2
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1; then
      apt-get update -qq >/dev/null 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1 || true
    fi
  fi
  command -v "$1" >/dev/null 2>&1 ||
    echo "warning: $1 is not installed; $3 (apt-get install $2)" >&2
}

# The store tests run against PostgreSQL too, and the fleet tests start servers on one database:
# the tests start a throw-away cluster with initdb and pg_ctl. Debian keeps those off PATH, in
# /usr/lib/postgresql/<major>/bin, so look there (testing/pg_cluster.py does the same).
ensure_postgres() {
  if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing postgresql (apt-get)" >&2
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null 2>&1; then
      apt-get update -qq >/dev/null 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null 2>&1 || true
    fi
  fi
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1 ||
    echo "warning: PostgreSQL is not installed; the PostgreSQL store and fleet tests will be skipped (apt-get install postgresql)" >&2
}

# The enforced command sandbox needs bubblewrap.
ensure_bwrap() {
  ensure_command bwrap bubblewrap "sandboxed commands will not run"
}

# The tests that drive the reference's own TUI run it in a tmux pane, the dashboard's run its page
# in headless Chromium, and the differential tests run the pinned reference binary (npm, cached in
# the ignored .cache/reference). Without any of them those tests are skipped, each with a message
# saying why; nothing else depends on them.
ensure_test_tools() {
  ensure_command tmux tmux "the tests that drive the reference TUI will be skipped"
  # The dashboard's page is tested in real headless Chromium (Selenium drives chromedriver).
  ensure_command chromium chromium "the dashboard's browser tests will be skipped"
  ensure_command chromedriver chromium-driver "the dashboard's browser tests will be skipped"
  echo "== reference binary"
  if ! "$VENV/bin/python" scripts/reference.py install; then
    echo "warning: the pinned reference binary is not available (see above): the differential and reference tests will be skipped" >&2
  fi
}

# The terminal UI needs a model. Say what to configure when nothing points at one yet.
check_model_provider() {
  local home="${CODEX_HOME:-$HOME/.codex}"
  if [ -n "${OPENAI_API_KEY:-}" ] || grep -qs '^[[:space:]]*model_provider' "$home/config.toml"; then
    return 0
  fi
  cat >&2 <<NOTE
note: no model provider is set up yet. Either
  - export OPENAI_API_KEY=sk-...   (the OpenAI Responses API), or
  - point $home/config.toml at any local OpenAI-compatible server (Ollama, vLLM, llama.cpp, LM Studio):
      model = "qwen2.5-coder"
      model_provider = "local"
      [model_providers.local]
      name = "local"
      base_url = "http://127.0.0.1:11434/v1"
      wire_api = "chat"
NOTE
}

case "${1:-}" in
  tui)
    shift
    setup run
    ensure_bwrap
    check_model_provider
    exec "$VENV/bin/agent-app-server" tui "$@"
    ;;
  serve)
    shift
    setup run
    ensure_bwrap
    exec "$VENV/bin/agent-app-server" "$@"
    ;;
  test)
    shift
    setup dev
    ensure_bwrap
    ensure_postgres
    ensure_test_tools
    echo "== ruff" && "$VENV/bin/ruff" check src tests bench && "$VENV/bin/ruff" format --check src tests bench
    echo "== mypy" && "$VENV/bin/mypy"
    if [ "${CI:-}" = true ]; then
      # asyncio debug mode, in the tests and in the server processes they start: a coroutine
      # never awaited, a loop call from another thread or an unclosed transport fails its test.
      export PYTHONASYNCIODEBUG=1
    fi
    # Branch coverage per module of the package (the server processes the tests start report too).
    echo "== pytest" && exec "$VENV/bin/python" -m pytest --cov=agent_app_server --cov-branch --cov-report=term "$@"
    ;;
  test-models)
    # The real-model tier (tests/models/): builds llama.cpp servers and a small model into .cache/
    # the first time (~1 h on 2 cores), then runs the tier through our server. See scripts/models.py.
    shift
    setup dev
    exec "$VENV/bin/python" scripts/models.py test "$@"
    ;;
  *)
    echo "usage: scripts/dev.sh tui [tui flags] | scripts/dev.sh serve [agent-app-server flags] | scripts/dev.sh test [pytest args]" >&2
    exit 2
    ;;
esac
