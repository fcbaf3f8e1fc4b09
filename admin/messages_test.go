package admin_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/admin"
	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
)

const adminToken = "trace-token"

func withToken(*rig) admin.Options { return admin.Options{Token: adminToken} }

// getJSON GETs path with the token and decodes a 200 answer into v.
func getJSON(t *testing.T, r *rig, path string, v any) int {
	t.Helper()
	code, body := do(t, "GET", r.base+path, adminToken, "")
	if code == http.StatusOK {
		if err := json.Unmarshal([]byte(body), v); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, body)
		}
	}
	return code
}

// receiptOf waits for a deliver_sm on c and returns its receipt's id.
func receiptOf(t *testing.T, c *esme.Client) string {
	t.Helper()
	select {
	case f := <-c.Deliveries:
		if id, ok := pdu.PeekReceiptedMessageID(f); ok && len(id) > 0 {
			return string(id)
		}
		text, _, _, _ := pdu.PeekText(f)
		id, _ := pdu.ReceiptID(text)
		return string(id)
	case <-time.After(10 * time.Second):
		t.Fatal("no deliver_sm for the client")
		return ""
	}
}

func TestMessageTrace(t *testing.T) {
	r := startRig(t, withToken)
	shop := r.bind(t, "shop")
	st, id, err := shop.Submit(t.Context(), &pdu.SM{DestTON: 1, DestAddr: []byte("4512345678"), ShortMessage: []byte("hi"), RegisteredDelivery: 1})
	if err != nil || st != pdu.StatusOK || id == "" {
		t.Fatalf("submit: %v %q %v", st, id, err)
	}
	if got := receiptOf(t, shop); !strings.EqualFold(strings.TrimLeft(got, "0"), strings.TrimLeft(id, "0")) {
		t.Fatalf("receipt for %q, want %q", got, id)
	}
	// The simulator may send the receipt before the mux stored the id:
	// then it went through the orphan queue (moved is set), and still
	// shows when it was stored.
	var tr mux.MessageTrace
	eventually.That(t, 10*time.Second, "the message's receipt delivered", func() bool {
		tr = mux.MessageTrace{}
		return getJSON(t, r, "/messages/"+id, &tr) == http.StatusOK && len(tr.Receipts) == 1 && tr.Receipts[0].State == "delivered"
	})
	rc := tr.Receipts[0]
	if tr.Client != "shop" || !tr.Traced || tr.Submitted == nil || time.Since(*tr.Submitted) > time.Minute ||
		rc.Stat != pdu.StatDelivered || rc.Queue != "shop" || rc.Stored == nil || rc.Delivered == nil || rc.Delivered.Before(*rc.Stored) {
		t.Fatalf("trace: %+v", tr)
	}

	for _, tc := range []struct {
		name, path, token string
		code              int
	}{
		{"unknown id", "/messages/nosuch", adminToken, http.StatusNotFound},
		{"no token", "/messages/" + id, "", http.StatusUnauthorized},
		{"wrong token", "/messages/" + id, "wrong", http.StatusUnauthorized},
		{"queue without token", "/queues/shop", "", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, body := do(t, "GET", r.base+tc.path, tc.token, ""); code != tc.code || !strings.Contains(body, `"error"`) {
				t.Fatalf("GET %s: %d %s, want %d", tc.path, code, body, tc.code)
			}
		})
	}
}

type queueAnswer struct {
	Client  string            `json:"client"`
	Entries []mux.QueuedEntry `json:"entries"`
}

type moveAnswer struct {
	To    string      `json:"to"`
	Moved []mux.Moved `json:"moved"`
}

// orphans waits for n entries in the orphan queue and returns them.
func orphans(t *testing.T, r *rig, n int) []mux.QueuedEntry {
	t.Helper()
	var q queueAnswer
	eventually.That(t, 10*time.Second, "the orphaned queue's entries listed", func() bool {
		q = queueAnswer{}
		return getJSON(t, r, "/queues/~orphaned", &q) == http.StatusOK && len(q.Entries) == n
	})
	return q.Entries
}

