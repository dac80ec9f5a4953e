#!/usr/bin/env bash
# The main job on the embedded defaults, in one command: an embedded redis-server, the workers, the
# monitoring scheduler, the web front end and the console bot (no tokens needed). It installs the
# project into .venv when pyproject.toml changed since the last install, trains Iris and Titanic
# when the registry has none, and keeps the terminal for the conversation: the other processes log
# to DATA_DIR/logs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi

# A stamp with the hash of pyproject.toml: an unchanged project starts without pip.
stamp=.venv/mlchat-installed.sha256
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "start.sh: installing the project into .venv (again only when pyproject.toml changes) ..."
    # pip's and setuptools' notices go to a log, shown only when the install fails. A newer pip is
    # welcome but not needed.
    .venv/bin/python -m pip install -q --upgrade pip >.venv/install.log 2>&1 || true
    if ! .venv/bin/python -m pip install -q -e . >>.venv/install.log 2>&1; then
        cat .venv/install.log >&2
        echo "start.sh: the install failed (log above, also in .venv/install.log)" >&2
        exit 1
    fi
    echo "$wanted" >"$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"

logs="$(python -m common.data_dir)/logs"
mkdir -p "$logs"
pids=()
stop() {
    if [ ${#pids[@]} -gt 0 ]; then
        kill "${pids[@]}" 2>/dev/null || true
        wait "${pids[@]}" 2>/dev/null || true
    fi
}
trap stop EXIT
# METRICS_LISTEN=host:port serves /metrics from every process, on consecutive ports: the workers on
# port, the speech worker port+1, the scheduler port+2, the console bot port+3, the web front end
# port+4 (docs/prometheus/).
metrics() {
    if [ -n "${METRICS_LISTEN:-}" ]; then echo "METRICS_LISTEN=${METRICS_LISTEN%:*}:$((${METRICS_LISTEN##*:} + $1))"; fi
}
# Started before the training below, so they have loaded by the first command; a worker takes a
# model registered after its start at its next job. Speech has a worker of its own: its model's
# first download (minutes) must not hold up /iris.
env $(metrics 0) python -m workers --queues predict,render >>"$logs/workers.log" 2>&1 &
pids+=($!)
env $(metrics 1) python -m workers --queues transcribe >>"$logs/speech-worker.log" 2>&1 &
pids+=($!)
# The web front end: the same queue and models in a browser (WEB_LISTEN, default 127.0.0.1:7860).
env $(metrics 4) python -m web >>"$logs/web.log" 2>&1 &
pids+=($!)

# Only what is not registered yet (a check without ML imports); a model that cannot be trained
# (the Titanic CSV out of reach, say) leaves the others served.
for model in $(python -m training.missing iris titanic); do
    if ! python -m "training.$model"; then
        echo "start.sh: serving what is ready; /$model answers once its model is trained (see the line above)," \
            "e.g. by running this script again" >&2
    fi
done
# After the training: the first round of the daily monitoring needs the models.
env $(metrics 2) python -m scheduler >>"$logs/scheduler.log" 2>&1 &
pids+=($!)
echo "start.sh: the workers, the monitoring scheduler and the web front end log to $logs" \
    "(workers.log, speech-worker.log, scheduler.log, web.log); \`python -m common.redis_url\` prints the Redis URL"
echo "start.sh: the web front end is at $(python -m web --url)"
env $(metrics 3) python -m bot console
