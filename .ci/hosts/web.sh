#!/usr/bin/env bash
# Real hosts for tests/test_hosts_browser.py: Debian's headless Chromium + chromedriver (the web
# page and the Shadertoy image pass, software WebGL through SwiftShader), node + npm, and the
# npm packages in tests/hosts/ (the ISF reference renderer `interactive-shader-format` and
# esbuild, which bundles it for the page). selenium comes with the dev extra (pyproject.toml).
# Idempotent: installs only what is missing; `npm ci` runs only when the lock file changed.
set -euo pipefail
cd "$(dirname "$0")/../.."
SUDO="${SUDO-}"
export DEBIAN_FRONTEND=noninteractive
need=()
for pkg in chromium chromium-driver; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# by command: a nodejs that bundles npm (NodeSource's) conflicts with Debian's npm package
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
stamp=tests/hosts/node_modules/.imfit-lock
if ! cmp -s tests/hosts/package-lock.json "$stamp"; then
  (cd tests/hosts && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
  cp tests/hosts/package-lock.json "$stamp"
fi
