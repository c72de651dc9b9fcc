package retention

import (
	"context"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/switchyard/switchyard/config"
)

// DefaultCheckInterval is how often Run enforces retention when
// config.Retention.CheckInterval is zero. Partitions are days or months,
// so checking more often than hourly gains nothing.
const DefaultCheckInterval = time.Hour

// Run enforces r at once and then every r.CheckInterval until ctx ends,
// logging what it deletes. A failed round is logged and retried at the next
// interval; Run never stops on its own while any period is set. With every
// period 0 it enforces once, to remove TTLs an earlier configuration set,
// and returns.
func Run(ctx context.Context, conn driver.Conn, r config.Retention, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	interval := r.CheckInterval
	if interval <= 0 {
		interval = DefaultCheckInterval
	}
	keepsAll := r.RequestsDays <= 0 && r.BodiesDays <= 0 && r.RollupsDays <= 0
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		enforceAndLog(ctx, conn, r, interval, log)
		if keepsAll {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func enforceAndLog(ctx context.Context, conn driver.Conn, r config.Retention, interval time.Duration, log *slog.Logger) {
	report, err := Enforce(ctx, conn, r, time.Now())
	for _, d := range report.Dropped {
		log.Info("retention: dropped expired partition", "table", d.Table, "partition", d.PartitionID,
			"rows", d.Rows, "from", d.Start, "to", d.End)
	}
	for _, c := range report.TTLChanges {
		log.Info("retention: changed table TTL", "table", c.Table, "from", c.From, "to", c.To)
	}
	for _, s := range report.Skipped {
		if s.Reason == reasonMissing {
			// Expected until the migration that creates it has run.
			log.Debug("retention: skipped table", "table", s.Table, "reason", s.Reason)
			continue
		}
		log.Warn("retention: cannot enforce retention on table", "table", s.Table, "reason", s.Reason)
	}
	if err != nil && ctx.Err() == nil {
		log.Warn("retention: enforcing failed; will retry", "err", err, "next_in", interval)
	}
}
