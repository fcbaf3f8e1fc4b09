package standard_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// FuzzRuleChain feeds a submit_sm body and a chain description (see
// specsFromBytes) through mux.ApplyRules twice, as a session sends two
// submits. It must never panic; a body that does not decode is refused
// with the decoder's status; a body that decodes is checked against the
// model (chain_model_test.go) byte for byte, and every forwarded frame
// must decode.
//
//	go test -run '^$' -fuzz '^FuzzRuleChain$' -fuzztime 200000x ./plugins/standard/
func FuzzRuleChain(f *testing.F) {
	typical := ruleTypicalBody()
	class := func(name string, keep byte) []byte {
		b := []byte{kMessageClass, byte(len(name) - 1)}
		for _, c := range []byte(name) {
			b = append(b, c-1)
		}
		return append(b, keep)
	}
	f.Add(typical, []byte{})
	// every built-in rule once (sender allowing Shop and 4512345678), then
	// a plugin's edits of TLV 0x2900 and source_addr
	every := append([]byte{7}, class("premium", 0)...)
	every = append(every, kPriority, 0, 1, 0, kRateLimit, 1, kDestTON, 0, kEncodingCheck, 0, kSender, 2, 1, 2, 0,
		kEdits, 1, eTLV, 0x29, 0x00, 3, 'v', 'i', 'p', eSourceAddr, 3)
	f.Add(typical, every)
	// a client that sent message_class twice, first as the rule's class
	dup := pdu.SM{DestTON: 1, SourceAddr: []byte("Shop"), ShortMessage: []byte("hi"),
		TLVs: pdu.TLVs(pdu.AppendTLV(pdu.AppendTLV(nil, pdu.TagMessageClass, []byte("premium")), pdu.TagMessageClass, []byte("free")))}
	f.Add(dup.AppendBody(nil), append([]byte{1}, class("premium", 0)...))
	// UDHI with a UDH, UCS-2 in message_payload, short_message empty, dest_addr_ton 0
	udh := pdu.SM{ESMClass: pdu.ESMClassUDHI, DataCoding: 8,
		TLVs: pdu.TLVs(pdu.AppendTLV(nil, pdu.TagMessagePayload, []byte{5, 0, 3, 1, 2, 1, 0x04, 0x10, 0xD8, 0x3D, 0xDE, 0x00}))}
	f.Add(udh.AppendBody(nil), []byte{3, kDestTON, 0, kEncodingCheck, 0, kEdits, 0, ePriority, 2})
	// a rate limit of burst 1, which the second submit exceeds
	f.Add(typical, []byte{1, kRateLimit, 0, 0})
	// a body cut short
	f.Add(typical[:len(typical)-3], []byte{1, kDestTON, 0})
	f.Fuzz(func(t *testing.T, body, desc []byte) {
		specs := specsFromBytes(desc)
		rules, fs, cleanup := loadRules(t, specs)
		defer cleanup()
		st := newChainState(specs)
		var m module.Message
		var dst []byte
		for seq := uint32(1); seq <= 2; seq++ {
			frame := make([]byte, pdu.HeaderLen, pdu.HeaderLen+len(body))
			binary.BigEndian.PutUint32(frame, uint32(pdu.HeaderLen+len(body)))
			binary.BigEndian.PutUint32(frame[4:], uint32(pdu.CmdSubmitSM))
			binary.BigEndian.PutUint32(frame[12:], seq)
			frame = append(frame, body...)
			var in pdu.SM
			if derr := in.Decode(body); derr != nil {
				_, err := mux.ApplyRules(rules, &m, "shop", frame, dst[:0])
				if err == nil || pdu.StatusOf(err) != pdu.StatusOf(derr) {
					t.Fatalf("undecodable body: ApplyRules %v, decode %v", err, derr)
				}
				return
			}
			model := fromSM(&in).clone()
			if !bytes.Equal(model.frame(seq), frame) {
				t.Fatalf("decode and encode do not round trip\n got % x\nwant % x", model.frame(seq), frame)
			}
			dst = checkForward(t, rules, fs, specs, st, &m, dst, frame, model)
		}
	})
}

