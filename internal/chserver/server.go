// Package chserver runs a private ClickHouse server as a child process, for
// tests and for `switchyard dev`.
//
// The server gets its own config, data and logs in one directory and listens
// on loopback ports of its own, so it never collides with a system install
// (which listens on 9000/8123 and writes to /var/lib/clickhouse). It works
// with Debian's 18.16 package (binary clickhouse-server) and with current
// releases (one binary, run as `clickhouse server`).
//
// This package only manages the process. It does not open client
// connections or create schemas: that is internal/chdb and migrations.
package chserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrNotFound reports that no ClickHouse server binary could be found.
// Callers that can do without a server (tests outside CI) check for it with
// errors.Is.
var ErrNotFound = errors.New("no ClickHouse server binary found")

const (
	installHint = "install it with: apt-get install clickhouse-server"

	defaultStartTimeout = 30 * time.Second
	// stopTimeout is how long Stop waits after SIGTERM. 18.16 stops in under
	// 3 s on an idle server; the rest is slack for a loaded machine.
	stopTimeout = 10 * time.Second
	// pollInterval is short because the server is usually ready about 0.1 s
	// after exec, and every test binary pays this wait once.
	pollInterval = 10 * time.Millisecond
	// portAttempts bounds retries when a port chosen by FreePort was taken
	// by someone else before the server could bind it.
	portAttempts = 3
	tailBytes    = 4 << 10
)

// Options configures Start.
type Options struct {
	// Dir holds config.xml, users.xml, the logs and the data. It is created
	// if missing. Reusing a directory keeps the data of the previous run.
	Dir string
	// TCPPort (native protocol) and HTTPPort; 0 picks a free port.
	TCPPort  int
	HTTPPort int
	// Binary is the server executable (a path or a name on PATH). Empty
	// means search for one: see Find.
	Binary string
	// LogLevel is the server's log level, "warning" by default so that
	// long test runs do not fill the disk.
	LogLevel string
	// StartTimeout bounds the wait for the server to answer /ping;
	// 30 s by default.
	StartTimeout time.Duration
	// Stdout and Stderr receive the process's own output, which is mostly
	// empty because the server logs to files in Dir. Nil discards it.
	Stdout io.Writer
	Stderr io.Writer
}

// Command is how to run a server binary.
type Command struct {
	Path string
	// Args come before --config-file: ["server"] for the single binary of
	// current releases.
	Args []string
}

// Server is a running private ClickHouse server.
type Server struct {
	cmd      *exec.Cmd
	dir      string
	tcpPort  int
	httpPort int

	done    chan struct{}
	exitErr error // set before done is closed

	stopOnce sync.Once
	stopErr  error
}

// wellKnownPaths are tried after PATH because Debian installs the server in
// /usr/sbin, which is not on a normal user's PATH.
var wellKnownPaths = []Command{
	{Path: "/usr/sbin/clickhouse-server"},
	{Path: "/usr/bin/clickhouse-server"},
	{Path: "/usr/bin/clickhouse", Args: []string{"server"}},
}

// Find resolves the server binary: binary if given (a path or a name on
// PATH), else clickhouse-server on PATH (18.16 and older packages), else
// clickhouse on PATH run as `clickhouse server` (current releases), else
// the standard install locations. It returns an error wrapping ErrNotFound
// with an install hint when there is none.
func Find(binary string) (Command, error) {
	if binary != "" {
		path, err := exec.LookPath(binary)
		if err != nil {
			return Command{}, fmt.Errorf("%w: %s: %v; %s", ErrNotFound, binary, err, installHint)
		}
		return commandFor(path), nil
	}
	if path, err := exec.LookPath("clickhouse-server"); err == nil {
		return Command{Path: path}, nil
	}
	if path, err := exec.LookPath("clickhouse"); err == nil {
		return Command{Path: path, Args: []string{"server"}}, nil
	}
	for _, c := range wellKnownPaths {
		if info, err := os.Stat(c.Path); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
			return c, nil
		}
	}
	return Command{}, fmt.Errorf("%w (looked for clickhouse-server and clickhouse on PATH); %s", ErrNotFound, installHint)
}

