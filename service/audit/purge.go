package audit

import (
	"context"
	"log/slog"
	"time"

	"github.com/keygate/keygate/service/store"
)

// Defaults of Purger.
const (
	DefaultRetention = 2160 * time.Hour // 90 days, as long as Channex keeps its change log
	purgeInterval    = 10 * time.Minute
	purgeBatch       = 1000
)

// Purger deletes events older than the retention, in batches of bounded
// size so that no purge holds locks or a transaction for long.
type Purger struct {
	Store     store.Audit
	Retention time.Duration
	Log       *slog.Logger
	// Interval between runs and Batch size; zero: 10 minutes, 1000.
	Interval time.Duration
	Batch    int
}

// PurgeOnce deletes, batch by batch, every event that occurred before
// now minus the retention, and returns how many it deleted.
func (p *Purger) PurgeOnce(ctx context.Context, now time.Time) (int, error) {
	batch := p.Batch
	if batch <= 0 {
		batch = purgeBatch
	}
	before := now.Add(-p.Retention)
	total := 0
	for {
		n, err := p.Store.PurgeAuditEvents(ctx, before, batch)
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}

// Run purges at start and then every Interval until ctx ends. Failures
// are logged and retried at the next run.
func (p *Purger) Run(ctx context.Context) {
	interval := p.Interval
	if interval <= 0 {
		interval = purgeInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := p.PurgeOnce(ctx, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			p.Log.Warn("audit purge failed", "error", err)
		case n > 0:
			p.Log.Info("audit events purged", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
