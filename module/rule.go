package module

import "github.com/smpp-mux/smpp-mux/pdu"

// Rule is a per-client rule module (namespace "rule"): [[client.rule]]
// tables in config order make the client's chain. The router calls Submit
// on the reading goroutine of the client's session, once per submit_sm,
// for each rule in turn; rules of one client run concurrently on its
// several sessions, so a rule keeps shared state safe.
//
// A rule passes the message by returning nil, changes it through
// Message's setters, or rejects it by returning a *pdu.StatusError, whose
// status the client gets in submit_sm_resp. Any other error rejects with
// ESME_RSYSERR and is logged once by the session. A rule does not keep m
// after it returns. A rule that counts events of its own (calls, errors)
// takes its counters from Context.EventCounter in Provision.
type Rule interface {
	Module
	Submit(m *Message) error
}

// DeliverRule is implemented by a Rule that also wants each deliver_sm
// (receipt or MO) on its way to the client. The client's dispatcher calls
// Deliver, in config order, before it sends the deliver_sm; the frame goes
// out byte for byte unless a rule changes it through the setters. A
// *pdu.StatusError drops the deliver_sm: it is removed from the queue
// without being delivered, counted and logged at Debug.
type DeliverRule interface {
	Rule
	Deliver(m *Message) error
}

// DeliverOptional is implemented by a DeliverRule that knows only once
// provisioned whether it wants deliver_sm (an external plugin that may or
// may not implement the hook): when WantsDeliver reports false, the rule
// is left out of the client's deliver chain.
type DeliverOptional interface {
	WantsDeliver() bool
}

// Message is one submit_sm going through a client's rule chain. SM's
// []byte fields are views into the received frame: a rule never writes
// into them, and changes fields only through the setters, which record
// that the message must be encoded anew.
type Message struct {
	Client string // system_id of the client
	SM     pdu.SM

	changed bool
	scratch []byte // backing store for values set by rules; reused per session
}

// Changed reports whether a rule changed the message.
func (m *Message) Changed() bool { return m.changed }

// SetTLV sets TLV tag to value, as pdu.TLVs.Set does: the first TLV with
// tag is replaced in place, later ones with tag are dropped, and with none
// the TLV is added at the end. It changes nothing when tag is there once,
// with value already.
func (m *Message) SetTLV(tag pdu.Tag, value []byte) {
	if isSetOnce(m.SM.TLVs, tag, value) {
		return
	}
	start := len(m.scratch)
	// The values set before (source_addr, an earlier rule's TLVs) live in
	// the head of scratch: keep the whole buffer so none is cut off.
	m.scratch = m.SM.TLVs.AppendSet(m.scratch, tag, value)
	m.SM.TLVs = pdu.TLVs(m.scratch[start:len(m.scratch):len(m.scratch)])
	m.changed = true
}

// isSetOnce reports whether t holds tag exactly once, with value. A
// duplicate must not pass for set: the client's second value would reach
// the provider beside the rule's.
func isSetOnce(t pdu.TLVs, tag pdu.Tag, value []byte) bool {
	found := false
	for k, v := range t.All() {
		if k != tag {
			continue
		}
		if found || string(v) != string(value) {
			return false
		}
		found = true
	}
	return found
}

// DeleteTLV removes every TLV with tag, as pdu.TLVs.Delete does. It
// changes nothing when there is none.
func (m *Message) DeleteTLV(tag pdu.Tag) {
	if _, ok := m.SM.TLVs.Lookup(tag); !ok {
		return
	}
	start := len(m.scratch)
	// As in SetTLV: append to the whole of scratch so that earlier values
	// in its head survive.
	m.scratch = m.SM.TLVs.AppendDelete(m.scratch, tag)
	m.SM.TLVs = pdu.TLVs(m.scratch[start:len(m.scratch):len(m.scratch)])
	m.changed = true
}

// SetShortMessage sets short_message (sm_length follows). The caller
// checks sm first: at most pdu.MaxShortMessage (254) octets, or the
// encoded submit_sm is cut.
func (m *Message) SetShortMessage(sm []byte) { m.setBytes(&m.SM.ShortMessage, string(sm)) }

// SetDataCoding sets data_coding.
func (m *Message) SetDataCoding(dc byte) { m.setByte(&m.SM.DataCoding, dc) }

// SetESMClass sets esm_class.
func (m *Message) SetESMClass(c byte) { m.setByte(&m.SM.ESMClass, c) }

// SetRegisteredDelivery sets registered_delivery.
func (m *Message) SetRegisteredDelivery(rd byte) { m.setByte(&m.SM.RegisteredDelivery, rd) }

// SetPriority sets priority_flag.
func (m *Message) SetPriority(p byte) { m.setByte(&m.SM.PriorityFlag, p) }

// SetDestTON sets dest_addr_ton.
func (m *Message) SetDestTON(ton byte) { m.setByte(&m.SM.DestTON, ton) }

// SetSourceAddr sets source_addr. The caller checks addr first: at most
// 20 octets and no NUL (SMPP 3.4 §5.2.8), or the encoded submit_sm is
// malformed.
func (m *Message) SetSourceAddr(addr string) { m.setBytes(&m.SM.SourceAddr, addr) }

// setByte sets a one-octet field, noting a change.
func (m *Message) setByte(f *byte, v byte) {
	if *f != v {
		*f = v
		m.changed = true
	}
}

// setBytes sets a field to a copy of v in the scratch space (capped, so
// that a later append to scratch never writes into it), noting a change.
func (m *Message) setBytes(f *[]byte, v string) {
	if string(*f) != v {
		start := len(m.scratch)
		m.scratch = append(m.scratch, v...)
		*f = m.scratch[start:len(m.scratch):len(m.scratch)]
		m.changed = true
	}
}

// SetSourceTON sets source_addr_ton.
func (m *Message) SetSourceTON(ton byte) { m.setByte(&m.SM.SourceTON, ton) }

// SetSourceNPI sets source_addr_npi.
func (m *Message) SetSourceNPI(npi byte) { m.setByte(&m.SM.SourceNPI, npi) }

// Reset prepares m for the next message of client, keeping its scratch
// space; a session reuses one Message for all its submits.
func (m *Message) Reset(client string) {
	m.Client = client
	m.changed = false
	m.scratch = m.scratch[:0]
}
