#!/usr/bin/env bash
# Run every benchmark under bench/ in turn and print their figures (`tox -e bench`).
#
#   bash bench/run_all.sh [--install] [--quick]
#
#   --install  first install what the mock benchmark drives and compares against:
#              wrk and (if missing) Node.js/npm with apt-get, then Stoplight Prism
#              with npm ci in bench/prism. Without it nothing is installed; a
#              missing tool makes that benchmark say how to install it and exit 2.
#   --quick    one short repetition of everything (a smoke run; the figures are noisy).
#
# The figures also go to $BENCH_OUT (default bench/out) as JSON. The exit status
# is the worst of the scripts': 0 measured, 1 a correctness failure, 2 could not run.
set -uo pipefail

cd "$(dirname "$0")/.."

install=0
quick=0
for arg in "$@"; do
    case "$arg" in
        --install) install=1 ;;
        --quick) quick=1 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "run_all.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

if [ -n "${PYTHON:-}" ]; then
    py="$PYTHON"
elif [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then
    py="$VIRTUAL_ENV/bin/python"
elif [ -x .venv/bin/python ]; then
    py=.venv/bin/python
else
    py=python3
fi

apt_install() {
    local sudo_cmd=""
    if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
    $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq "$@"
}

if [ "$install" = 1 ]; then
    if ! command -v wrk >/dev/null 2>&1; then
        echo "== installing wrk (apt-get)"
        apt_install wrk || exit 2
    fi
    if ! command -v npm >/dev/null 2>&1; then
        echo "== installing Node.js and npm (apt-get)"
        apt_install nodejs npm || exit 2
    fi
    if [ ! -x bench/prism/node_modules/.bin/prism ]; then
        echo "== installing Stoplight Prism (npm ci in bench/prism)"
        npm ci --prefix bench/prism --no-audit --no-fund || exit 2
    fi
fi

out="${BENCH_OUT:-bench/out}"
mkdir -p "$out"

mock_args=()
certify_args=()
load_args=()
distributed_args=()
capacity_args=()
if [ "$quick" = 1 ]; then
    mock_args=(--runs 1 --duration 3 --latency-requests 50 --exchange-duration 3)
    certify_args=(--runs 1)
    load_args=(--quick)
    distributed_args=(--rounds 1 --seconds 10 --warmup 3)
    capacity_args=(--step-time 6 --max-users 100 --step-users 50 --seed-history 2000)
fi

worst=0
run() {
    local name="$1"; shift
    echo
    echo "== $name"
    local started=$SECONDS
    "$@"
    local status=$?
    echo "== $name: exit $status after $((SECONDS - started)) s"
    if [ "$status" -gt "$worst" ]; then worst=$status; fi
}

run bench_mock "$py" bench/bench_mock.py "${mock_args[@]}" --json "$out/mock.json"
run bench_certify "$py" bench/bench_certify.py "${certify_args[@]}" --json "$out/certify.json"
run bench_latency "$py" bench/bench_latency.py "${certify_args[@]}" --json "$out/latency.json"
if [ -f bench/bench_load_overhead.py ]; then
    if [ "$quick" = 1 ] && ! "$py" bench/bench_load_overhead.py --help 2>/dev/null | grep -q -- "--quick"; then
        load_args=()
    fi
    run bench_load_overhead "$py" bench/bench_load_overhead.py "${load_args[@]}"
fi
run bench_load_distributed "$py" bench/bench_load_distributed.py "${distributed_args[@]}"
run bench_load_capacity "$py" bench/bench_load_capacity.py "${capacity_args[@]}"

echo
echo "benchmarks done (figures in $out/); worst exit status $worst"
exit "$worst"
