#!/usr/bin/env python3
"""Offline checks of one rendered kustomization (multi-document YAML).

Used by scripts/check-manifests.sh (for each kustomization and each render of
the Helm chart), inside a venv holding kubernetes-validate, which ships the
Kubernetes JSON schemas, so nothing is fetched at check time.

1. Every object validates against the strict schemas (unknown fields are
   errors) of each Kubernetes version given; a kind with no schema is an error,
   except the ServiceMonitor, checked against the Service it must select.
2. RBAC rules carry no `*` in apiGroups, resources, verbs or resourceNames.
3. The kured DaemonSet keeps what the binary relies on: its name and namespace
   are the --ds-name/--ds-namespace it passes, its ServiceAccount is the one
   rendered and bound, the Role lets it update that DaemonSet (the lock), node
   id from spec.nodeName, hostPID, the --metrics-port, a read-only root.
4. The kured container's command + args are written NUL-separated to
   --argv-out (and its environment to --env-out), for the shell to run the
   real binary with.

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
    """The DaemonSet with a container named kured (the chart names the
    DaemonSet after its release), its pod spec and that container."""
    for obj in objects:
        if obj.get("kind") == "DaemonSet":
            spec = obj["spec"]["template"]["spec"]
            for c in spec.get("containers") or []:
                if c.get("name") == "kured":
                    return obj, spec, c
    return None, None, None


def flag(args, name, default):
    """The value of --name=VALUE in args (the last one wins, as with pflag)."""
    value = default
    for a in args:
        if a.startswith("--%s=" % name):
            value = a.split("=", 1)[1]
    return value


def check_daemonset(objects, ds, spec, c, writable_root_ok):
    if ds is None:
        return ["no DaemonSet with a container kured"]
    problems = []
    name = ds["metadata"].get("name")

    def want(ok, what):
        if not ok:
            problems.append("DaemonSet/%s: %s" % (name, what))

    args = c.get("args") or []
    ds_name, ds_namespace = flag(args, "ds-name", "kured"), flag(args, "ds-namespace", "kube-system")
    want(name == ds_name, "name must equal --ds-name %r (the lock lives on this object)" % ds_name)
    want(ds["metadata"].get("namespace") == ds_namespace,
         "namespace must equal --ds-namespace %r" % ds_namespace)
    want(spec.get("hostPID") is True, "hostPID must be true (the host's PID 1 is the reboot target)")
    sa = spec.get("serviceAccountName")
    accounts = [o["metadata"]["name"] for o in objects if o.get("kind") == "ServiceAccount"]
    want(sa and (not accounts or sa in accounts),
         "serviceAccountName %r must be the ServiceAccount rendered beside it %r" % (sa, accounts))
    for o in objects:
        if o.get("kind") in ("ClusterRoleBinding", "RoleBinding"):
            subjects = [(s.get("name"), s.get("namespace")) for s in o.get("subjects") or []]
            want((sa, ds_namespace) in subjects, "%s/%s must bind %s/%s, not %r"
                 % (o["kind"], o["metadata"]["name"], ds_namespace, sa, subjects))
        if o.get("kind") == "Role":
            writes = [r for r in o.get("rules") or [] if "update" in (r.get("verbs") or [])]
            want(o["metadata"].get("namespace") == ds_namespace
                 and any(ds_name in (r.get("resourceNames") or []) for r in writes),
                 "Role/%s must let kured update the DaemonSet %s/%s" % (o["metadata"]["name"], ds_namespace, ds_name))
    node_id = [e for e in c.get("env") or [] if e.get("name") == "KURED_NODE_ID"]
    want(len(node_id) == 1 and node_id[0].get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
         == "spec.nodeName", "env KURED_NODE_ID must come from fieldRef spec.nodeName")
    port = int(flag(args, "metrics-port", "8080"))
    want({"name": "metrics", "containerPort": port} in
         [{k: p.get(k) for k in ("name", "containerPort")} for p in c.get("ports") or []],
         "container port %d (--metrics-port) named metrics is missing" % port)
    if not writable_root_ok:
        want((c.get("securityContext") or {}).get("readOnlyRootFilesystem") is True,
             "securityContext.readOnlyRootFilesystem must be true")
    want(c.get("command") == ["/usr/bin/kured"], "command must be [/usr/bin/kured]")
    return problems


# Kinds of custom resources: no schema in kubernetes-validate, checked here.
CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}


def check_service_monitors(objects):
    """A ServiceMonitor must select a rendered Service by its labels and name
    one of its ports (else Prometheus silently scrapes nothing)."""
    problems = []
    services = [o for o in objects if o.get("kind") == "Service"]
    for sm in objects:
        if (sm.get("apiVersion"), sm.get("kind")) not in CUSTOM_KINDS:
            continue
        name = "ServiceMonitor/%s" % sm["metadata"].get("name")
        spec = sm.get("spec") or {}
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        ports = [e.get("port") for e in spec.get("endpoints") or []]
        hit = [svc for svc in services
               if selector and all((svc["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())]
        if not hit:
            problems.append("%s: selects no rendered Service (matchLabels %r)" % (name, selector))
        for svc in hit:
            names = [p.get("name") for p in (svc.get("spec") or {}).get("ports") or []]
            for p in ports:
                if p not in names:
                    problems.append("%s: endpoint port %r is not a port of Service/%s %r"
                                    % (name, p, svc["metadata"]["name"], names))
        if not ports:
            problems.append("%s: no endpoints" % name)
    return problems


def container_env(c):
    """The container's environment as the kubelet would set it, where that can
    be known offline: literal values, and spec.nodeName as node-1. Values from
    Secrets or ConfigMaps are left out (there is no cluster to read them from)."""
    env = []
    for e in c.get("env") or []:
        if "value" in e:
            env.append("%s=%s" % (e["name"], e["value"]))
        elif (e.get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName":
            env.append("%s=node-1" % e["name"])
    return env


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rendered", help="output of kubectl kustomize")
    ap.add_argument("--kube-version", action="append", required=True,
                    help="Kubernetes version whose schemas to validate against (repeatable)")
    ap.add_argument("--argv-out", help="file to write the container argv to (required unless --rbac-only)")
    ap.add_argument("--rbac-only", action="store_true",
                    help="a file of RBAC objects only (no DaemonSet): schemas and wildcards")
    ap.add_argument("--env-out", help="file to write the container's environment to (NAME=VALUE)")
    ap.add_argument("--writable-root-ok", action="store_true",
                    help="do not require readOnlyRootFilesystem (a values file that turns it off on purpose)")
    opts = ap.parse_args()

    with open(opts.rendered) as f:
        objects = [o for o in yaml.safe_load_all(f) if o]
    if not objects:
        print("%s: no objects rendered" % opts.rendered, file=sys.stderr)
        return 1

    known = [o for o in objects if (o.get("apiVersion"), o.get("kind")) not in CUSTOM_KINDS]
    problems = validate_schemas(known, opts.kube_version) + check_rbac(objects)
    if opts.rbac_only:
        problems += ["%s/%s: not RBAC" % (o.get("kind"), o["metadata"].get("name")) for o in objects
                     if o.get("apiVersion") != "rbac.authorization.k8s.io/v1"]
    else:
        if not opts.argv_out:
            ap.error("--argv-out is required")
        ds, spec, c = kured_container(objects)
        problems += check_daemonset(objects, ds, spec, c, opts.writable_root_ok) + check_service_monitors(objects)
    if problems:
        for p in problems:
            print("%s: %s" % (opts.rendered, p), file=sys.stderr)
        return 1

    if opts.rbac_only:
        print(len(objects))
        return 0
    argv = list(c.get("command") or []) + list(c.get("args") or [])
    with open(opts.argv_out, "wb") as f:
        f.write(b"".join(a.encode() + b"\0" for a in argv))
    if opts.env_out:
        with open(opts.env_out, "wb") as f:
            f.write(b"".join(e.encode() + b"\0" for e in container_env(c)))
    print(len(objects))
    return 0


if __name__ == "__main__":
    sys.exit(main())
