// kured-control-plane: a real Kubernetes control plane on loopback, for
// kured-rs's tests only. Built from the official modules (k8s.io/kubernetes,
// go.etcd.io/etcd/server/v3) pinned in go.mod; no kubelet, no containers.
//
//	kured-control-plane serve DIR [--lifetime=2h] [--die-with-parent]
//
// starts etcd (in this process), then kube-apiserver, kube-controller-manager
// and kube-scheduler (each this same binary run as a child with the component's
// name as first argument), and writes DIR/kubeconfig (cluster-admin) once the
// API server's /readyz answers ok and the controllers made the default service
// account. Everything stops on SIGTERM/SIGINT, when --lifetime has passed, when
// any component exits, and with --die-with-parent when the parent goes.
// Children die with this process (PR_SET_PDEATHSIG) and also watch their parent
// and the deadline themselves.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

const usage = `usage: kured-control-plane serve DIR [--lifetime=DURATION] [--die-with-parent]
       kured-control-plane kube-apiserver|kube-controller-manager|kube-scheduler ARGS...  (internal)`

// deadlineEnv carries the supervisor's deadline (unix seconds) to its children.
const deadlineEnv = "KURED_CP_DEADLINE"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "serve":
		os.Exit(serve(args))
	case "kube-apiserver":
		os.Exit(component(apiserver.NewAPIServerCommand(), args))
	case "kube-controller-manager":
		os.Exit(component(controllermanager.NewControllerManagerCommand(), args))
	case "kube-scheduler":
		os.Exit(component(scheduler.NewSchedulerCommand(), args))
	case "-h", "--help", "help":
		fmt.Println(usage)
	default:
		fmt.Fprintf(os.Stderr, "kured-control-plane: unknown command %q\n%s\n", os.Args[1], usage)
		os.Exit(2)
	}
}

// component runs one Kubernetes component's own command, bounded: it exits when
// its parent (the supervisor) is gone or the deadline passed.
func component(cmd interface{ SetArgs([]string) }, args []string) int {
	ppid := os.Getppid()
	var deadline time.Time
	if s, err := strconv.ParseInt(os.Getenv(deadlineEnv), 10, 64); err == nil {
		deadline = time.Unix(s, 0)
	}
	go func() {
		for range time.Tick(500 * time.Millisecond) {
			if os.Getppid() != ppid {
				fmt.Fprintln(os.Stderr, "kured-control-plane: parent gone, exiting")
				os.Exit(3)
			}
			if !deadline.IsZero() && time.Now().After(deadline) {
				fmt.Fprintln(os.Stderr, "kured-control-plane: lifetime over, exiting")
				os.Exit(3)
			}
		}
	}()
	cmd.SetArgs(args)
	return runCobra(cmd)
}
