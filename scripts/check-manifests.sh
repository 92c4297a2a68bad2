#!/usr/bin/env bash
# Check the deployment manifests offline, from the repository root:
#   1. `kubectl kustomize` renders manifests/, its base and every overlay;
#   2. every rendered object validates against the strict Kubernetes JSON
#      schemas shipped in the kubernetes-validate package (no network at check
#      time; the package is pip-installed into a cached venv when absent);
#   3. RBAC has no wildcards, and the DaemonSet keeps what the binary needs;
#   4. the binary accepts each DaemonSet's command line: run with exactly those
#      args, outside a cluster, it must fail at the in-cluster configuration
#      (exit 1), not at the flags (exit 2).
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
for d in "${dirs[@]}"; do
    name=${d//\//_}
    kubectl kustomize "$d" >"$work/$name.yaml" 2>"$work/$name.err" \
        || { cat "$work/$name.err" >&2; die "$d: kubectl kustomize failed"; }

    n=$("$VENV/bin/python" scripts/validate_manifests.py "${kv_args[@]}" \
        --argv-out "$work/$name.argv" "$work/$name.yaml") || die "$d: validation failed"
    objects=$(( objects + n ))

    mapfile -d '' argv <"$work/$name.argv"
    # argv[0] is the image's /usr/bin/kured: run the freshly built binary with
    # the same args. The project rule is that nothing we run may ever target
    # PID 1 or really reboot, so a sleep child of ours is appended as
    # --host-pid and a reboot command that only writes a marker file; both come
    # AFTER the manifest's args so they win. `env -i` keeps any KURED_* variable
    # (which would win over flags) out. The binary only parses and exits here;
    # in a real pod (hostPID) the default 1 is right, so the manifests
    # themselves do not pass --host-pid.
    set +e
    env -i PATH="$PATH" KURED_NODE_ID=node-1 \
        timeout 30 "$KURED" "${argv[@]:1}" --host-pid="$host_pid" \
        --reboot-command="/bin/sh -c 'echo rebooted > $work/marker'" \
        >"$work/$name.out" 2>"$work/$name.stderr"
    rc=$?
    set -e
    if [[ $rc -ne 1 ]] || ! grep -q 'in-cluster' "$work/$name.stderr"; then
        cat "$work/$name.stderr" >&2
        die "$d: '${argv[*]:1}': expected exit 1 with an in-cluster error, got exit $rc" \
            "(2 = the flags were refused)"
    fi
done

echo "manifests: $overlays overlays rendered, $objects objects validated, rbac ok, args ok"
