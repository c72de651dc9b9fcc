package migrations

import (
	"context"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Internals for the external tests, which need testenv and so cannot live
// in this package (testenv imports it).

// VersionAtLeast is versionAtLeast.
var VersionAtLeast = versionAtLeast

// HeldLock is a migration lock taken outside Up.
type HeldLock struct{ lock *migrationLock }

// AcquireLock takes the migration lock as Up does.
func (r *Runner) AcquireLock(ctx context.Context, conn driver.Conn) (*HeldLock, error) {
	lock, err := r.acquireLock(ctx, conn)
	if err != nil {
		return nil, err
	}
	return &HeldLock{lock}, nil
}

// Release releases the lock as Up does when it ends.
func (h *HeldLock) Release(ctx context.Context) error { return h.lock.release(ctx) }

// Crash stops the heartbeat and leaves the lock table behind, as a runner
// killed mid-migration would.
func (h *HeldLock) Crash() { h.lock.stopHeartbeat() }

// Check returns ErrLockLost if the lock is no longer held.
func (h *HeldLock) Check(ctx context.Context) error { return h.lock.check(ctx) }

// Holder is how waiters name this lock's holder.
func (h *HeldLock) Holder() string { return h.lock.holder }
