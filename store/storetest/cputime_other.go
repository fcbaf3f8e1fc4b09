//go:build !unix

package storetest

import "time"

// CPUTime is not measured where getrusage(2) is missing: benchmarks
// report 0 CPU per message there.
func CPUTime() time.Duration { return 0 }
