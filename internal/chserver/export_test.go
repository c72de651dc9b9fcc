package chserver

import "testing"

// KillForTest kills the server without going through Stop, as a crash would.
func KillForTest(t *testing.T, s *Server) {
	t.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
}
