#!/usr/bin/env bash
# Benchmarks: prints figures, asserts nothing (budgets are watched by reading them).
#   - size of the static release binary and of the scratch image
#   - peak RSS of `kured --help`
#   - RSS of the daemon (static release binary) while it drains 50 pods from one node
#     on the fake API server (sampled every 20 ms from /proc), and how long that took
#   - a 100-pod drain's API requests and time next to the real `kubectl drain` on the
#     same fake cluster (tests/drain_vs_kubectl.rs, counted by the server's request log)
#   - lock hand-over times with --period=30s: 5 nodes waiting on an operator-held lock
#     that is then released (tests/e2e_pacing.rs, from the simulator's timeline)
#   - with BENCH_SCALE=1: `scripts/simulate --nodes 200 --concurrency 10` (elapsed time,
#     peak memory of one daemon, API requests per node per hour; several minutes)
#   - `scripts/bench.sh scale`: the scale benchmark (issue 18), see scale() below
# Safety: the daemon gets --host-pid of a `sleep` this script started, and a reboot
# command that only writes a marker file. Loopback only; everything stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

# The scale benchmark: N real kured processes (static release build) against the
# fake API server, in kured-sim's --bench mode, for each build (today's tree and
# the one before issue 18, commit $BENCH_OLD), each N and each --concurrency, with
# workloads, --period=60s and the Prometheus blocker on (no alert firing). Prints
# the `bench:` lines of each run (requests against the floor, the busiest second,
# hand-over gaps, fairness, memory, CPU) and its summary line. Then, with
# BENCH_TABLE=1 (the default), the 30/60/120-node table of tests/README.md (--workloads=false,
# --concurrency 1) for both builds. The floor is measured first: 5 nodes, each
# rebooting alone in turn (--period=10s, so it takes about 2 min).
#   BENCH_NODES="120 300 1000" BENCH_CONCURRENCY="1 10" BENCH_BUILDS="old new"
#   BENCH_OLD=1834e11 BENCH_TABLE=1 scripts/bench.sh scale
# (BENCH_FLOOR=SUM,MIN,K reuses a floor measured before; BENCH_NODES="" only the table.)
# 1,000 nodes: ~3 GiB of daemons, 1,000 host-stand-in `sleep`s, ~4,000 threads;
# the file-descriptor limit is raised as far as the hard limit allows. Each run
# is bounded (--seconds) and niced; kured-sim kills its daemons when it ends.
scale() {
  local old=${BENCH_OLD:-1834e11} dir=target/bench-old
  mkdir -p "$dir"
  cargo build --quiet --locked -p kured-sim --bin kured-sim
  local new_bin old_bin=$dir/kured-$old
  new_bin=$(nice -n 10 scripts/build-static.sh 2>/dev/null | tail -n1)
  cp "$new_bin" "$dir/kured-new.$$" && mv "$dir/kured-new.$$" "$dir/kured-new"
  new_bin=$dir/kured-new
  if [[ ! -x $old_bin ]]; then
    echo "bench scale: building the old binary ($old) in $dir/src-$old" >&2
    rm -rf "$dir/src-$old" && mkdir -p "$dir/src-$old"
    git archive "$old" | tar -x -C "$dir/src-$old"
    (cd "$dir/src-$old" && CARGO_TARGET_DIR="$PWD/../target-old" nice -n 10 scripts/build-static.sh 2>/dev/null | tail -n1) >"$dir/old-path"
    cp "$(cat "$dir/old-path")" "$old_bin"
  fi
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  local sim=target/debug/kured-sim
  local floor=${BENCH_FLOOR:-}
  [[ -n $floor ]] || floor=$(nice -n 10 "$sim" --kured "$new_bin" --nodes 5 --bench-floor --seconds 180 --period=10s | tee /dev/stderr | sed -n 's/.*--floor=//p')
  [[ -n $floor ]] || { echo "bench scale: the floor run failed" >&2; return 1; }
  echo "floor (5 nodes, each alone): --floor=$floor (SUM,MIN,K: the floor of N nodes is SUM + (N-K) x MIN)"
  for n in ${BENCH_NODES-120 300 1000}; do
    for c in ${BENCH_CONCURRENCY:-1 10}; do
      for b in ${BENCH_BUILDS:-old new}; do
        local bin=$new_bin
        [[ $b == old ]] && bin=$old_bin
        local limit=$((n * 8 / c + 300))
        echo "--- $b: $n nodes, --concurrency $c (at most ${limit}s)"
        nice -n 10 "$sim" --kured "$bin" --nodes "$n" --concurrency "$c" --bench="$b" --floor="$floor" \
          --prometheus --seconds "$limit" --period=60s 2>&1 | grep -E '^(bench:|nodes_rebooted|INVARIANT)' || true
      done
    done
  done
  if [[ ${BENCH_TABLE:-1} == 1 ]]; then
    echo "--- the 30/60/120-node table (tests/README.md): --concurrency 1 --period=60s --workloads=false, API requests for the whole rollout"
    for n in 30 60 120; do
      for b in old new; do
        local bin=$new_bin
        [[ $b == old ]] && bin=$old_bin
        local out
        out=$(nice -n 10 "$sim" --kured "$bin" --nodes "$n" --workloads=false --bench="$b" --seconds $((n * 8 + 300)) --period=60s 2>&1 | grep -E '^(bench: [a-z]+ (requests_total|handover_gap)|nodes_rebooted)' || true)
        echo "$n nodes, $b: $(tr '\n' ' ' <<<"$out")"
      done
    done
  fi
}
if [[ ${1:-} == scale ]]; then
  scale
  exit
