package auth

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/keygate/keygate/service/store"
)

// Usage records when and from where API keys are used and writes it to the
// store in batches, so that last_used_at and last_used_ip cost no write per
// request: one write per interval for all keys used in it, and one more on
// shutdown.
type Usage struct {
	store    store.Store
	interval time.Duration
	log      *slog.Logger

	mu      sync.Mutex
	pending map[string]store.KeyUse // key id → last use

	// flushing serializes flushes, so that a failed one has put its batch
	// back before the next one (the last, at shutdown) takes the pending.
	flushing sync.Mutex
}

// NewUsage returns a recorder that flushes every interval (10 s if zero).
func NewUsage(st store.Store, interval time.Duration, log *slog.Logger) *Usage {
	if interval <= 0 {
		interval = 10 * time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	return &Usage{store: st, interval: interval, log: log, pending: map[string]store.KeyUse{}}
}

// record notes a use of a key from a client address.
func (u *Usage) record(keyID string, at time.Time, ip netip.Addr) {
	u.mu.Lock()
	u.pending[keyID] = store.KeyUse{At: at, IP: ip}
	u.mu.Unlock()
}

// Run flushes every interval until ctx ends. The caller flushes once more
// after the last request (Flush), since that may come after ctx ends.
func (u *Usage) Run(ctx context.Context) {
	t := time.NewTicker(u.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			u.Flush(ctx)
		}
	}
}

// Flush writes the uses recorded since the last flush. On failure they are
// kept for the next one (the newest time of each key wins).
func (u *Usage) Flush(ctx context.Context) {
	u.flushing.Lock()
	defer u.flushing.Unlock()
	u.mu.Lock()
	batch := u.pending
	if len(batch) == 0 {
		u.mu.Unlock()
		return
	}
	u.pending = map[string]store.KeyUse{}
	u.mu.Unlock()
	if err := u.store.RecordKeyUse(ctx, batch); err != nil {
		u.log.Warn("recording API key use failed; will retry", "keys", len(batch), "error", err.Error())
		u.mu.Lock()
		for id, use := range batch {
			if use.At.After(u.pending[id].At) {
				u.pending[id] = use
			}
		}
		u.mu.Unlock()
	}
}
