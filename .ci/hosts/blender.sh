#!/usr/bin/env bash
# Blender's bpy wheel (bpy 5.0.1 for Python 3.11, ~374 MB download, ~1 GB on disk) in its own
# venv, .venv-blender: the bpy wheel pins Python 3.11 and numpy < 2, which the main .venv does
# not. Idempotent: a stamp file records a complete install; a half-made venv is rebuilt.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.venv-blender
STAMP="$VENV/.installed-bpy-5.0.1"
[ -e "$STAMP" ] && exit 0
PY311="${PYTHON311:-python3.11}"
if ! command -v "$PY311" >/dev/null 2>&1; then
  # Debian 12 ships python3.11 as its python3; the venv module is a separate package there.
  ${SUDO:-} apt-get update -qq
  ${SUDO:-} apt-get install -y -qq --no-install-recommends python3.11 python3.11-venv
fi
# bpy imports libX11/libXi/libXxf86vm/libXfixes/libXrender/libGL/libSM even headless.
need=()
for pkg in libx11-6 libxi6 libxxf86vm1 libxfixes3 libxrender1 libxkbcommon0 libsm6 libgl1 \
           libegl1; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  ${SUDO:-} apt-get update -qq
  ${SUDO:-} apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
rm -rf "$VENV"
"$PY311" -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check bpy==5.0.1 'numpy<2'
"$VENV/bin/python" -c "import bpy; print('bpy', bpy.app.version_string)" >/dev/null
touch "$STAMP"
