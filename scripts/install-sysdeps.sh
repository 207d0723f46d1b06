#!/usr/bin/env bash
# Installs the Debian packages deepguard uses outside Python:
#   fonts-wqy-microhei  CJK font for rendering explicit labels (人工智能生成)
#   libgl1, libglib2.0-0  shared libraries OpenCV (RapidOCR) loads
#   espeak-ng           optional spoken notice in audio labels
#   exiftool, ffmpeg    independent readers that tests and benchmarks compare against
#   chromium            renders the HTML report for the screenshot test
set -euo pipefail
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
command -v exiftool >/dev/null 2>&1 || need+=(libimage-exiftool-perl)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
if command -v dpkg-query >/dev/null 2>&1; then
  have_pkg fonts-wqy-microhei || need+=(fonts-wqy-microhei)
  have_pkg libgl1 || need+=(libgl1)
  have_pkg libglib2.0-0 || need+=(libglib2.0-0)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: not installing ${need[*]} (needs root and apt-get); features and tests that use them report or skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
