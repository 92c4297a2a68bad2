// config.go: the components' command lines, the audit policy (the tests read
// kured's requests from the audit log, as they read the fake server's request
// log) and the admin kubeconfig.
package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
)

// Every request kured's service account makes, with its body; nothing else.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived", "ResponseStarted"]
rules:
- level: Request
  users: ["system:serviceaccount:kube-system:kured"]
- level: None
`

func apiserverArgs(dir string, p *pki, etcdURL string, port int) []string {
	return []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--tls-cert-file=" + p.path("apiserver.crt"),
		"--tls-private-key-file=" + p.path("apiserver.key"),
		"--client-ca-file=" + p.path("ca.crt"),
		"--token-auth-file=" + p.path("tokens.csv"),
		"--service-account-key-file=" + p.path("sa.pub"),
		"--service-account-signing-key-file=" + p.path("sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--authorization-mode=Node,RBAC",
		"--service-cluster-ip-range=10.96.0.0/16",
		// kured's own DaemonSet runs privileged, as upstream's does
		"--allow-privileged=true",
		"--audit-policy-file=" + filepath.Join(dir, "audit-policy.yaml"),
		"--audit-log-path=" + filepath.Join(dir, "audit.log"),
		"--audit-log-mode=blocking",
		"--profiling=false",
		"--v=1",
	}
}

func controllerManagerArgs(p *pki, kubeconfig string) []string {
	return []string{
		"--kubeconfig=" + kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		// No node-lifecycle controller: the simulated kubelets report Ready
		// themselves and nobody should evict their pods behind the test's back.
		"--controllers=deployment-controller,replicaset-controller,daemonset-controller,disruption-controller," +
			"garbage-collector-controller,serviceaccount-token-controller,serviceaccount-controller," +
			"root-ca-certificate-publisher-controller,namespace-controller,pod-garbage-collector-controller",
		"--service-account-private-key-file=" + p.path("sa.key"),
		"--root-ca-file=" + p.path("ca.crt"),
		"--concurrent-deployment-syncs=2",
		"--v=1",
	}
}

func schedulerArgs(kubeconfig string) []string {
	return []string{
		"--kubeconfig=" + kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		"--v=1",
	}
}

func writeKubeconfig(path, server string, p *pki) error {
	b64 := base64.StdEncoding.EncodeToString
	text := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kured-cp
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: admin
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: kured-cp
  context:
    cluster: kured-cp
    user: admin
current-context: kured-cp
`, server, b64(p.caPEM), b64(p.adminCertPEM), b64(p.adminKeyPEM))
	return os.WriteFile(path, []byte(text), 0o600)
}