func TestOrphansMoved(t *testing.T) {
	r := startRig(t, withToken)
	shop := r.bind(t, "shop")
	for _, id := range []string{"ghost1", "ghost2"} {
		if err := r.sim.InjectReceipt("acct", id); err != nil {
			t.Fatal(err)
		}
	}
	es := orphans(t, r, 2)
	byMsg := map[string]mux.QueuedEntry{}
	for _, e := range es {
		if e.Kind != "report" || e.Stat != pdu.StatDelivered || e.EntryID == "" || e.Enqueued.IsZero() || !strings.HasPrefix(e.Text, "id:"+e.MessageID) {
			t.Fatalf("orphan entry: %+v", e)
		}
		byMsg[e.MessageID] = e
	}
	if len(byMsg) != 2 {
		t.Fatalf("orphans: %+v", es)
	}

	// By message id, as the provider or the client writes it.
	var mv moveAnswer
	code, body := do(t, "POST", r.base+"/queues/~orphaned/move", adminToken, `{"to":"shop","message_ids":["GHOST1"]}`)
	if code != http.StatusOK || json.Unmarshal([]byte(body), &mv) != nil || len(mv.Moved) != 1 || mv.Moved[0].MessageID != "ghost1" {
		t.Fatalf("move ghost1: %d %s", code, body)
	}
	if got := receiptOf(t, shop); got != "ghost1" {
		t.Fatalf("shop got a receipt for %q, want ghost1", got)
	}
	// By entry id.
	code, body = do(t, "POST", r.base+"/queues/~orphaned/move", adminToken, `{"to":"shop","ids":["`+byMsg["ghost2"].EntryID+`"]}`)
	if code != http.StatusOK || json.Unmarshal([]byte(body), &mv) != nil || len(mv.Moved) != 1 || mv.Moved[0].EntryID != byMsg["ghost2"].EntryID {
		t.Fatalf("move ghost2: %d %s", code, body)
	}
	if got := receiptOf(t, shop); got != "ghost2" {
		t.Fatalf("shop got a receipt for %q, want ghost2", got)
	}
	orphans(t, r, 0)
	var q queueAnswer
	if code := getJSON(t, r, "/queues/shop?limit=5", &q); code != http.StatusOK || q.Client != "shop" || q.Entries == nil {
		t.Fatalf("GET /queues/shop: %d %+v", code, q)
	}

	for _, tc := range []struct {
		name, method, path, body string
		code                     int
	}{
		{"move to an unknown client", "POST", "/queues/~orphaned/move", `{"to":"nobody","ids":["1"]}`, http.StatusNotFound},
		{"move to the orphan queue", "POST", "/queues/~orphaned/move", `{"to":"~orphaned","ids":["1"]}`, http.StatusNotFound},
		{"move with invalid JSON", "POST", "/queues/~orphaned/move", `{"to":`, http.StatusBadRequest},
		{"move with an unknown field", "POST", "/queues/~orphaned/move", `{"to":"shop","entries":["1"]}`, http.StatusBadRequest},
		{"move nothing", "POST", "/queues/~orphaned/move", `{"to":"shop"}`, http.StatusBadRequest},
		{"queue of an unknown client", "GET", "/queues/nobody", "", http.StatusNotFound},
		{"bad limit", "GET", "/queues/shop?limit=x", "", http.StatusBadRequest},
		{"move without the token", "POST", "/queues/~orphaned/move", `{"to":"shop","ids":["1"]}`, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := adminToken
			if tc.code == http.StatusUnauthorized {
				token = ""
			}
			if code, body := do(t, tc.method, r.base+tc.path, token, tc.body); code != tc.code || !strings.Contains(body, `"error"`) {
				t.Fatalf("%s %s: %d %s, want %d", tc.method, tc.path, code, body, tc.code)
			}
		})
	}
	// Nothing to move: answered, nothing moved.
	if code, body := do(t, "POST", r.base+"/queues/~orphaned/move", adminToken, `{"to":"shop","ids":["none"]}`); code != http.StatusOK || !strings.Contains(body, `"moved":[]`) {
		t.Fatalf("move of no entry: %d %s", code, body)
	}
}
