package sim

import (
	"bytes"
	"sync"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// recorder keeps the latest submit_sm in a ring, for Submits.
type recorder struct {
	mu   sync.Mutex // guards the fields below
	max  int        // capacity; negative: record nothing
	buf  []Submit
	next int // where the next one goes once buf is full
}

func (r *recorder) init(max int) { r.max = max }

func (r *recorder) add(sub Submit) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) < r.max {
		r.buf = append(r.buf, sub)
		return
	}
	r.buf[r.next] = sub
	r.next = (r.next + 1) % r.max
}

// all returns a copy, oldest first.
func (r *recorder) all() []Submit {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Submit, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}

// record copies a decoded submit_sm out of its frame into the recorder.
func (s *Server) record(ss *session, seq uint32, st pdu.Status, msgID string, m *pdu.SM) {
	if s.rec.max < 0 && s.cfg.Trace == nil {
		return
	}
	sub := Submit{
		Host:               ss.host.addr,
		Session:            ss.id,
		SystemID:           ss.acct.systemID,
		Seq:                seq,
		Status:             st,
		MessageID:          msgID,
		ServiceType:        string(m.ServiceType),
		SourceTON:          m.SourceTON,
		SourceNPI:          m.SourceNPI,
		Source:             string(m.SourceAddr),
		DestTON:            m.DestTON,
		DestNPI:            m.DestNPI,
		Dest:               string(m.DestAddr),
		ESMClass:           m.ESMClass,
		ProtocolID:         m.ProtocolID,
		PriorityFlag:       m.PriorityFlag,
		RegisteredDelivery: m.RegisteredDelivery,
		DataCoding:         m.DataCoding,
		ShortMessage:       bytes.Clone(m.ShortMessage),
		Text:               bytes.Clone(m.Text()),
		TLVs:               pdu.TLVs(bytes.Clone(m.TLVs)),
	}
	if s.cfg.Trace != nil {
		s.cfg.Trace(sub)
	}
	if s.rec.max >= 0 {
		s.rec.add(sub)
	}
}
