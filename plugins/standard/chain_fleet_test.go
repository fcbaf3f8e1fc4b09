package standard_test

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/store"
)

// fleetStore is the store a host shares among its instances, as far as a
// rate_limit's fleet bucket uses it: TakeTokens answers each bucket's key
// from its rule's script. It records what each bucket asked, so that the
// test can check the draws against the model. Only the test's goroutine
// calls it: mux.ApplyRules runs the rules on the caller's.
type fleetStore struct {
	store.FleetLimiter // the semaphores, which no rule uses: nil

	scripts map[string]fleetScript
	asked   map[string]int         // calls answered, up to and including the first that was not a grant
	over    map[string]bool        // the bucket had an answer other than a grant
	args    map[string]bucketArgs  // what each rule asked FleetBucket for
	bad     map[string]takeRequest // a TakeTokens call that did not match its bucket's FleetBucket
}

// bucketArgs are the rate and burst of a FleetBucket call.
type bucketArgs struct {
	rate  float64
	burst int
}

// takeRequest is a TakeTokens call.
type takeRequest struct {
	rate     float64
	burst, n int
}

var errStoreDown = errors.New("fleet store: down")

func newFleetStore() *fleetStore {
	return &fleetStore{
		scripts: make(map[string]fleetScript), asked: make(map[string]int), over: make(map[string]bool),
		args: make(map[string]bucketArgs), bad: make(map[string]takeRequest),
	}
}

// fleetKey is the key of the bucket of the rule at pos, named as the mux
// names it.
func fleetKey(pos int) string { return "rule:shop:" + strconv.Itoa(pos) }

// TakeTokens implements store.FleetLimiter from key's script. A grant
// gives all n tokens; a refusal says to retry in an hour.
func (fs *fleetStore) TakeTokens(_ context.Context, key string, rate float64, burst, n int) (int, time.Duration, error) {
	a, ok := fs.args[key]
	if !ok || a.rate != rate || a.burst != burst || n < 1 || n > burst {
		fs.bad[key] = takeRequest{rate, burst, n}
	}
	answer := fs.scripts[key].answer(fs.asked[key])
	if !fs.over[key] {
		fs.asked[key]++
		fs.over[key] = answer != aGrant
	}
	switch answer {
	case aGrant:
		return n, 0, nil
	case aRefuse:
		return 0, time.Hour, nil
	}
	return 0, 0, errStoreDown
}

// rulePlace is the place of a rule in the test's one client, at position
// pos of its list, on a host that shares its limits through fs when
// share is set (a mux with store.redis), or shares nothing (a mux with
// store.memory).
type rulePlace struct {
	fs    *fleetStore
	pos   int
	share bool
}

var _ module.BucketPlace = rulePlace{}

// Counter implements module.Place: a counter of the rule's own, not
// exported, as outside a place.
func (rulePlace) Counter(string, string) (*module.EventCounter, module.CleanerUpper) {
	return new(module.EventCounter), noCleanup{}
}

// Key implements module.Place.
func (p rulePlace) Key(name string) any {
	return struct {
		pos  int
		name string
	}{p.pos, name}
}

// FleetBucket implements module.BucketPlace: the mux's store.Bucket over
// fs, when the host shares its limits. It records rate and burst.
func (p rulePlace) FleetBucket(rate float64, burst int) module.TokenBucket {
	key := fleetKey(p.pos)
	p.fs.args[key] = bucketArgs{rate, burst}
	if !p.share {
		return nil
	}
	return store.NewBucket(p.fs, key, rate, burst, time.Second, nil)
}

// noCleanup releases nothing.
type noCleanup struct{}

func (noCleanup) Cleanup() error { return nil }

// placeOf is where loadRules provisions the rule at pos, and the store's
// script for its bucket; ok is false outside any place.
func (fs *fleetStore) placeOf(r *ruleSpec, pos int) (p rulePlace, ok bool) {
	if r.kind != kRateLimit || r.host == hostNone {
		return rulePlace{}, false
	}
	fs.scripts[fleetKey(pos)] = r.fleet
	return rulePlace{fs: fs, pos: pos, share: r.host == hostFleet}, true
}

// checkProvisioned checks that each rate_limit at a BucketPlace asked it
// for a bucket of its own rate and burst (the default burst filled in).
func (fs *fleetStore) checkProvisioned(t failer, specs []ruleSpec) {
	t.Helper()
	for i, r := range specs {
		if r.kind != kRateLimit || r.host == hostNone {
			continue
		}
		want := bucketArgs{1e-9, r.burst}
		if r.huge {
			want = bucketArgs{1e9, 1e9} // burst's default, ceil(rate)
		}
		if got, ok := fs.args[fleetKey(i)]; !ok || got != want {
			t.Fatalf("rule %d asked for the fleet bucket %+v (asked %v), want %+v", i, got, ok, want)
		}
	}
}

// checkDraws checks what the fleet buckets asked the store against the
// model: each TakeTokens with its bucket's rate and burst, and, for a
// bucket of the negligible rate, exactly one call per message that
// reached it until the store refused or failed. A bucket of rate 1e9
// holds a batch for store.Hold and asks again after it, so it asked at
// least once if the model did, and at most as often.
func (fs *fleetStore) checkDraws(t failer, specs []ruleSpec, st *chainState) {
	t.Helper()
	for i, r := range specs {
		if r.kind != kRateLimit || r.host != hostFleet {
			continue
		}
		key := fleetKey(i)
		if req, ok := fs.bad[key]; ok {
			t.Fatalf("rule %d: TakeTokens %+v, its bucket is %+v", i, req, fs.args[key])
		}
		got, want := fs.asked[key], st.limits[i].asked
		if r.huge && (got == 0) == (want == 0) && got <= want {
			continue
		}
		if got != want {
			t.Fatalf("rule %d (rate_limit, huge %v, script %+v) asked the store %d times, model %d", i, r.huge, r.fleet, got, want)
		}
	}
}
