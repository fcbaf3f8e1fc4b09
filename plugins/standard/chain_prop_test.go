package standard_test

import (
	"bytes"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/smpp-mux/smpp-mux/module"
)

// TestRuleChainProperty runs random submit_sm through random chains of the
// built-in rules and SDK-style edits, in any order and with repetitions,
// and checks every outcome against the model (chain_model_test.go): the
// status the client gets, the forwarded frame byte for byte, and what the
// rate limits drawing from the fleet's bucket asked of the store (a
// rate_limit is provisioned outside a place, at a host that shares
// nothing, or at one that shares the fleet's bucket). Each
// check sends a few messages through one chain with one reused Message,
// as a session does, so that scratch space and rate limits carry over.
// Hunt with more checks: go test -run TestRuleChainProperty ./plugins/standard/ -rapid.checks=20000
func TestRuleChainProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPools(t)
		specs := rapid.SliceOfN(genSpec(p), 0, 10).Draw(t, "chain")
		runChain(t, p, specs, rapid.IntRange(1, 3).Draw(t, "messages"))
	})
}

// TestRuleChainFleetProperty is TestRuleChainProperty with one or two
// rate_limit rules drawing from the fleet's bucket (chain_fleet_test.go)
// put anywhere in the chain, and more messages per chain, so that the
// store's grants, refusals and failures, and the local bucket that takes
// over from a failed store, run out in composition with the other rules.
func TestRuleChainFleetProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPools(t)
		specs := rapid.SliceOfN(genSpec(p), 0, 8).Draw(t, "chain")
		for range rapid.IntRange(1, 2).Draw(t, "fleet_limits") {
			r := genFleetLimit.Draw(t, "fleet_limit")
			at := rapid.IntRange(0, len(specs)).Draw(t, "at")
			specs = slices.Insert(specs, at, r)
		}
		runChain(t, p, specs, rapid.IntRange(2, 8).Draw(t, "messages"))
	})
}

// runChain loads specs and sends n random submit_sm through the chain,
// checking each against the model.
func runChain(t *rapid.T, p pools, specs []ruleSpec, n int) {
	rules, fs, cleanup := loadRules(t, specs)
	defer cleanup()
	st := newChainState(specs)
	var m module.Message
	var dst []byte
	for i := range n {
		in := genSM(p).Draw(t, "submit_sm")
		dst = checkForward(t, rules, fs, specs, st, &m, dst, in.frame(uint32(i+1)), in)
	}
}

// pools are values that generated messages and rule configs share, so that
// allow lists match, classes are already there, and so on.
type pools struct {
	addrs   []string
	classes []string
}

func genPools(t *rapid.T) pools {
	return pools{
		addrs:   []string{"", "Shop", "4512345678", ascii(0, 20).Draw(t, "addr")},
		classes: []string{"premium", "standard", ascii(1, 64).Draw(t, "class")},
	}
}

// ascii is a string of lo to hi ASCII characters other than NUL, which a
// config's TOML string carries as they are.
func ascii(lo, hi int) *rapid.Generator[string] {
	return rapid.Map(rapid.SliceOfN(rapid.ByteRange(1, 0x7F), lo, hi), func(b []byte) string { return string(b) })
}

// octets is n to m octets, NUL among them when withNUL.
func octets(lo, hi int, withNUL bool) *rapid.Generator[[]byte] {
	first := byte(1)
	if withNUL {
		first = 0
	}
	return rapid.SliceOfN(rapid.ByteRange(first, 0xFF), lo, hi)
}

// cOctets is a C-octet string field of at most hi octets before its NUL.
func cOctets(hi int, common ...string) *rapid.Generator[[]byte] {
	gens := []*rapid.Generator[[]byte]{octets(0, hi, false), octets(hi, hi, false)}
	if len(common) > 0 {
		gens = append(gens, rapid.Map(rapid.SampledFrom(common), func(s string) []byte { return []byte(s) }))
	}
	return rapid.OneOf(gens...)
}