// commandFor runs the multi-call binary in server mode; every other name
// (clickhouse-server, a wrapper script) is taken to be a server already.
func commandFor(path string) Command {
	if filepath.Base(path) == "clickhouse" {
		return Command{Path: path, Args: []string{"server"}}
	}
	return Command{Path: path}
}

// Start writes the config into opts.Dir, starts the server and returns once
// it answers HTTP /ping. ctx bounds only the start-up: once Start returns,
// the server runs until Stop (or until this process dies, on Linux).
func Start(ctx context.Context, opts Options) (*Server, error) {
	command, err := Find(opts.Binary)
	if err != nil {
		return nil, err
	}
	if opts.Dir == "" {
		return nil, errors.New("chserver: Options.Dir is required")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("chserver: %w", err)
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "warning"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = defaultStartTimeout
	}
	choosePorts := opts.TCPPort == 0 || opts.HTTPPort == 0
	for attempt := 1; ; attempt++ {
		tcpPort, httpPort := opts.TCPPort, opts.HTTPPort
		if choosePorts {
			ports, err := freePorts(2)
			if err != nil {
				return nil, fmt.Errorf("chserver: %w", err)
			}
			if tcpPort == 0 {
				tcpPort = ports[0]
			}
			if httpPort == 0 {
				httpPort = ports[1]
			}
		}
		s, err := start(ctx, command, dir, tcpPort, httpPort, opts)
		if err == nil {
			return s, nil
		}
		// FreePort can only promise that a port was free a moment ago;
		// another process may bind it first. Retry only ports we chose.
		if choosePorts && attempt < portAttempts && errors.Is(err, errAddrInUse) {
			continue
		}
		return nil, err
	}
}

var errAddrInUse = errors.New("address already in use")

func start(ctx context.Context, command Command, dir string, tcpPort, httpPort int, opts Options) (*Server, error) {
	configPath, err := writeConfig(configValues{Dir: dir, TCPPort: tcpPort, HTTPPort: httpPort, LogLevel: opts.LogLevel})
	if err != nil {
		return nil, fmt.Errorf("chserver: write config: %w", err)
	}
	errorLog := filepath.Join(dir, errorLogFile)
	// The error log may hold earlier runs; only what this run appends
	// explains a failure.
	errorLogStart := fileSize(errorLog)

	args := append(append([]string{}, command.Args...), "--config-file="+configPath)
	cmd := exec.Command(command.Path, args...)
	cmd.Dir = dir
	cmd.Stdout = opts.Stdout
	stderr := &tailBuffer{max: tailBytes}
	cmd.Stderr = stderr
	if opts.Stderr != nil {
		cmd.Stderr = io.MultiWriter(opts.Stderr, stderr)
	}
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("chserver: start %s: %w", command.Path, err)
	}
	s := &Server{
		cmd:      cmd,
		dir:      dir,
		tcpPort:  tcpPort,
		httpPort: httpPort,
		done:     make(chan struct{}),
	}
	go func() {
		s.exitErr = cmd.Wait()
		close(s.done)
	}()

	failure := func(format string, args ...any) error {
		msg := fmt.Sprintf(format, args...)
		tail := strings.TrimSpace(tailFile(errorLog, errorLogStart, tailBytes) + "\n" + stderr.String())
		var wrapped error = errStartFailed
		if strings.Contains(tail, "Address already in use") {
			wrapped = errAddrInUse
		}
		if tail == "" {
			return fmt.Errorf("chserver: %s (%w; no error log at %s)", msg, wrapped, errorLog)
		}
		return fmt.Errorf("chserver: %s (%w); last lines of %s:\n%s", msg, wrapped, errorLog, tail)
	}

	timeout := time.NewTimer(opts.StartTimeout)
	defer timeout.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if s.ping(ctx) {
			return s, nil
		}
		select {
		case <-s.done:
			return nil, failure("%s exited during start-up: %v", command.Path, s.exitErr)
		case <-ctx.Done():
			s.kill()
			return nil, fmt.Errorf("chserver: waiting for the server to start: %w", ctx.Err())
		case <-timeout.C:
			s.kill()
			return nil, failure("no answer on http://127.0.0.1:%d/ping within %s", httpPort, opts.StartTimeout)
		case <-tick.C:
		}
	}
}

