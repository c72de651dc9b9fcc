package chserver

import (
	"os/exec"
	"syscall"
)

// detach gives the server its own process group, so that a Ctrl-C aimed at
// the terminal's foreground group reaches only the parent, which may still
// need the server while it shuts down (dev mode drains records into it).
// Pdeathsig makes the kernel kill the server when the parent dies, so a
// crashed or SIGKILLed test binary never leaves a server behind. The kernel
// sends it when the thread that forked exits, not the process; Go only ends
// threads whose goroutine exits while locked to them, which Start never
// does.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,
		Pdeathsig: syscall.SIGKILL,
	}
}
