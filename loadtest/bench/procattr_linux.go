package main

import (
	"os/exec"
	"syscall"
)

// detach gives a child its own process group, so that a Ctrl-C aimed at the
// terminal's foreground group reaches only the harness, which then stops the
// children in order (the proxy first, so that it drains its records).
// Pdeathsig makes the kernel send SIGTERM to the child if the harness dies
// without cleaning up; the kernel sends it when the forking thread exits, and
// Go only ends threads whose goroutine exits while locked to them, which the
// harness never does.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
