#!/usr/bin/env python3
"""Offline checks of one rendered kustomization (multi-document YAML).

Used by scripts/check-manifests.sh, inside a venv holding kubernetes-validate,
which ships the Kubernetes JSON schemas, so nothing is fetched at check time.

1. Every object validates against the strict schemas (unknown fields are
   errors) of each Kubernetes version given; a kind with no schema is an error.
2. RBAC rules carry no `*` in apiGroups, resources, verbs or resourceNames.
3. The kured DaemonSet keeps what the binary relies on (node id from
   spec.nodeName, hostPID, the metrics port, a read-only root file system).
4. The kured container's command + args are written NUL-separated to
   --argv-out, for the shell to run the real binary with.

On success prints the number of objects validated; on failure names every
problem on stderr and exits 1.
"""

import argparse
import sys

import yaml
import kubernetes_validate.utils as kv


def validate_schemas(objects, versions):
    problems = []
    for obj in objects:
        name = "%s/%s" % (obj.get("kind", "?"), obj.get("metadata", {}).get("name", "?"))
        for version in versions:
            try:
                kv.validate(obj, version, strict=True)
            except kv.ValidationError as e:
                path = ".".join(str(p) for p in e.path) or "(top)"
                problems.append("%s: kubernetes %s: %s: %s" % (name, version, path, e.message))
            except kv.SchemaNotFoundError as e:
                problems.append("%s: %s" % (name, e.message))
    return problems


def check_rbac(objects):
    problems = []
    for obj in objects:
        if obj.get("kind") not in ("ClusterRole", "Role"):
            continue
        name = "%s/%s" % (obj["kind"], obj["metadata"]["name"])
        if "aggregationRule" in obj:
            problems.append("%s: aggregationRule grants whatever matches; list rules instead" % name)
        for i, rule in enumerate(obj.get("rules") or []):
            for field in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"):
                for value in rule.get(field) or []:
                    if "*" in value:
                        problems.append("%s: rules[%d].%s has wildcard %r" % (name, i, field, value))
    return problems


def kured_container(objects):
    for obj in objects:
        if obj.get("kind") == "DaemonSet" and obj["metadata"].get("name") == "kured":
            spec = obj["spec"]["template"]["spec"]
            for c in spec.get("containers") or []:
                if c.get("name") == "kured":
                    return obj, spec, c
    return None, None, None


def check_daemonset(ds, spec, c):
    if ds is None:
        return ["no DaemonSet kured with a container kured"]
    problems = []

    def want(ok, what):
        if not ok:
            problems.append("DaemonSet/kured: " + what)

    want(ds["metadata"].get("namespace") == "kube-system", "namespace must be kube-system (--ds-namespace)")
    want(spec.get("hostPID") is True, "hostPID must be true (the host's PID 1 is the reboot target)")
    want(spec.get("serviceAccountName") == "kured", "serviceAccountName must be kured")
    node_id = [e for e in c.get("env") or [] if e.get("name") == "KURED_NODE_ID"]
    want(len(node_id) == 1 and node_id[0].get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
         == "spec.nodeName", "env KURED_NODE_ID must come from fieldRef spec.nodeName")
    want({"name": "metrics", "containerPort": 8080} in
         [{k: p.get(k) for k in ("name", "containerPort")} for p in c.get("ports") or []],
         "container port 8080 named metrics is missing")
    want((c.get("securityContext") or {}).get("readOnlyRootFilesystem") is True,
         "securityContext.readOnlyRootFilesystem must be true")
    want(c.get("command") == ["/usr/bin/kured"], "command must be [/usr/bin/kured]")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rendered", help="output of kubectl kustomize")
    ap.add_argument("--kube-version", action="append", required=True,
                    help="Kubernetes version whose schemas to validate against (repeatable)")
    ap.add_argument("--argv-out", required=True, help="file to write the container argv to")
    opts = ap.parse_args()

    with open(opts.rendered) as f:
        objects = [o for o in yaml.safe_load_all(f) if o]
    if not objects:
        print("%s: no objects rendered" % opts.rendered, file=sys.stderr)
        return 1

    ds, spec, c = kured_container(objects)
    problems = validate_schemas(objects, opts.kube_version) + check_rbac(objects) \
        + check_daemonset(ds, spec, c)
    if problems:
        for p in problems:
            print("%s: %s" % (opts.rendered, p), file=sys.stderr)
        return 1

    argv = list(c.get("command") or []) + list(c.get("args") or [])
    with open(opts.argv_out, "wb") as f:
        f.write(b"".join(a.encode() + b"\0" for a in argv))
    print(len(objects))
    return 0


if __name__ == "__main__":
    sys.exit(main())
