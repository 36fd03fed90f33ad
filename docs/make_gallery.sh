#!/usr/bin/env bash
# Rebuilds every picture in docs/gallery.md with the project's own commands.
# Usage: docs/make_gallery.sh [ASTRONAUT_FIT] [CHELSEA_FIT]
# The fits come from:  .venv/bin/imfit fit assets/astronaut.png -o /tmp/gfit
#                      .venv/bin/imfit fit assets/chelsea.png -o /tmp/gfit
set -euo pipefail
cd "$(dirname "$0")/.."
A=${1:-/tmp/gfit/astronaut.gabor.json}
C=${2:-/tmp/gfit/chelsea.gabor.json}
G=docs/img/gallery
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
imfit() { .venv/bin/imfit "$@"; }
mkdir -p "$G"

edit_render() {  # NAME OP...: edit the astronaut fit, render it at 192 px
    local name=$1; shift
    imfit edit "$A" "$@" -o "$T/$name.gabor.json" --force
    imfit render "$T/$name.gabor.json" -o "$G/$name.png" --size 192x192 --force
}

imfit render "$A" -o "$G/original.png" --size 192x192 --force
edit_render streaks    scale:sigma=3,gamma=0.4
edit_render ramp       ramp:param=size,from=0.5,to=3,axis=x
edit_render spin       spin:deg=90
edit_render kaleido    kaleido:n=6
edit_render tile       tile:n=2
edit_render mirror     mirror:side=left
edit_render hue        hue:deg=120
edit_render palette    palette:image=assets/chelsea.png,k=5
edit_render gray       gray
edit_render topk       topk:k=32
edit_render keep       keep:cx=0,cy=-0.3,r=0.55
edit_render jitter     jitter:seed=1,pos=0.06,deg=25
edit_render merge      merge:with="$C",bias=mean gain:x=0.8
edit_render chain      kaleido:n=4 scale:size=1.5 hue:deg=200

imfit sheet "$A" --param sigma --range 0.5,3 --count 6 --log --cell 128 -o "$G/sheet-sigma.png" --force
imfit animate "$A" --frames 32 --fps 12 --drift phase=0.5,theta=0.05 --loop --size 128x128 \
    -o "$G/loop.gif" --force
imfit morph "$A" "$C" --frames 20 --fps 12 --bounce --size 128x128 -o "$G/morph.gif" --force
imfit animate "$A" --timeline docs/timeline-example.json --frames 36 --fps 9 --loop \
    --size 128x128 -o "$G/timeline.gif" --force
ls -l "$G"
