package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/pdu"
)

const boltConfig = `[server]
listen = %q
[admin]
listen = %q
[store]
module = "bolt"
path = %q
[upstream]
system_id = "acct"
password = "secret"
reconnect_delay = "500ms"
[[upstream.host]]
address = %q
[[client]]
system_id = "shop"
password = "pw"
`

// TestReportsSurviveRestart stores receipts for a client that is bound as
// transmitter only, stops the mux (SIGKILL, or SIGTERM), starts it again on
// the same database, and expects every receipt when the client binds a
// receiver.
func TestReportsSurviveRestart(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) { reportsSurvive(t, sig) })
	}
}

func reportsSurvive(t *testing.T, sig syscall.Signal) {
	simAddr := freeAddr(t)
	simProc := start(t, "simulate", "--listen", simAddr, "--system-id", "acct", "--password", "secret", "--dlr-delay", "50ms")
	defer stop(t, simProc)
	waitListening(t, simAddr)
	muxAddr, adminAddr := freeAddr(t), freeAddr(t)
	cfg := writeConfig(t, fmt.Sprintf(boltConfig, muxAddr, adminAddr, filepath.Join(t.TempDir(), "mux.db"), simAddr))

	first := start(t, "run", "--config", cfg)
	waitListening(t, muxAddr)
	tx := bindEventually(t, muxAddr, "shop", pdu.CmdBindTransmitter)
	const n = 20
	ids := map[string]bool{}
	for len(ids) < n {
		st, id, err := tx.Submit(t.Context(), &pdu.SM{DestTON: 1, DestAddr: []byte("4512345678"), RegisteredDelivery: 1, ShortMessage: []byte("keep me")})
		if err != nil {
			t.Fatal(err)
		}
		if st == pdu.StatusOK {
			ids[id] = true
		}
	}
	eventually.That(t, 10*time.Second, "receipts stored", func() bool { return queued(t, adminAddr, "shop") == n })
	tx.Close()
	if sig == syscall.SIGKILL {
		_ = first.Process.Kill()
		_ = first.Wait()
	} else if code := stop(t, first); code != 0 {
		t.Fatalf("SIGTERM: exit %d", code)
	}

	second := start(t, "run", "--config", cfg)
	defer stop(t, second)
	waitListening(t, muxAddr)
	rx := bindEventually(t, muxAddr, "shop", pdu.CmdBindReceiver)
	defer rx.Close()
	got := map[string]bool{}
	timeout := time.After(15 * time.Second)
	for len(got) < n {
		select {
		case f := <-rx.Deliveries:
			id, _ := pdu.PeekReceiptedMessageID(f)
			if !ids[string(id)] {
				t.Fatalf("receipt for unknown id %q", id)
			}
			got[string(id)] = true
		case <-timeout:
			t.Fatalf("after restart: %d of %d receipts", len(got), n)
		}
	}
}

// bindEventually binds as systemID (password "pw") once the mux at addr
// takes the bind, failing t with the last refusal after 10s.
func bindEventually(t *testing.T, addr, systemID string, bind pdu.CommandID) *esme.Client {
	t.Helper()
	var c *esme.Client
	eventually.NoError(t, 10*time.Second, "bind as "+systemID, func() error {
		var err error
		c, err = esme.Dial(addr, systemID, "pw", esme.Options{Bind: bind})
		return err
	})
	return c
}

func queued(t *testing.T, adminAddr, client string) int {
	resp, err := http.Get("http://" + adminAddr + "/status")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var st struct {
		Queued map[string]int `json:"queued"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return -1
	}
	return st.Queued[client]
}
