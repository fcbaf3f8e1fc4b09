package redis

import (
	"context"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/store"
)

// Wake-ups: enqueueScript publishes "<consumer>\n<client>" on one channel,
// <prefix>:wake, when it added entries to a client's queue; every
// instance subscribes to it (Subscribe) and wakes that client's
// dispatcher, so that a receipt stored by one instance reaches a client
// bound on another at once instead of at its next poll.
//
// One channel carrying the client's name, not one per client: an
// instance then holds one subscription whatever the number of clients,
// reloads that add or remove clients change nothing in Redis, and it
// works from Redis 6.2 on. In a Cluster, PUBLISH is broadcast to every
// node, so the subscription may sit on any node; sharded pub/sub
// (SPUBLISH/SSUBSCRIBE, Redis 7) would keep it on one shard, but with a
// channel per client it needs a subscription per slot, and with one
// channel every message goes to one shard anyway. The cost is that every
// instance hears every wake-up: one short message per client per batch.

// wakeMessage is what Enqueue publishes for client.
func (s *Store) wakeMessage(client string) string { return s.consumer + "\n" + client }

// wakeHealth is how often the subscription is pinged when quiet, so that
// a connection that died without a word is found and replaced.
const wakeHealth = 3 * time.Second

// Subscribe implements store.Notifier on the wake channel. It skips the
// wake-ups of this instance's own Enqueue calls (the mux wakes its own
// dispatchers). go-redis resubscribes after a reconnect; every
// subscription confirmation, the first included, wakes every client
// (store.AllClients), as wake-ups sent in between were lost.
func (s *Store) Subscribe(ctx context.Context, wake func(client string)) error {
	s.closeMu.RLock()
	if s.closed || s.rdb == nil {
		s.closeMu.RUnlock()
		return store.ErrClosed
	}
	ps := s.rdb.Subscribe(ctx, s.keys.wake())
	s.closeMu.RUnlock()
	defer ps.Close()
	ch := ps.ChannelWithSubscriptions(goredis.WithChannelHealthCheckInterval(wakeHealth))
	subscribed := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.stop:
			return nil
		case msg, ok := <-ch:
			if !ok {
				return nil
			}
			switch m := msg.(type) {
			case *goredis.Subscription:
				if m.Kind != "subscribe" {
					continue
				}
				if subscribed++; subscribed > 1 {
					s.log.Info("wake-up channel subscribed again; waking every client", zap.String("channel", m.Channel))
				}
				wake(store.AllClients)
			case *goredis.Message:
				from, client, ok := strings.Cut(m.Payload, "\n")
				if ok && from != s.consumer && client != "" {
					wake(client)
				}
			}
		}
	}
}