// timeField is schedule_delivery_time or validity_period: empty, an SMPP
// time (§7.1.1), or any 0–16 octets.
var timeField = rapid.OneOf(
	rapid.Just([]byte(nil)),
	rapid.Map(rapid.SampledFrom([]string{"000001000000000R", "261207120000000+", "261207120000004-"}),
		func(s string) []byte { return []byte(s) }),
	cOctets(16),
)

// supportedCodings are the provider's data codings, which a generated
// message uses more often than others.
var supportedCodings = []byte{0, 1, 2, 3, 4, 6, 8, 24, 240}

// genText makes message text of at most hi octets, from an alphabet
// picked at random: printable ASCII, GSM septets with escapes, UCS-2
// code units with surrogates, or any octets.
func genText(hi int) *rapid.Generator[[]byte] {
	ucs2 := rapid.Map(rapid.SliceOfN(rapid.OneOf(
		rapid.Uint16Range(0x20, 0x7E), rapid.Uint16Range(0x0400, 0x04FF), rapid.Uint16Range(0xD800, 0xDFFF),
	), 0, hi/2), func(us []uint16) []byte {
		b := make([]byte, 0, 2*len(us))
		for _, u := range us {
			b = append(b, byte(u>>8), byte(u))
		}
		return b
	})
	return rapid.OneOf(
		rapid.Map(rapid.ByteRange(0x20, 0x7E), func(c byte) []byte { return bytes.Repeat([]byte{c}, hi) }), // the boundary
		rapid.SliceOfN(rapid.ByteRange(0x20, 0x7E), 0, hi),
		rapid.SliceOfN(rapid.OneOf(rapid.ByteRange(0, 0x7F), rapid.Just(byte(0x1B))), 0, hi),
		ucs2,
		rapid.SliceOfN(rapid.Byte(), 0, hi),
	)
}

// genUDH makes a user data header: a concatenation header, any IEs, or
// one whose length runs past the text.
var genUDH = rapid.OneOf(
	rapid.Map(rapid.SliceOfN(rapid.Byte(), 3, 3), func(b []byte) []byte { return []byte{5, 0, 3, b[0], b[1], b[2]} }),
	rapid.Map(rapid.SliceOfN(rapid.Byte(), 0, 10), func(b []byte) []byte { return append([]byte{byte(len(b))}, b...) }),
	rapid.Map(rapid.ByteRange(1, 0xFF), func(n byte) []byte { return []byte{n} }),
)

// genSM makes a submit_sm with every mandatory field of SMPP 3.4 §4.4.1
// at valid and boundary lengths, and TLVs: unknown tags, the vendor tag
// 0x2900, user_message_reference, dest_addr_subunit, message_payload
// (with short_message empty), and duplicates.
func genSM(p pools) *rapid.Generator[modelSM] {
	return rapid.Custom(func(t *rapid.T) modelSM {
		s := modelSM{
			serviceType: cOctets(5, "", "CMT", "WAP").Draw(t, "service_type"),
			srcTON:      rapid.Byte().Draw(t, "source_addr_ton"),
			srcNPI:      rapid.Byte().Draw(t, "source_addr_npi"),
			src:         cOctets(20, p.addrs...).Draw(t, "source_addr"),
			dstTON:      rapid.OneOf(rapid.ByteRange(0, 2), rapid.Byte()).Draw(t, "dest_addr_ton"),
			dstNPI:      rapid.Byte().Draw(t, "dest_addr_npi"),
			dst:         cOctets(20, "4512345678").Draw(t, "destination_addr"),
			esm:         rapid.OneOf(rapid.SampledFrom([]byte{0, 0x40, 0x03, 0x43}), rapid.Byte()).Draw(t, "esm_class"),
			pid:         rapid.Byte().Draw(t, "protocol_id"),
			prio:        rapid.OneOf(rapid.ByteRange(0, 3), rapid.Byte()).Draw(t, "priority_flag"),
			sched:       timeField.Draw(t, "schedule_delivery_time"),
			validity:    timeField.Draw(t, "validity_period"),
			regDlr:      rapid.Byte().Draw(t, "registered_delivery"),
			replace:     rapid.Byte().Draw(t, "replace_if_present_flag"),
			dc:          rapid.OneOf(rapid.SampledFrom(supportedCodings), rapid.Byte()).Draw(t, "data_coding"),
			defMsgID:    rapid.Byte().Draw(t, "sm_default_msg_id"),
		}
		payload := rapid.Bool().Draw(t, "message_payload")
		hi := 254
		if payload {
			hi = rapid.SampledFrom([]int{300, 1200, 4000, 0xFFFF}).Draw(t, "payload_max")
		}
		var text []byte
		if s.esm&0x40 != 0 {
			text = genUDH.Draw(t, "udh")
		}
		text = append(text, genText(hi-len(text)).Draw(t, "text")...)
		if !payload {
			s.sm = text
		}
		s.tlvs = rapid.SliceOfN(genTLV(p), 0, 6).Draw(t, "tlvs")
		if payload {
			at := rapid.IntRange(0, len(s.tlvs)).Draw(t, "payload_at")
			s.tlvs = append(s.tlvs[:at], append([]tlv{{0x0424, text}}, s.tlvs[at:]...)...)
		}
		if len(s.tlvs) > 0 && rapid.Bool().Draw(t, "duplicate") {
			d := rapid.SampledFrom(s.tlvs).Draw(t, "duplicate_of")
			v := rapid.OneOf(rapid.Just(d.value), octets(0, 8, true)).Draw(t, "duplicate_value")
			at := rapid.IntRange(0, len(s.tlvs)).Draw(t, "duplicate_at")
			s.tlvs = append(s.tlvs[:at], append([]tlv{{d.tag, v}}, s.tlvs[at:]...)...)
		}
		return s
	})
}

