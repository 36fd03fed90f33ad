#!/bin/sh
# The live-control tests drive the real viewer window under Xvfb and mux audio with ffmpeg
# (imageio-ffmpeg's own binary, a pip dependency); python-osc & co. come with the `dev` extra.
set -e
command -v Xvfb >/dev/null 2>&1 || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq xvfb >/dev/null; }
