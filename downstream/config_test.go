package downstream

import (
	"runtime"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/link"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// TestConfigDefaults checks Defaults, the one place of the session
// limits' defaults: zero fields take them, set ones stay, the unbound
// limit per IP follows and is capped by max_unbound, a negative
// bind_fail_limit stays (it disables the lockout), and a second call
// changes nothing.
func TestConfigDefaults(t *testing.T) {
	var c Config
	c.Defaults()
	want := Config{
		BindTimeout: 10 * time.Second, MaxConnections: 10000, MaxPerIP: 100, MaxUnbound: 1000, MaxUnboundPerIP: 100,
		MaxBindChecks: max(1, runtime.GOMAXPROCS(0)/2), BindFailLimit: 5, BindLockout: time.Minute,
		EnquireLink: 30 * time.Second, ResponseTimeout: 30 * time.Second, Window: 10,
		MaxLength: pdu.DefaultMaxLength, MaxQueued: link.DefaultMaxQueued,
	}
	if c != want {
		t.Fatalf("defaults:\n%+v\nwant\n%+v", c, want)
	}
	again := c
	again.Defaults()
	if again != c {
		t.Fatalf("a second Defaults changed %+v to %+v", c, again)
	}
	set := Config{MaxUnbound: 5, MaxUnboundPerIP: 50, BindFailLimit: -1, Window: 3}
	set.Defaults()
	if set.MaxUnboundPerIP != 5 || set.BindFailLimit != -1 || set.Window != 3 || set.Logger != nil {
		t.Fatalf("set fields: %+v", set)
	}
}
