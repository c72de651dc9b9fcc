//go:build !linux

package main

import "os/exec"

// detach is a no-op where Pdeathsig does not exist; the harness still stops
// its children on exit and on Ctrl-C.
func detach(cmd *exec.Cmd) {}
