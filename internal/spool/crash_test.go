package spool

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
)

const crashHelperEnv = "SPOOL_CRASH_HELPER_DIR"

func crashConfig(dir string) config.Spool {
	cfg := testConfig(dir)
	cfg.MaxBytes = 256 << 20
	cfg.SegmentBytes = 16 << 10
	return cfg
}

// runCrashHelper is the child of TestSIGKILL: it appends records 1, 2, 3...
// for ever, reporting each on stdout once Append has returned, and every
// so often reads and acknowledges a batch, reporting "ack-start N" before
// Ack and "ack N" after it (N the last record of the batch). It never
// closes the spool: the parent kills it.
func runCrashHelper(dir string) int {
	s, err := Open(crashConfig(dir), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	out := os.Stdout
	for i := 1; ; i++ {
		if err := s.Append(payload(i)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintf(out, "append %d\n", i)
		if i%37 == 0 {
			b, err := s.Read(20, 1<<20)
			if err != nil || b.Len() == 0 {
				fmt.Fprintln(os.Stderr, "read:", err)
				return 1
			}
			last := recordID(b.Records()[b.Len()-1])
			fmt.Fprintf(out, "ack-start %d\n", last)
			if err := s.Ack(b); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			fmt.Fprintf(out, "ack %d\n", last)
		}
	}
}

func recordID(r []byte) int {
	id, _, _ := strings.Cut(strings.TrimPrefix(string(r), `{"id":`), ",")
	n, _ := strconv.Atoi(id)
	return n
}

// TestSIGKILL kills a process that is appending and acknowledging at full
// speed, at a moment it does not choose, and reopens its spool: every
// record whose Append returned is there, none that was acknowledged comes
// back, and nothing is out of order. The fsync policy is "never": a
// process crash must lose nothing even then.
func TestSIGKILL(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGKILL")
	}
	dir := t.TempDir()
	for round := range 3 {
		appended, acked, ackStarted := crashChild(t, dir, 1500+round*700)
		s, _ := openSpool(t, crashConfig(dir))
		got := drain(t, s, 100, 1<<20)
		closeSpool(t, s)
		if len(got) == 0 {
			t.Fatalf("round %d: nothing survived; appended %d", round, appended)
		}
		first := recordID([]byte(got[0]))
		// The position is the last finished Ack's, or the one in flight.
		if first != acked+1 && first != ackStarted+1 {
			t.Fatalf("round %d: replay starts at %d; last Ack finished at %d, in flight %d", round, first, acked, ackStarted)
		}
		for i, r := range got {
			if id := recordID([]byte(r)); id != first+i || r != string(payload(id)) {
				t.Fatalf("round %d: record %d of the replay is %.40q, want id %d", round, i, r, first+i)
			}
		}
		if last := first + len(got) - 1; last < appended {
			t.Fatalf("round %d: replay ends at %d, but Append returned for %d", round, last, appended)
		}
		// The next round's child starts over at 1 on an empty spool.
	}
}

// crashChild runs the helper on dir until it has reported kill appends,
// kills it with SIGKILL and returns the last append, finished Ack and
// started Ack it reported.
func crashChild(t *testing.T, dir string, kill int) (appended, acked, ackStarted int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashHelperEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	lines := bufio.NewScanner(stdout)
	killed := false
	for lines.Scan() {
		var n int
		switch verb, arg, _ := strings.Cut(lines.Text(), " "); verb {
		case "append":
			n, _ = strconv.Atoi(arg)
			appended = n
		case "ack-start":
			n, _ = strconv.Atoi(arg)
			ackStarted = n
		case "ack":
			n, _ = strconv.Atoi(arg)
			acked = n
		}
		if appended >= kill && !killed {
			cmd.Process.Kill() // SIGKILL
			killed = true
		}
	}
	io.Copy(io.Discard, stdout)
	cmd.Wait()
	if !killed {
		t.Fatalf("helper exited by itself after %d appends", appended)
	}
	return appended, acked, ackStarted
}
