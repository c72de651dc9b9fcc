package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// child is one process the harness started; its output goes to a log file
// in the run's directory.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once the process has exited; err is then set
	err     error
}

// signal sends sig to the child.
func (c *child) signal(sig os.Signal) error {
	if err := c.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	return nil
}

// startChild starts bin with args, its stdout and stderr in dir/name.log.
func startChild(dir, name, bin string, args ...string) (*child, error) {
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	detach(cmd)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		logFile.Close()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits up to grace for the process to exit, then
// kills it.
func (c *child) stop(grace time.Duration) {
	if c.exited() {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		fmt.Fprintf(os.Stderr, "bench: %s did not stop within %s; killing it\n", c.name, grace)
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// logTail returns the last lines of the child's log, for error messages.
func (c *child) logTail(lines int) string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return "    " + strings.Join(all, "\n    ")
}

// waitReady polls ready until it reports true, the child exits, ctx ends or
// timeout passes.
func waitReady(ctx context.Context, c *child, timeout time.Duration, ready func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if ready() {
			return nil
		}
		if c.exited() {
			return fmt.Errorf("%s exited before it was ready (%v); the end of %s:\n%s", c.name, c.err, c.logPath, c.logTail(15))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s; the end of %s:\n%s", c.name, timeout, c.logPath, c.logTail(15))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

var probeClient = &http.Client{Timeout: time.Second}

// httpOK reports whether GET url answers 200.
func httpOK(url string) func() bool {
	return func() bool {
		resp, err := probeClient.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
}

// logContains reports whether the child's log holds s.
func logContains(c *child, s string) func() bool {
	return func() bool {
		b, err := os.ReadFile(c.logPath)
		return err == nil && strings.Contains(string(b), s)
	}
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// findClickHouse fails clearly when no ClickHouse server is installed, the
// way switchyard dev would look for one.
func findClickHouse() error {
	for _, name := range []string{"clickhouse-server", "clickhouse"} {
		if _, err := exec.LookPath(name); err == nil {
			return nil
		}
	}
	for _, path := range []string{"/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server", "/usr/bin/clickhouse"} {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
	}
	return errors.New("ClickHouse is not installed (no clickhouse-server or clickhouse on PATH): run `make ensure-clickhouse` or `apt-get install clickhouse-server`")
}
