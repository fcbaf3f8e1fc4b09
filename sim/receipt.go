package sim

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// receipt is what a delivery receipt needs from its submit_sm, copied out
// of the frame so it outlives it.
type receipt struct {
	acct      *account
	msgID     string
	srcTON    byte // of the submit_sm; the receipt's destination
	srcNPI    byte
	src       string
	dstTON    byte // of the submit_sm; the receipt's source
	dstNPI    byte
	dst       string
	submitted time.Time
	text      string // ISO-8859-1 octets, at most pdu.ReceiptTextLen
	umr       []byte // user_message_reference value, or nil

	// enrouteLate sends the ENROUTE after the DELIVRD (Config.DLRShuffle).
	enrouteLate bool
}

// newReceipt copies what the receipts of m will need.
func newReceipt(a *account, msgID string, m *pdu.SM, now time.Time) *receipt {
	rc := &receipt{
		acct:      a,
		msgID:     msgID,
		srcTON:    m.SourceTON,
		srcNPI:    m.SourceNPI,
		src:       string(m.SourceAddr),
		dstTON:    m.DestTON,
		dstNPI:    m.DestNPI,
		dst:       string(m.DestAddr),
		submitted: now,
	}
	if rc.dstTON == 0 {
		rc.dstTON = 1 // the provider reads TON 0 as international
	}
	if v, ok := m.TLVs.Lookup(pdu.TagUserMessageReference); ok {
		rc.umr = append([]byte(nil), v...)
	}
	rc.text = receiptText(m, rc.umr)
	return rc
}

// receiptText is the text: field. The seed says the provider puts the
// first 20 characters of user_message_reference there; that TLV is two
// octets, so it is written in decimal. Without it the field holds the first
// 20 characters of the message, as most SMSCs do, in ISO-8859-1 ('?' for
// what that lacks), and nothing for binary messages.
func receiptText(m *pdu.SM, umr []byte) string {
	if len(umr) == 2 {
		return strconv.Itoa(int(umr[0])<<8 | int(umr[1]))
	}
	s, err := pdu.DecodeText(m.DataCoding, m.Text())
	if err != nil {
		return ""
	}
	var b []byte
	for n, r := range []rune(s) {
		if n == pdu.ReceiptTextLen {
			break
		}
		if r > 0xFF || r == utf8.RuneError {
			r = '?'
		}
		b = append(b, byte(r))
	}
	return string(b)
}

// report builds the deliver_sm body of one receipt: esm_class 0x04,
// data_coding 3 (ISO-8859-1, per the seed), the Appendix B text, and TLVs
// receipted_message_id, message_state and, when the submit_sm had it,
// user_message_reference. Source and destination are the submit's swapped.
func (rc *receipt) report(stat string, state byte, now time.Time) *report {
	text := pdu.Receipt{
		ID:         rc.msgID,
		SubmitDate: pdu.ReceiptTime(rc.submitted),
		DoneDate:   pdu.ReceiptTime(now),
		Stat:       stat,
		Text:       rc.text,
	}.AppendTo(make([]byte, 0, 128))
	tlvs := make([]byte, 0, 4+len(rc.msgID)+1+5+6)
	tlvs = appendCStringTLV(tlvs, pdu.TagReceiptedMessageID, rc.msgID)
	tlvs = pdu.AppendTLV(tlvs, pdu.TagMessageState, []byte{state})
	if rc.umr != nil {
		tlvs = pdu.AppendTLV(tlvs, pdu.TagUserMessageReference, rc.umr)
	}
	m := pdu.SM{
		SourceTON:    rc.dstTON,
		SourceNPI:    rc.dstNPI,
		SourceAddr:   []byte(rc.dst),
		DestTON:      rc.srcTON,
		DestNPI:      rc.srcNPI,
		DestAddr:     []byte(rc.src),
		ESMClass:     pdu.ESMClassReceipt,
		DataCoding:   3,
		ShortMessage: text,
		TLVs:         tlvs,
	}
	return &report{body: m.AppendBody(make([]byte, 0, 64+len(text)+len(tlvs)))}
}

