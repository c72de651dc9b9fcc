package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// noiseSample is the machine's busy CPU time and that of the harness's own
// process tree at one moment. Two samples tell how much CPU other processes
// took meanwhile: on a shared machine that is what makes figures noisy.
type noiseSample struct {
	at          time.Time
	machineBusy time.Duration
	ours        time.Duration
	ok          bool
}

func sampleNoise() noiseSample {
	busy, err := machineBusy()
	if err != nil {
		return noiseSample{}
	}
	return noiseSample{at: time.Now(), machineBusy: busy, ours: treeCPU(os.Getpid()), ok: true}
}

// otherCores returns the average number of cores that processes outside the
// harness's tree kept busy since s, or -1 if unknown.
func (s noiseSample) otherCores() float64 {
	now := sampleNoise()
	if !s.ok || !now.ok {
		return -1
	}
	other := (now.machineBusy - s.machineBusy) - (now.ours - s.ours)
	return max(0, other.Seconds()/now.at.Sub(s.at).Seconds())
}

// machineBusy sums the non-idle times of the "cpu" line of /proc/stat.
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	// cpu user nice system idle iowait irq softirq steal ...
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		if i < len(f) {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += v
		}
	}
	return time.Duration(ticks) * clockTick, nil
}

// treeCPU returns the CPU time (utime+stime) of root and every process
// descending from it, ClickHouse under dev mode included.
func treeCPU(root int) time.Duration {
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	children := map[int][]int{}
	ticks := map[int]int64{}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
		ppid, _ := strconv.Atoi(f[1])
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		children[ppid] = append(children[ppid], pid)
		ticks[pid] = utime + stime
	}
	var total int64
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		total += ticks[pid]
		queue = append(queue, children[pid]...)
	}
	return time.Duration(total) * clockTick
}

// cores is how many CPUs the figures were taken on.
func cores() int { return runtime.NumCPU() }

// waitQuiet waits, up to limit, until processes outside the benchmark have
// kept less than a fifth of a core busy over the last second, so that a
// phase does not start in the middle of someone else's build.
func waitQuiet(ctx context.Context, limit time.Duration) {
	deadline := time.Now().Add(limit)
	announced := false
	for {
		s := sampleNoise()
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		other := s.otherCores()
		if other < 0.2 {
			return
		}
		if time.Now().After(deadline) {
			progress("the machine is still busy (%.2f cores used by other processes); measuring anyway", other)
			return
		}
		if !announced {
			progress("waiting up to %s for other processes to leave the CPUs (%.2f cores busy)", limit, other)
			announced = true
		}
	}
}
