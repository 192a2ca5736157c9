#!/usr/bin/env bash
# Installs culturescope into .venv (the README's first command); an extra if given: bash install.sh '[transformers]'.
#
# The embedded model's engine, llama-cpp-python, has no wheel on PyPI: pip compiles llama.cpp, by
# default with its multimodal library and its "common" library, neither of which culturescope (nor
# llama-cpp-python's text API) loads. Measured on 2 cores: the engine (llama, ggml) 2.1 min, common
# 2.7 min, multimodal 1.2 min. These two settings build the engine alone; an engine already
# installed is kept. Your own CMAKE_ARGS (e.g. -DGGML_CUDA=on) are passed on.
set -euo pipefail
cd "$(dirname "$0")"
echo "installing culturescope into .venv (pip compiles llama.cpp's engine: about 3 minutes on 2 cores)"
python3 -m venv .venv
export CMAKE_ARGS="${CMAKE_ARGS:-} -DLLAVA_BUILD=OFF -DCMAKE_PROJECT_llama.cpp_INCLUDE=$PWD/install/llama-cpp-lean.cmake"
.venv/bin/pip install -q -e ".${1:-}"