// ruleTypicalBody is the body of a one-part GSM 7-bit submit_sm with a
// receipt request and a user_message_reference.
func ruleTypicalBody() []byte {
	sm := pdu.SM{
		SourceTON: 5, SourceAddr: []byte("Shop"),
		DestTON: 1, DestNPI: 1, DestAddr: []byte("4512345678"),
		RegisteredDelivery: 1, ValidityPeriod: []byte("000001000000000R"),
		ShortMessage: []byte("Your code is 123456."),
		TLVs:         pdu.TLVs(pdu.AppendTLV(nil, pdu.TagUserMessageReference, []byte{0, 42})),
	}
	return sm.AppendBody(nil)
}

// byteReader reads a chain description; past its end it reads zeros.
type byteReader []byte

func (r *byteReader) next() byte {
	if len(*r) == 0 {
		return 0
	}
	b := (*r)[0]
	*r = (*r)[1:]
	return b
}

// fuzzAddrs are the addresses a described sender or edit can name; a
// plugin's edit can also name the last two, which the host refuses.
var fuzzAddrs = []string{"", "Shop", "4512345678", "Brand", "12345678901234567890", "Br\x00and", "123456789012345678901"}

// specsFromBytes reads a chain: a count of rules (mod 9), then per rule a
// kind (mod 8) and its parameters, each a byte:
//
//	message_class:  class length (mod 8, +1), its octets (mod 0x7F, +1), keep_client (odd)
//	priority:       keys (mod 3: max, set, both), max, set (mod 4, set ≤ max)
//	rate_limit:     huge (odd), else burst (mod 3, +1)
//	dest_ton:       rewrite_unknown (mod 3: absent, true, false)
//	encoding_check: status (0: absent, else 0x100 + the byte)
//	sender:         allow count (mod 3), addresses (mod 5), force (mod 5; 0: none)
//	edits, setters: count (mod 4, +1), per edit kind (mod 4 for a plugin's
//	                verdict, mod 6 for setters) and its fields: a TLV tag
//	                (2 bytes), value length (mod 8) and octets; source_addr
//	                (mod 7 for a verdict, mod 5 for setters); a number
func specsFromBytes(desc []byte) []ruleSpec {
	r := byteReader(desc)
	n := int(r.next() % 9)
	specs := make([]ruleSpec, 0, n)
	for range n {
		s := ruleSpec{kind: int(r.next() % numKinds), max: -1, set: -1}
		switch s.kind {
		case kMessageClass:
			c := make([]byte, r.next()%8+1)
			for i := range c {
				c[i] = r.next()%0x7F + 1
			}
			s.class, s.keep = string(c), r.next()%2 == 1
		case kPriority:
			keys, a, b := r.next()%3, int(r.next()%4), int(r.next()%4)
			switch keys {
			case 0:
				s.max = a
			case 1:
				s.set = b
			case 2:
				s.max, s.set = a, min(a, b)
			}
		case kRateLimit:
			if s.huge = r.next()%2 == 1; !s.huge {
				s.burst = int(r.next()%3) + 1
			}
		case kDestTON:
			s.rewrite = int(r.next() % 3)
		case kEncodingCheck:
			if b := r.next(); b != 0 {
				s.status = 0x100 + int64(b)
			}
		case kSender:
			for range r.next() % 3 {
				s.allow = append(s.allow, fuzzAddrs[r.next()%5])
			}
			if f := r.next() % 5; f != 0 || len(s.allow) == 0 {
				a := fuzzAddrs[max(f, 1)]
				s.force = &a
			}
		case kEdits, kSetters:
			kinds, addrs := byte(numEdits), byte(5)
			if s.kind == kEdits {
				kinds, addrs = numSDKEdits, byte(len(fuzzAddrs))
			}
			for range r.next()%4 + 1 {
				e := edit{kind: int(r.next() % kinds)}
				switch e.kind {
				case eTLV:
					e.tag = uint16(r.next())<<8 | uint16(r.next())
					e.value = make([]byte, r.next()%8)
					for i := range e.value {
						e.value[i] = r.next()
					}
				case eDeleteTLV:
					e.tag = uint16(r.next())<<8 | uint16(r.next())
				case eShortMessage:
					e.value = make([]byte, r.next()%8)
					for i := range e.value {
						e.value[i] = r.next()
					}
				case eSourceAddr:
					e.value = []byte(fuzzAddrs[r.next()%addrs])
				default:
					e.num = r.next()
				}
				s.edits = append(s.edits, e)
			}
		}
		specs = append(specs, s)
	}
	return specs
}
