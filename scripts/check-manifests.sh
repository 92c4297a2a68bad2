#!/usr/bin/env bash
# Check the deployment manifests offline, from the repository root:
#   1. `kubectl kustomize` renders manifests/, its base and every overlay, and
#      the Helm chart manifests/helm/kured passes `helm lint --strict` and
#      renders (`helm template`) with its defaults and each ci/*-values.yaml;
#   2. every rendered object validates against the strict Kubernetes JSON
#      schemas shipped in the kubernetes-validate package (no network at check
#      time; the package is pip-installed into a cached venv when absent);
#   3. RBAC has no wildcards, and the DaemonSet keeps what the binary needs;
#   4. the binary accepts each DaemonSet's command line: run with exactly those
#      args and environment, outside a cluster, it must fail at the in-cluster
#      configuration (exit 1), not at the flags (exit 2);
#   5. bad chart values (a duration without its unit, a day that is not one, a
#      negative concurrency, ...) fail at `helm template`, naming the key.
# helm is scripts/helm's (v3.21.4, built from the Go module proxy and cached;
# the first run builds it, about 4-5 min).
# Env: KURED_MANIFESTS_VENV overrides the venv location.
set -euo pipefail

KUBE_VERSIONS=(1.30 1.37) # oldest supported (appArmorProfile is 1.30+) and newest schemas
VALIDATE_PKG='kubernetes-validate==1.37.0'
VENV="${KURED_MANIFESTS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/kured-rs/manifests-venv}"

die() { echo "check-manifests: $*" >&2; exit 1; }

[[ -f Cargo.toml && -d manifests ]] || die "run from the repository root"
command -v kubectl >/dev/null || die "kubectl not found (needed for 'kubectl kustomize')"
command -v python3 >/dev/null || die "python3 not found"

if ! "$VENV/bin/python" -c 'import kubernetes_validate, yaml' 2>/dev/null; then
    echo "check-manifests: installing $VALIDATE_PKG into $VENV" >&2
    python3 -m venv "$VENV" || die "cannot create a venv at $VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "$VALIDATE_PKG" \
        || die "pip install $VALIDATE_PKG failed"
fi

cargo build --quiet --bin kured || die "cargo build failed"
KURED=target/debug/kured

work=$(mktemp -d)
# A stand-in for the host's init: the binary is only ever pointed at this child,
# never at PID 1 (nor at this script).
sleep 600 &
host_pid=$!
cleanup() {
    kill "$host_pid" 2>/dev/null || true
    wait "$host_pid" 2>/dev/null || true # 143: the SIGTERM we just sent
    rm -rf "$work"
}
trap cleanup EXIT