// genTLV makes one TLV that a client may send.
func genTLV(p pools) *rapid.Generator[tlv] {
	return rapid.OneOf(
		rapid.Custom(func(t *rapid.T) tlv { // any tag, unknown ones mostly
			return tlv{rapid.Uint16().Draw(t, "tag"), octets(0, 16, true).Draw(t, "value")}
		}),
		rapid.Custom(func(t *rapid.T) tlv {
			return tlv{0x2900, []byte(rapid.SampledFrom(p.classes).Draw(t, "message_class"))}
		}),
		rapid.Custom(func(t *rapid.T) tlv {
			return tlv{0x0204, octets(2, 2, true).Draw(t, "user_message_reference")}
		}),
		rapid.Custom(func(t *rapid.T) tlv {
			return tlv{0x0005, octets(1, 1, true).Draw(t, "dest_addr_subunit")}
		}),
		rapid.Custom(func(t *rapid.T) tlv {
			return tlv{0x0424, genText(40).Draw(t, "message_payload")}
		}),
	)
}

// genSpec makes one rule of a chain with a valid config.
func genSpec(p pools) *rapid.Generator[ruleSpec] {
	return rapid.Custom(func(t *rapid.T) ruleSpec {
		r := ruleSpec{kind: rapid.IntRange(0, numKinds-1).Draw(t, "kind"), max: -1, set: -1}
		switch r.kind {
		case kMessageClass:
			r.class = rapid.SampledFrom(p.classes).Draw(t, "class")
			r.keep = rapid.Bool().Draw(t, "keep_client")
		case kPriority:
			switch rapid.IntRange(0, 2).Draw(t, "priority_keys") {
			case 0:
				r.max = rapid.IntRange(0, 3).Draw(t, "max")
			case 1:
				r.set = rapid.IntRange(0, 3).Draw(t, "set")
			case 2:
				r.max = rapid.IntRange(0, 3).Draw(t, "max")
				r.set = rapid.IntRange(0, r.max).Draw(t, "set")
			}
		case kRateLimit:
			r = genLimit(rapid.IntRange(0, numHosts-1).Draw(t, "host")).Draw(t, "rate_limit")
		case kDestTON:
			r.rewrite = rapid.IntRange(0, 2).Draw(t, "rewrite_unknown")
		case kEncodingCheck:
			r.status = rapid.OneOf(rapid.Just(int64(0)), rapid.Int64Range(1, 0xFFFFFFFF)).Draw(t, "status")
		case kSender:
			r.allow = rapid.SliceOfN(rapid.SampledFrom(p.addrs), 0, 3).Draw(t, "allow")
			if len(r.allow) == 0 || rapid.Bool().Draw(t, "has_force") {
				f := rapid.SampledFrom(p.addrs[1:3]).Draw(t, "force") // not empty
				r.force = &f
			}
		case kEdits, kSetters:
			r.edits = rapid.SliceOfN(genEdit(p, r.kind == kEdits), 1, 4).Draw(t, "edits")
		}
		return r
	})
}