fi

bin=$(scripts/build-static.sh 2>/dev/null | tail -n1)
cargo build --quiet --locked -p kured-fake-apiserver --bin fake-apiserver
fake=target/debug/fake-apiserver
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

echo "binary: $(stat -c %s "$bin") bytes ($bin)"
if command -v buildah >/dev/null; then
  image=$(scripts/build-image.sh 2>/dev/null | tail -n1) &&
    echo "image: $image $(STORAGE_DRIVER=vfs buildah images --format '{{.Size}}' "$image" | head -n1)"
fi
help_rss=$(/usr/bin/time -f %M "$bin" --help 2>&1 >/dev/null | tail -n1)
echo "kured --help: peak RSS ${help_rss} KiB"

# One node with 50 pods to drain (40 unmanaged, 10 of a Deployment whose PDB
# allows one disruption at a time), a second node to take the replicas.
python3 - "$work/seed.json" <<'PY'
import json, sys
objs = [
  {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}},
  {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-2"}, "spec": {"unschedulable": True}},
  {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "kured", "namespace": "kube-system"},
   "spec": {"selector": {"matchLabels": {"name": "kured"}}, "template": {"metadata": {"labels": {"name": "kured"}},
            "spec": {"containers": [{"name": "kured", "image": "kured-rs"}]}}}},
  {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
   "spec": {"replicas": 10, "selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": "x"}]}}}},
  {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web", "namespace": "default"},
   "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}},
]
for i in range(40):
    objs.append({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"job-{i}", "namespace": "default"},
                 "spec": {"nodeName": "node-1", "terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": "x"}]},
                 "status": {"phase": "Running"}})
json.dump(objs, open(sys.argv[1], "w"))
PY
"$fake" --dir "$work/k" --seed "$work/seed.json" --seconds 300 >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [[ -s $work/server.log && -f $work/k/kubeconfig ]] && break; sleep 0.1; done
port=$(sed -n 's#^https://127.0.0.1:##p' "$work/server.log" | head -n1)
kc=(kubectl --kubeconfig "$work/k/kubeconfig" --request-timeout=10s)
# Let the Deployment's replicas start on node-1, then open node-2 for the drain.
for _ in $(seq 100); do
  n=$("${kc[@]}" get pods -A --field-selector spec.nodeName=node-1 -o name 2>/dev/null | grep -c pod/ || true)
  ((n >= 51)) && break; sleep 0.1
done
"${kc[@]}" uncordon node-2 >/dev/null
echo "pods on node-1 before the drain: $n, of which 1 DaemonSet pod (skipped)"

sleep 600 & hostpid=$!; pids+=($hostpid)
touch "$work/reboot-required"
start=$(date +%s.%N)
env -i PATH=/usr/bin:/bin KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT="$port" \
  KURED_SERVICE_ACCOUNT_DIR="$work/k/serviceaccount" KURED_NODE_ID=node-1 RUST_LOG=warn \
  "$bin" --period=1s --reboot-sentinel="$work/reboot-required" --host-pid="$hostpid" \
  --reboot-command="/bin/sh -c 'echo rebooted > $work/marker'" --metrics-host=127.0.0.1 --metrics-port=0 --drain-grace-period=1 \
  >"$work/kured.log" 2>&1 &
kpid=$!; pids+=($kpid)
max=0; samples=0; sum=0
for _ in $(seq 3000); do   # at most 60 s
  rss=$(awk '/^VmRSS/ {print $2}' /proc/$kpid/status 2>/dev/null || echo 0)
  ((rss > max)) && max=$rss
  ((rss > 0)) && { sum=$((sum + rss)); samples=$((samples + 1)); }
  [[ -f $work/marker ]] && break
  sleep 0.02
done
end=$(date +%s.%N)
hwm=$(awk '/^VmHWM/ {print $2}' /proc/$kpid/status 2>/dev/null || echo "?")
[[ -f $work/marker ]] || { echo "bench: the drain did not finish in 60 s"; tail -n 20 "$work/kured.log"; exit 1; }
left=$("${kc[@]}" get pods -A --field-selector spec.nodeName=node-1 -o name | grep -vc kured || true)
printf 'daemon during a 50-pod drain: RSS mean %d KiB, max %d KiB, VmHWM %s KiB over %d samples; drain+reboot %.1f s; pods left on node-1 (non-DaemonSet): %s\n' \
  $((sum / (samples ? samples : 1))) "$max" "$hwm" "$samples" "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')" "$left"

# Pacing (issue 12): the drain against kubectl's, and lock hand-overs.
cargo test --quiet --locked --test drain_vs_kubectl -- --nocapture 2>&1 | grep '^drain of' || { echo "bench: drain comparison failed"; exit 1; }
cargo test --quiet --locked --test e2e_pacing waiting_nodes_take_the_lock -- --nocapture 2>&1 | grep '^hand-overs' || { echo "bench: hand-over scenario failed"; exit 1; }
if [[ ${BENCH_SCALE:-0} == 1 ]]; then
  scripts/simulate --nodes 200 --concurrency 10 --seconds 900 | grep -E '^(nodes_rebooted|api_requests|daemon_peak)' || { echo "bench: 200-node simulation failed"; exit 1; }
  scripts/simulate --nodes 200 --steady-state 60 | grep -E '^(api_requests|daemon_peak)' || { echo "bench: 200-node steady state failed"; exit 1; }
fi
