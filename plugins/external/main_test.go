package external

import (
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks for leaked goroutines. None needs ignoring: Cleanup
// kills each plugin and go-plugin's remaining client goroutines (stdio,
// broker) end when the connection closes, within goleak's retries.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// buildExample builds plugins/examples/premium-class into dir with the go
// command and returns the binary's path.
func buildExample(tb testing.TB, dir string) string {
	tb.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		tb.Skipf("no go command to build the example plugin: %v", err)
	}
	bin := filepath.Join(dir, "premium-class")
	out, err := exec.Command(goBin, "build", "-o", bin, "github.com/smpp-mux/smpp-mux/plugins/examples/premium-class").CombinedOutput()
	if err != nil {
		tb.Fatalf("go build premium-class: %v\n%s", err, out)
	}
	return bin
}
