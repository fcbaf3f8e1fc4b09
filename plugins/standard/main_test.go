package standard_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: the rules, and
// the fleet buckets of the rate limits, start none of their own.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
