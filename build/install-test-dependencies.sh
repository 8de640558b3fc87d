#!/usr/bin/env bash
# Installs what the test suite needs beyond the .NET SDK and NuGet:
#   libonnx-testdata — ONNX's backend node tests (about 1,000 models with reference data) that the
#                      lossless-pass conformance test runs through ONNX Runtime.
# Safe to run repeatedly; does nothing when everything is present.
set -euo pipefail

testdata=/usr/share/libonnx-testdata/data/node
if [ -d "$testdata" ]; then
  echo "libonnx-testdata: present ($testdata)"
  exit 0
fi

sudo=""
if [ "$(id -u)" != "0" ]; then sudo="sudo"; fi
echo "libonnx-testdata: installing with apt"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libonnx-testdata