var errStartFailed = errors.New("server did not start")

// httpClient never keeps a connection open: on SIGTERM the server waits for
// open connections to close, up to keep_alive_timeout, which would add
// seconds to every Stop.
var httpClient = &http.Client{
	Timeout:   5 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

func (s *Server) ping(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.httpURL("/ping"), nil)
	if err != nil {
		return false
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64))
	return err == nil && resp.StatusCode == http.StatusOK && strings.TrimSpace(string(body)) == "Ok."
}

func (s *Server) httpURL(path string) string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.httpPort)) + path
}

// TCPAddr is the native-protocol address, "127.0.0.1:port".
func (s *Server) TCPAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.tcpPort))
}

// TCPPort is the native-protocol port.
func (s *Server) TCPPort() int { return s.tcpPort }

// HTTPPort is the HTTP interface's port.
func (s *Server) HTTPPort() int { return s.httpPort }

// Dir is the absolute path of the server's directory.
func (s *Server) Dir() string { return s.dir }

// Version asks the server for its version, e.g. "18.16.1".
func (s *Server) Version(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.httpURL("/?query="+url.QueryEscape("SELECT version()")), nil)
	if err != nil {
		return "", err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("chserver: version: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return "", fmt.Errorf("chserver: version: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("chserver: version: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return strings.TrimSpace(string(body)), nil
}

// Done is closed when the server process has exited, for whatever reason.
func (s *Server) Done() <-chan struct{} { return s.done }

// Wait blocks until the process exits and returns its exit error.
func (s *Server) Wait() error {
	<-s.done
	return s.exitErr
}

// Stop sends SIGTERM, waits up to 10 s for the server to exit, then kills
// it. It is safe to call more than once and from several goroutines; every
// call returns the first call's result. It reports an error when the server
// had already died on its own (a crash the caller should hear about) or
// had to be killed.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Server) stop() error {
	select {
	case <-s.done:
		return fmt.Errorf("chserver: server had exited before Stop: %v", s.exitErr)
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		select {
		case <-s.done: // exited between the check and the signal
			return nil
		default:
			s.kill()
			return fmt.Errorf("chserver: SIGTERM: %w", err)
		}
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-s.done:
		return nil
	case <-timer.C:
		s.kill()
		return fmt.Errorf("chserver: server did not stop within %s of SIGTERM; killed it", stopTimeout)
	}
}

// Kill ends the server at once with SIGKILL, as a crash or an OOM kill
// would, and waits for it to be reaped. Fault tests use it; a later Stop
// reports that the server had exited.
func (s *Server) Kill() { s.kill() }

// kill ends the process at once and waits for it to be reaped.
func (s *Server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ports, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// freePorts holds every listener open until all n ports are chosen, so that
// the n ports differ.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func fileSize(path string) int64 {
	info, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return info.Size()
}

// tailFile returns up to max bytes from the end of path, reading nothing
// before offset from.
func tailFile(path string, from int64, max int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	size := fileSize(path)
	if size-from > int64(max) {
		from = size - int64(max)
	}
	if from < 0 || from > size {
		from = 0
	}
	buf := make([]byte, size-from)
	n, _ := f.ReadAt(buf, from)
	return string(buf[:n])
}

// tailBuffer keeps the last max bytes written to it. The exec package copies
// the child's stderr into it from its own goroutine, hence the lock.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
