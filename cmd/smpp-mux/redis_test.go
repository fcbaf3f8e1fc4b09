package main

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/internal/redistest"
	"github.com/smpp-mux/smpp-mux/pdu"
)

const redisConfig = `[server]
listen = %q
response_timeout = "1s"
dlr_grace = "3s"
[admin]
listen = ""
[store]
module = "redis"
%s
timeout = "500ms"
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

// receipts collects the ids of DELIVRD receipts from several receivers.
type receipts struct {
	mu  sync.Mutex
	got map[string]int
}

func (r *receipts) drain(c *esme.Client) {
	for {
		select {
		case f := <-c.Deliveries:
			text, _, _, _ := pdu.PeekText(f)
			if !strings.Contains(string(text), "stat:DELIVRD") {
				continue
			}
			id, _ := pdu.PeekReceiptedMessageID(f)
			r.mu.Lock()
			r.got[string(id)]++
			r.mu.Unlock()
		case <-c.Done():
			return
		}
	}
}

func (r *receipts) count(ids map[string]bool) (distinct, dups int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, n := range r.got {
		if ids[id] {
			distinct++
			dups += n - 1
		}
	}
	return distinct, dups
}

// Two mux processes on one Redis in front of one provider account: the
// simulator spreads receipts over the binds of both, and the client, bound
// to each, gets every receipt exactly once; with one mux killed in the
// middle, at least once. The same on a three-master Redis Cluster.
func TestTwoInstancesOneRedis(t *testing.T) {
	for _, kill := range []bool{false, true} {
		t.Run(map[bool]string{false: "all acks succeed", true: "one instance killed"}[kill], func(t *testing.T) {
			redisAddr, _, _ := redistest.Start(t)
			twoInstances(t, fmt.Sprintf("url = \"redis://%s/0\"", redisAddr), kill)
		})
	}
	t.Run("cluster", func(t *testing.T) {
		nodes := redistest.StartCluster(t)
		twoInstances(t, fmt.Sprintf("addrs = [%q, %q, %q]", nodes[0], nodes[1], nodes[2]), false)
	})
}

// twoInstances runs the test with the [store] keys that say where Redis is.
func twoInstances(t *testing.T, where string, kill bool) {
	simAddr := freeAddr(t)
	simProc := start(t, "simulate", "--listen", simAddr, "--system-id", "acct", "--password", "secret", "--dlr-delay", "300ms")
	defer stop(t, simProc)
	waitListening(t, simAddr)
	var addrs []string
	var procs []*exec.Cmd
	for range 2 {
		a := freeAddr(t)
		p := start(t, "run", "--config", writeConfig(t, fmt.Sprintf(redisConfig, a, where, simAddr)))
		waitListening(t, a)
		addrs, procs = append(addrs, a), append(procs, p)
	}
	defer func() {
		for _, p := range procs {
			if p.ProcessState == nil {
				stop(t, p)
			}
		}
	}()
	rec := &receipts{got: map[string]int{}}
	for _, a := range addrs {
		rx := bindEventually(t, a, "shop", pdu.CmdBindReceiver)
		defer rx.Close()
		go rec.drain(rx)
	}
	tx := bindEventually(t, addrs[0], "shop", pdu.CmdBindTransmitter)
	defer tx.Close()
	const n = 60
	ids := map[string]bool{}
	for len(ids) < n {
		st, id, err := tx.Submit(t.Context(), &pdu.SM{DestTON: 1, DestAddr: []byte("4512345678"), RegisteredDelivery: 1, ShortMessage: []byte("two")})
		if err != nil {
			t.Fatal(err)
		}
		if st == pdu.StatusOK {
			ids[id] = true
		}
		if kill && len(ids) == n/2 {
			// Kill the second instance while receipts flow through it.
			_ = procs[1].Process.Signal(syscall.SIGKILL)
			_ = procs[1].Wait()
		}
	}
	eventually.That(t, 30*time.Second, "every receipt", func() bool { d, _ := rec.count(ids); return d == n })
	time.Sleep(500 * time.Millisecond) // a duplicate would arrive now
	_, dups := rec.count(ids)
	t.Logf("%d receipts, %d duplicates", n, dups)
	if !kill && dups != 0 {
		t.Fatalf("%d duplicate receipts with every ack succeeding", dups)
	}
}