dirs=(manifests manifests/base)
for d in manifests/overlays/*/; do dirs+=("${d%/}"); done
overlays=$(( ${#dirs[@]} - 2 ))
(( overlays > 0 )) || die "no overlays under manifests/overlays"

kv_args=()
for v in "${KUBE_VERSIONS[@]}"; do kv_args+=(--kube-version "$v"); done

objects=0
# check_render NAME FILE [validator options]: steps 2-4 for one rendered file.
check_render() {
    local name=$1 file=$2 rc
    shift 2
    local n
    n=$("$VENV/bin/python" scripts/validate_manifests.py "${kv_args[@]}" "$@" \
        --argv-out "$work/$name.argv" --env-out "$work/$name.env" "$file") || die "$name: validation failed"
    objects=$(( objects + n ))

    local argv env
    mapfile -d '' argv <"$work/$name.argv"
    mapfile -d '' env <"$work/$name.env"
    # argv[0] is the image's /usr/bin/kured: run the freshly built binary with
    # the same args and the container's own environment (literal values and
    # the node name; `env -i` keeps this shell's KURED_* variables, which would
    # win over flags, out). The project rule is that nothing we run may ever
    # target PID 1 or really reboot, so a sleep child of ours is appended as
    # --host-pid and a reboot command that only writes a marker file; both come
    # AFTER the manifest's args so they win. The binary only parses and exits
    # here; in a real pod (hostPID) the default 1 is right, so the manifests
    # themselves do not pass --host-pid.
    set +e
    env -i PATH="$PATH" "${env[@]}" \
        timeout 30 "$KURED" "${argv[@]:1}" --host-pid="$host_pid" \
        --reboot-command="/bin/sh -c 'echo rebooted > $work/marker'" \
        >"$work/$name.out" 2>"$work/$name.stderr"
    rc=$?
    set -e
    if [[ $rc -ne 1 ]] || ! grep -q 'in-cluster' "$work/$name.stderr"; then
        cat "$work/$name.stderr" >&2
        die "$name: '${argv[*]:1}' (env: ${env[*]}): expected exit 1 with an in-cluster error, got exit $rc" \
            "(2 = the flags were refused)"
    fi
}

for d in "${dirs[@]}"; do
    name=${d//\//_}
    kubectl kustomize "$d" >"$work/$name.yaml" 2>"$work/$name.err" \
        || { cat "$work/$name.err" >&2; die "$d: kubectl kustomize failed"; }
    check_render "$name" "$work/$name.yaml"
done

# The Helm chart, as `helm install kured manifests/helm/kured -n kube-system`
# renders it: defaults, then each ci values file.
HELM=scripts/helm
chart=manifests/helm/kured
"$HELM" build >/dev/null || die "no helm (scripts/helm build)"
renders=0
for f in "" "$chart"/ci/*-values.yaml; do
    label=${f:-defaults}
    name=helm_$(basename "${f:-defaults}" .yaml)
    vals=()
    [[ -z "$f" ]] || vals=(-f "$f")
    "$HELM" lint --strict "$chart" "${vals[@]}" >"$work/$name.lint" 2>&1 \
        || { cat "$work/$name.lint" >&2; die "$chart ($label): helm lint --strict failed"; }
    "$HELM" template kured "$chart" --namespace kube-system "${vals[@]}" >"$work/$name.yaml" 2>"$work/$name.err" \
        || { cat "$work/$name.err" >&2; die "$chart ($label): helm template failed"; }
    opts=()
    # That file turns every upstream key away from upstream's default, the
    # read-only root (upstream's default true) included.
    [[ $f != *upstream-all-keys* ]] || opts=(--writable-root-ok)
    check_render "$name" "$work/$name.yaml" "${opts[@]}"
    renders=$(( renders + 1 ))
done

# The extra RBAC the README gives for staying on upstream's chart.
extra=manifests/helm/upstream-chart-extra-rbac.yaml
n=$("$VENV/bin/python" scripts/validate_manifests.py "${kv_args[@]}" --rbac-only "$extra") \
    || die "$extra: validation failed"
objects=$(( objects + n ))

# Bad values fail at `helm template`, and the message names the key.
bad=0
bad_value() { # KEY-NAMED-IN-THE-ERROR HELM-ARGS...
    local key=$1
    shift
    if "$HELM" template kured "$chart" --namespace kube-system "$@" >/dev/null 2>"$work/bad.err"; then
        die "$chart: helm template $* was accepted; the schema must refuse it"
    fi
    grep -qF -- "$key" "$work/bad.err" \
        || { cat "$work/bad.err" >&2; die "$chart: helm template $* failed without naming $key"; }
    bad=$(( bad + 1 ))
}
bad_value /configuration/lockTtl --set configuration.lockTtl=600
bad_value /configuration/lockTtl --set-string configuration.lockTtl=600
bad_value /configuration/lockTtl --set-string configuration.lockTtl=10min
bad_value /configuration/rebootDays/1 --set 'configuration.rebootDays={mo,funday}'
bad_value /configuration/rebootDays/0 --set 'configuration.rebootDays={7}'
bad_value /configuration/concurrency --set configuration.concurrency=-1
bad_value /configuration/logFormat --set configuration.logFormat=xml
bad_value /configuration/startTime --set-string configuration.startTime=noon
bad_value /configuration/period --set-string configuration.period=1hour
bad_value /configuration/releaseGateTimeout --set configuration.releaseGateTimeout=10
bad_value /configuration/rebootMethod --set configuration.rebootMethod=kexec
bad_value /configuration/metricsPort --set configuration.metricsPort=70000
bad_value /configuration/rebootSentinel --set configuration.rebootSentinel=reboot-required
bad_value /configuration/controlPlaneOrder --set configuration.controlPlaneOrder=sideways
bad_value /configuration/controlPlaneQuorumGuard --set-string configuration.controlPlaneQuorumGuard=no
bad_value /configuration/maintenanceWindows --set-string 'configuration.maintenanceWindows=mon 03:00-05:00'
bad_value lockTTL --set configuration.lockTTL=1h
bad_value /updateStrategy --set updateStrategy=Always

echo "manifests: $overlays overlays and $renders chart renders, $objects objects validated, rbac ok, args ok, $bad bad values refused"
