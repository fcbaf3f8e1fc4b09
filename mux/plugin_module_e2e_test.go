package mux_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// outsideRule is a whole plugin in a module of its own, importing
// plugins/sdk alone, as an author outside this repository writes one.
const outsideRule = `package main

import (
	"context"

	"github.com/smpp-mux/smpp-mux/plugins/sdk"
)

type outside struct{}

func (outside) Submit(_ context.Context, m *sdk.Message) (sdk.Verdict, error) {
	if m.DestAddr == "4500000000" {
		return sdk.Reject(sdk.StatusInvDstAddr, "blocked"), nil
	}
	return sdk.Change(sdk.SetTLV(0x1401, []byte("outside")), sdk.DeleteTLV(sdk.TagUserMessageReference)), nil
}

func main() { sdk.Serve(outside{}) }
`

// buildOutsidePlugin builds outsideRule from a module outside this
// repository that requires smpp-mux, replaced by this checkout (as the
// example's README tells an author to do for local development), with
// the network off: the module cache and this repository's go.sum hold
// everything. It returns the binary's path.
func buildOutsidePlugin(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build a plugin: %v", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := fmt.Sprintf(`module example.com/outside-rule

go 1.26.0

require github.com/smpp-mux/smpp-mux v0.0.0

replace github.com/smpp-mux/smpp-mux => %s
`, root)
	for name, data := range map[string][]byte{"go.mod": []byte(gomod), "go.sum": sum, "main.go": []byte(outsideRule)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "outside-rule")
	cmd := exec.Command(goBin, "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false", "GOPROXY=off", "GOWORK=off", "GOSUMDB=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build in a module outside the repository: %v\n%s", err, out)
	}
	return bin
}

// TestPluginFromOutsideModule configures a plugin built in its own
// module as a client's rule: its edit reaches the provider, and its
// reject the client.
func TestPluginFromOutsideModule(t *testing.T) {
	bin := buildOutsidePlugin(t)
	h := newHarness(t, fmt.Sprintf(`
[[client]]
system_id = "outside"
password = "pw"
  [[client.rule]]
  module = "plugin"
  command = [%q]
`, bin))
	c := h.dial("outside", "pw", esme.Options{})
	m := sm("4599999999", false, "hello")
	m.TLVs = pdu.TLVs(pdu.AppendTLV(nil, pdu.TagUserMessageReference, []byte{0, 7}))
	if st, _, err := c.Submit(ctxT(t), m); err != nil || st != pdu.StatusOK {
		t.Fatalf("submit: %v %v", st, err)
	}
	subs := h.sim.Submits()
	if len(subs) != 1 {
		t.Fatalf("provider saw %d submits", len(subs))
	}
	if v, ok := subs[0].TLVs.Lookup(0x1401); !ok || string(v) != "outside" {
		t.Errorf("provider got TLVs % x; want 0x1401 = outside", []byte(subs[0].TLVs))
	}
	if _, ok := subs[0].UserMessageReference(); ok {
		t.Error("user_message_reference reached the provider; the plugin deleted it")
	}
	if st, _, _ := c.Submit(ctxT(t), sm("4500000000", false, "hello")); st != pdu.StatusInvDstAddr {
		t.Errorf("blocked destination: status %v; want ESME_RINVDSTADR", st)
	}
}
