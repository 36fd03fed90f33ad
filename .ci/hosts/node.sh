#!/usr/bin/env bash
# node: syntax-checks and runs the web export's page script (tests/test_export_shaders.py);
# under CI=true those tests fail when node is missing, so install it here (Debian's nodejs).
set -euo pipefail
command -v node >/dev/null 2>&1 && exit 0
${SUDO:-} apt-get update -qq
${SUDO:-} apt-get install -y -qq --no-install-recommends nodejs >/dev/null
command -v node >/dev/null 2>&1 || { echo "node.sh: nodejs installed but no 'node' on PATH" >&2; exit 1; }
