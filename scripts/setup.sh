#!/usr/bin/env bash
# Installs the Debian packages DoLL Workbench builds against, if any are missing.
# Idempotent and quiet when everything is already there.
set -euo pipefail
pkgs=(liblua5.4-dev libopenblas-dev libpng-dev libreadline-dev libjpeg62-turbo-dev libdnnl-dev libopenmpi-dev openmpi-bin)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "setup: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
