//go:build !linux

package chserver

import "os/exec"

// detach does nothing outside Linux: there is no parent-death signal there,
// so callers must Stop the server themselves.
func detach(*exec.Cmd) {}
