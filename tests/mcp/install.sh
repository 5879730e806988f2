#!/usr/bin/env bash
# Installs the real MCP clients that tests/tests/mcp.rs drives, into DIR
# (the tests pass target/mcp-clients): the official Python SDK (PyPI `mcp`)
# in a venv, and the MCP Inspector (npm). Idempotent: a second run finds
# both and installs nothing. Needs python3 (with venv) and npm.
set -euo pipefail
dir="${1:?usage: install.sh DIR}"
mkdir -p "$dir"
if ! "$dir/venv/bin/python" -c "import mcp" 2>/dev/null; then
  python3 -m venv "$dir/venv"
  "$dir/venv/bin/pip" install --quiet --disable-pip-version-check mcp
fi
if [ ! -x "$dir/npm/node_modules/.bin/mcp-inspector" ]; then
  npm install --silent --no-audit --no-fund --prefix "$dir/npm" @modelcontextprotocol/inspector
fi
