#!/usr/bin/env bash
# Creates .venv with Python 3.11 and installs deepguard with its dev tools.
# On a fresh Debian machine `python3 -m venv` needs the python3-venv package;
# install it when we can (root + apt-get), otherwise say what is missing.
set -euo pipefail
venv=${1:-.venv}
python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      python=$candidate
      break
    fi
  done
fi
if [ -z "$python" ]; then
  echo "error: Python 3.11 not found (tried python3.11, python3); install it or set PYTHON=" >&2
  exit 2
fi
if ! "$python" -m venv "$venv" 2>/dev/null; then
  rm -rf "$venv"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends python3-venv python3.11-venv >/dev/null
    "$python" -m venv "$venv"
  else
    echo "error: '$python -m venv' failed; install the python3-venv package" >&2
    exit 2
  fi
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]'
# The watermark tests and benchmark compare against invisible-watermark's
# reference embedders. Its wheel declares torch only for one optional tensor
# helper we never import, so it is installed without dependencies (its real
# ones, OpenCV, PyWavelets, NumPy and Pillow, are already pinned above).
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps invisible-watermark==0.2.0
# Resemblyzer ships the GE2E voice encoder's weights (pretrained.pt); deepguard
# loads them into its own copy of the network, so the package's librosa and
# source-built webrtcvad requirements are not needed (webrtcvad-wheels and
# torch are pinned above). face_recognition is the benchmark's comparison
# pipeline over the same dlib models.
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps resemblyzer==0.1.4 face_recognition==1.3.0