// genLimit makes a rate_limit provisioned at host. At hostFleet, the
// store grants up to three times, then grants, refuses or fails for good;
// for rate 1e9 it answers its first call for good, as that bucket takes a
// batch it holds for store.Hold and only then asks again, so what it
// would get from a script that changes depends on time.
func genLimit(host int) *rapid.Generator[ruleSpec] {
	return rapid.Custom(func(t *rapid.T) ruleSpec {
		r := ruleSpec{kind: kRateLimit, max: -1, set: -1, host: host}
		r.huge = rapid.Bool().Draw(t, "huge")
		if !r.huge {
			r.burst = rapid.IntRange(1, 3).Draw(t, "burst")
		}
		if host == hostFleet {
			if !r.huge {
				r.fleet.grants = rapid.IntRange(0, 3).Draw(t, "grants")
			}
			r.fleet.then = rapid.IntRange(0, numAnswers-1).Draw(t, "then")
		}
		return r
	})
}

// genFleetLimit is a rate_limit drawing from the fleet's bucket.
var genFleetLimit = genLimit(hostFleet)

// genEdit makes one edit. A plugin's (sdk) may be one the host refuses:
// a source_addr over 20 octets or with a NUL, a TLV value over 65535
// octets, a short_message over 254. A direct setter's stays within the
// setter's contract.
func genEdit(p pools, sdk bool) *rapid.Generator[edit] {
	return rapid.Custom(func(t *rapid.T) edit {
		kinds := numEdits
		if sdk {
			kinds = numSDKEdits
		}
		e := edit{kind: rapid.IntRange(0, kinds-1).Draw(t, "edit")}
		switch e.kind {
		case eTLV:
			e.tag = rapid.OneOf(rapid.SampledFrom([]uint16{0x2900, 0x0204, 0x0005, 0x0424, 0x1400}), rapid.Uint16()).Draw(t, "tag")
			values := []*rapid.Generator[[]byte]{
				rapid.Map(rapid.SampledFrom(p.classes), func(s string) []byte { return []byte(s) }),
				octets(0, 32, true),
				octets(300, 2000, true),
				rapid.Map(rapid.Byte(), func(b byte) []byte { return bytes.Repeat([]byte{b}, 0xFFFF) }), // the largest
			}
			if sdk {
				values = append(values, rapid.Just(make([]byte, 0x10000))) // one too many
			}
			e.value = rapid.OneOf(values...).Draw(t, "value")
		case eDeleteTLV:
			e.tag = rapid.OneOf(rapid.SampledFrom([]uint16{0x2900, 0x0204, 0x0005, 0x0424, 0x1400}), rapid.Uint16()).Draw(t, "tag")
		case eShortMessage:
			sms := []*rapid.Generator[[]byte]{octets(0, 32, true), octets(254, 254, true)}
			if sdk {
				sms = append(sms, octets(255, 300, true)) // over sm_length's 254
			}
			e.value = rapid.OneOf(sms...).Draw(t, "short_message")
		case eSourceAddr:
			addrs := []*rapid.Generator[[]byte]{cOctets(20, p.addrs...)}
			if sdk {
				addrs = append(addrs, octets(21, 22, false), rapid.Map(octets(0, 20, true), func(b []byte) []byte {
					return append(b, 0) // a NUL, which would end the field early
				}))
			}
			e.value = rapid.OneOf(addrs...).Draw(t, "source_addr")
		default:
			e.num = rapid.Byte().Draw(t, "number")
		}
		return e
	})
}