// appendCStringTLV appends a TLV whose value is s and a NUL.
func appendCStringTLV(dst []byte, tag pdu.Tag, s string) []byte {
	n := len(s) + 1
	dst = append(dst, byte(tag>>8), byte(tag), byte(n>>8), byte(n))
	dst = append(dst, s...)
	return append(dst, 0)
}

// afterResp starts the receipts of an accepted submit_sm once its
// submit_sm_resp is out: ENROUTE at once when configured, DELIVRD after
// DLRDelay. The echo MO, when there is one, follows what is sent at once.
func (s *Server) afterResp(a *account, rc *receipt, echo *report) {
	if echo != nil {
		defer a.enqueue(echo)
	}
	if rc == nil {
		return
	}
	now := time.Now()
	if s.cfg.SendEnroute {
		if s.cfg.DLRShuffle && rand.IntN(2) == 0 {
			rc.enrouteLate = true
		} else {
			rc.acct.enqueue(rc.report(pdu.StatEnroute, pdu.StateEnroute, now))
		}
	}
	if s.cfg.DLRDelay > 0 {
		s.sched.pushFinal(rc)
		return
	}
	rs := []*report{rc.report(pdu.StatDelivered, pdu.StateDelivered, now)}
	if rc.enrouteLate {
		rs = append(rs, rc.report(pdu.StatEnroute, pdu.StateEnroute, now))
	}
	rc.acct.enqueueBatch(rs)
}

// moDataCoding reports whether the provider sends MO messages in dc
// (the seed's MO table: 0, 3, 4 and 8).
func moDataCoding(dc byte) bool { return dc == 0 || dc == 3 || dc == 4 || dc == 8 }

// moReport builds the deliver_sm body of an MO: esm_class 0, text in
// short_message, or in message_payload when over 254 octets, as the
// provider does.
func moReport(src, dst string, dc byte, text []byte) *report {
	m := pdu.SM{
		SourceTON:  1,
		SourceNPI:  1,
		SourceAddr: []byte(src),
		DestTON:    1,
		DestNPI:    1,
		DestAddr:   []byte(dst),
		DataCoding: dc,
	}
	if len(text) > pdu.MaxShortMessage {
		m.TLVs = pdu.AppendTLV(nil, pdu.TagMessagePayload, text)
	} else {
		m.ShortMessage = text
	}
	return &report{body: m.AppendBody(nil), mo: true}
}

// echoReport builds the MO that answers a submit_sm to Config.EchoNumber:
// from that number to the submit's source_addr, with its text in the same
// field, its data_coding and its UDHI bit. The echo keeps any data_coding
// the provider takes in submit_sm, even one it would not use for an MO:
// the sender gets back what it sent.
func echoReport(number string, m *pdu.SM) *report {
	e := pdu.SM{
		SourceTON:  1,
		SourceNPI:  1,
		SourceAddr: []byte(number),
		DestTON:    m.SourceTON,
		DestNPI:    m.SourceNPI,
		DestAddr:   m.SourceAddr,
		ESMClass:   m.ESMClass & pdu.ESMClassUDHI,
		DataCoding: m.DataCoding,
	}
	if v, ok := m.TLVs.Lookup(pdu.TagMessagePayload); ok {
		e.TLVs = pdu.AppendTLV(nil, pdu.TagMessagePayload, v)
	} else {
		e.ShortMessage = m.ShortMessage
	}
	return &report{body: e.AppendBody(nil), mo: true}
}

// sameNumber reports whether two phone numbers are the same, with or
// without a leading "+" or international "00".
func sameNumber(a, b string) bool {
	trim := func(n string) string {
		n = strings.TrimPrefix(n, "+")
		return strings.TrimPrefix(n, "00")
	}
	return trim(a) == trim(b)
}
