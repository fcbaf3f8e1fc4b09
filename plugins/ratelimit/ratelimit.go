package ratelimit

import (
	"fmt"
	"math"

	"golang.org/x/time/rate"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/pdu"
)

func init() { module.Register(new(RateLimit)) }

// maxRate bounds rate so that its default burst fits an int32; it is far
// beyond what any SMPP bind carries.
const maxRate = 1e9

// errThrottled is every reject: one value, so that a client over its limit
// costs no allocation. Nobody may modify it.
var errThrottled = &pdu.StatusError{Status: pdu.StatusThrottled, Reason: "rule.rate_limit: over the client's rate"}

// RateLimit is a token bucket over all binds of a client; over the limit it
// rejects submit_sm with ESME_RTHROTTLED. It is safe for concurrent use:
// the limiter locks itself.
type RateLimit struct {
	Rate  float64 `toml:"rate"`  // submits per second
	Burst int     `toml:"burst"` // bucket size; default ceil(Rate)

	lim   *rate.Limiter      // shared by the client's sessions; set by Provision
	fleet module.TokenBucket // with a shared store: the fleet's bucket, in place of lim; set by Provision
}

var (
	_ module.Provisioner = (*RateLimit)(nil)
	_ module.Validator   = (*RateLimit)(nil)
	_ module.Rule        = (*RateLimit)(nil)
)

// MuxModule implements module.Module.
func (*RateLimit) MuxModule() module.Info {
	return module.Info{
		ID:  "rule.rate_limit",
		New: func() module.Module { return new(RateLimit) },
		Doc: "token bucket over all binds of a client; over it, submit_sm gets 0x58",
	}
}

// Provision implements module.Provisioner: it fills in the default burst and
// builds the limiter: the fleet's, when the mux's store is shared by
// several instances, else a local one. Values out of range are left for
// Validate to report.
func (rl *RateLimit) Provision(ctx module.Context) error {
	if rl.Burst == 0 && rl.validRate() {
		rl.Burst = max(1, int(math.Ceil(rl.Rate)))
	}
	rl.lim = rate.NewLimiter(rate.Limit(rl.Rate), rl.Burst)
	if rl.validRate() && rl.Burst >= 1 {
		rl.fleet = ctx.FleetBucket(rl.Rate, rl.Burst)
	}
	return nil
}

func (rl *RateLimit) validRate() bool { return rl.Rate > 0 && rl.Rate <= maxRate }

// Validate implements module.Validator. It reads only the decoded keys, so it
// gives the same answer before Provision as after.
func (rl *RateLimit) Validate() error {
	if !rl.validRate() { // NaN fails too
		return fmt.Errorf("rule.rate_limit: rate: must be above 0 and at most %g per second, got %g", float64(maxRate), rl.Rate)
	}
	if rl.Burst < 0 { // 0 is the default, ceil(rate)
		return fmt.Errorf("rule.rate_limit: burst: must be at least 1, got %d", rl.Burst)
	}
	return nil
}

// Submit implements module.Rule: it takes a token or rejects with
// ESME_RTHROTTLED. It never changes the message.
func (rl *RateLimit) Submit(*module.Message) error {
	if rl.fleet != nil {
		if rl.fleet.Allow() {
			return nil
		}
		return errThrottled
	}
	if rl.lim.Allow() {
		return nil
	}
	return errThrottled
}
