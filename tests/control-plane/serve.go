// serve.go: the supervisor. etcd runs in this process; the three components are
// children (this binary again). Bounded: lifetime, signals, parent death, and
// any component's exit all end the whole control plane.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

type supervisor struct {
	dir      string
	deadline time.Time
	children []*exec.Cmd
	exited   chan string
}

func serve(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	lifetime := fs.Duration("lifetime", 2*time.Hour, "stop everything after this long")
	dieWithParent := fs.Bool("die-with-parent", false, "stop everything when the parent process exits")
	var dir string
	// DIR may come before or after the flags
	rest := args
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		rest = fs.Args()
		if len(rest) > 0 {
			if dir != "" {
				fmt.Fprintf(os.Stderr, "kured-control-plane: unexpected argument %q\n%s\n", rest[0], usage)
				return 2
			}
			dir, rest = rest[0], rest[1:]
		}
	}
	if dir == "" {
		fmt.Fprintf(os.Stderr, "kured-control-plane: serve needs DIR\n%s\n", usage)
		return 2
	}
	if *lifetime <= 0 {
		fmt.Fprintln(os.Stderr, "kured-control-plane: --lifetime must be positive")
		return 2
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s := &supervisor{dir: dir, deadline: time.Now().Add(*lifetime), exited: make(chan string, 4)}
	if err := s.run(*dieWithParent); err != nil {
		fmt.Fprintf(os.Stderr, "kured-control-plane: %v\n", err)
		return 1
	}
	return 0
}

func (s *supervisor) logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s kured-control-plane: %s\n", time.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, a...))
}

func (s *supervisor) run(dieWithParent bool) error {
	started := time.Now()
	ppid := os.Getppid()
	stop := make(chan os.Signal, 2)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return err
	}
	// A fresh cluster every time: a DIR left by a run that never got `down`
	// must not lend its data or keys to this one.
	for _, stale := range []string{"etcd", "pki", "kubeconfig", "admin.kubeconfig", "audit.log"} {
		if err := os.RemoveAll(filepath.Join(s.dir, stale)); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(s.dir, "serve.pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	p, err := makePKI(filepath.Join(s.dir, "pki"))
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	ports, err := freePorts(3)
	if err != nil {
		return fmt.Errorf("free ports: %w", err)
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	etcd, err := startEtcd(filepath.Join(s.dir, "etcd"), etcdURL, fmt.Sprintf("http://127.0.0.1:%d", ports[1]))
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	defer etcd.Close()
	defer s.stopChildren()
	s.logf("etcd ready at %s after %v", etcdURL, time.Since(started).Round(time.Millisecond))

	apiPort := ports[2]
	server := fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	if err := os.WriteFile(filepath.Join(s.dir, "audit-policy.yaml"), []byte(auditPolicy), 0o644); err != nil {
		return err
	}
	if err := s.start("kube-apiserver", apiserverArgs(s.dir, p, etcdURL, apiPort)); err != nil {
		return err
	}
	client, err := adminClient(p)
	if err != nil {
		return err
	}
	if err := s.waitFor(client, server+"/readyz", 3*time.Minute, stop); err != nil {
		return err
	}
	s.logf("kube-apiserver ready at %s after %v", server, time.Since(started).Round(time.Millisecond))
	adminKubeconfig := filepath.Join(s.dir, "admin.kubeconfig")
	if err := writeKubeconfig(adminKubeconfig, server, p); err != nil {
		return err
	}
	if err := s.start("kube-controller-manager", controllerManagerArgs(p, adminKubeconfig)); err != nil {
		return err
	}
	if err := s.start("kube-scheduler", schedulerArgs(adminKubeconfig)); err != nil {
		return err
	}
	// Pods need their namespace's default service account (the ServiceAccount
	// admission plugin refuses them before the controller made it).
	if err := s.waitFor(client, server+"/api/v1/namespaces/default/serviceaccounts/default", 3*time.Minute, stop); err != nil {
		return err
	}
	// The kubeconfig appears last and at once: whoever waits for it may use it.
	if err := writeKubeconfig(filepath.Join(s.dir, "kubeconfig.tmp"), server, p); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(s.dir, "kubeconfig.tmp"), filepath.Join(s.dir, "kubeconfig")); err != nil {
		return err
	}
	s.logf("control plane ready after %v (lifetime until %s)", time.Since(started).Round(time.Millisecond), s.deadline.UTC().Format(time.RFC3339))

	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case sig := <-stop:
			s.logf("%v: stopping", sig)
			return nil
		case name := <-s.exited:
			return fmt.Errorf("%s exited; stopping (see %s)", name, filepath.Join(s.dir, name+".log"))
		case <-tick.C:
			if time.Now().After(s.deadline) {
				s.logf("lifetime over: stopping")
				return nil
			}
			if dieWithParent && os.Getppid() != ppid {
				s.logf("parent gone: stopping")
				return nil
			}
		}
	}
}

func startEtcd(dir, clientURL, peerURL string) (*embed.Etcd, error) {
	cfg := embed.NewConfig()
	cfg.Name = "kured-cp"
	cfg.Dir = dir
	cu, _ := url.Parse(clientURL)
	pu, _ := url.Parse(peerURL)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{filepath.Join(filepath.Dir(dir), "etcd.log")}
	// A throw-away store on a shared test machine: durability buys nothing.
	cfg.UnsafeNoFsync = true
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, errors.New("not ready within 60s")
	}
}

// start runs this binary as the named component, logging to DIR/NAME.log.
func (s *supervisor) start(name string, args []string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	log, err := os.OpenFile(filepath.Join(s.dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(self, append([]string{name}, args...)...)
	cmd.Stdout, cmd.Stderr = log, log
	// the children's own deadline comes a little later: normally this
	// supervisor stops them in order first
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", deadlineEnv, s.deadline.Add(15*time.Second).Unix()))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	log.Close()
	s.children = append(s.children, cmd)
	go func() {
		_ = cmd.Wait()
		s.exited <- name
	}()
	return nil
}

// stopChildren: SIGTERM, up to 10 s to go, then SIGKILL.
func (s *supervisor) stopChildren() {
	for i := len(s.children) - 1; i >= 0; i-- {
		_ = s.children[i].Process.Signal(syscall.SIGTERM)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, c := range s.children {
		for c.ProcessState == nil && time.Now().Before(deadline) {
			if err := c.Process.Signal(syscall.Signal(0)); err != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		_ = c.Process.Kill()
	}
}

func (s *supervisor) waitFor(client *http.Client, url string, limit time.Duration, stop chan os.Signal) error {
	deadline := time.Now().Add(limit)
	last := "no answer"
	for time.Now().Before(deadline) {
		select {
		case sig := <-stop:
			return fmt.Errorf("%v while waiting for %s", sig, url)
		case name := <-s.exited:
			return fmt.Errorf("%s exited while waiting for %s (see %s)", name, url, filepath.Join(s.dir, name+".log"))
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("%s not ok within %v: %s", url, limit, last)
}

func adminClient(p *pki) (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(p.caPEM) {
		return nil, errors.New("bad CA")
	}
	cert, err := tls.X509KeyPair(p.adminCertPEM, p.adminKeyPEM)
	if err != nil {
		return nil, err
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}, nil
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
