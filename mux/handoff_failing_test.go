package mux_test

import (
	"context"
	"time"

	"github.com/smpp-mux/smpp-mux/store"
)

// EnqueueLeased fails as Enqueue does: failing embeds *memory.Store,
// whose EnqueueLeased (store.LeasedEnqueuer, which the Intake uses for
// reports it hands over) would otherwise write past the broken disk.
func (f *failing) EnqueueLeased(ctx context.Context, items []store.Item, leased []bool, lease time.Duration) ([]string, error) {
	if broken.Load() {
		return nil, errDiskFull
	}
	return f.Store.EnqueueLeased(ctx, items, leased, lease)
}
