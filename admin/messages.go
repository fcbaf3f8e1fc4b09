package admin

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/smpp-mux/smpp-mux/mux"
)

// The message and queue endpoints: GET /messages/{id} traces a message
// through the store; GET /queues/{client} lists a queue without leasing
// it; POST /queues/~orphaned/move moves orphaned reports to a client.
// All read and write the store, so they answer for every instance that
// shares it.

// moveOrphans is the pattern of the orphan queue's move.
const moveOrphans = "POST /queues/" + mux.OrphanQueue + "/move"

// Queue listings: the default and the largest ?limit.
const (
	defaultQueueLimit = 100
	maxQueueLimit     = 1000
)

func (s *Server) message(w http.ResponseWriter, r *http.Request) {
	t, ok, err := s.m.Message(r.Context(), r.PathValue("id"))
	switch {
	case err != nil:
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "store: " + err.Error()})
	case !ok:
		writeJSON(w, http.StatusNotFound, errorBody{Error: "no such message id in the store"})
	default:
		writeJSON(w, http.StatusOK, t)
	}
}

// queueError answers an error of mux.Queue or mux.MoveOrphans.
func queueError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, mux.ErrUnknownClient):
		writeJSON(w, http.StatusNotFound, errorBody{Error: err.Error()})
	case errors.Is(err, mux.ErrNotSupported):
		writeJSON(w, http.StatusNotImplemented, errorBody{Error: err.Error()})
	default:
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "store: " + err.Error()})
	}
}

// queueBody is GET /queues/{client}.
type queueBody struct {
	Client  string            `json:"client"`
	Entries []mux.QueuedEntry `json:"entries"`
}

func (s *Server) queue(w http.ResponseWriter, r *http.Request) {
	limit := defaultQueueLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			writeJSON(w, http.StatusBadRequest, errorBody{Error: "limit must be a positive integer"})
			return
		}
		limit = min(n, maxQueueLimit)
	}
	client := r.PathValue("client")
	es, err := s.m.Queue(r.Context(), client, limit)
	if err != nil {
		queueError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, queueBody{Client: client, Entries: es})
}

// moveRequest is POST /queues/~orphaned/move: the entries to move, by
// entry id or by message id, and the client to move them to.
type moveRequest struct {
	To         string   `json:"to"`
	IDs        []string `json:"ids"`
	MessageIDs []string `json:"message_ids"`
}

// moveBody answers POST /queues/~orphaned/move.
type moveBody struct {
	To    string      `json:"to"`
	Moved []mux.Moved `json:"moved"`
	// Error says why the moved entries may also stay in the orphan
	// queue (and be delivered twice should they be moved again).
	Error string `json:"error,omitempty"`
}

func (s *Server) move(w http.ResponseWriter, r *http.Request) {
	var req moveRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "body: " + err.Error()})
		return
	}
	if req.To == "" || len(req.IDs)+len(req.MessageIDs) == 0 {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: `body: needs "to" and "ids" or "message_ids"`})
		return
	}
	moved, err := s.m.MoveOrphans(r.Context(), r.RemoteAddr, req.To, req.IDs, req.MessageIDs)
	if err != nil && len(moved) == 0 {
		queueError(w, err)
		return
	}
	body := moveBody{To: req.To, Moved: moved}
	if body.Moved == nil {
		body.Moved = []mux.Moved{}
	}
	if err != nil {
		body.Error = err.Error()
	}
	writeJSON(w, http.StatusOK, body)
}
