#!/bin/sh
# Live audio in (imfit view --audio-in): sounddevice needs the PortAudio library; its tests
# check the no-device line and so need PortAudio itself (a missing library is another line).
set -e
if ! ldconfig -p 2>/dev/null | grep -q libportaudio.so.2; then
    $SUDO apt-get install -y -qq libportaudio2 >/dev/null 2>&1 || {
        $SUDO apt-get update -qq && $SUDO apt-get install -y -qq libportaudio2 >/dev/null; }
fi
