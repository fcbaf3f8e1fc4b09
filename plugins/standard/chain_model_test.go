package standard_test

// The model of the rule chain that the property test and FuzzRuleChain
// check the real rules against. It is written from the rules' documented
// behaviour, not from their code, and it has its own encoder: a forwarded
// frame must equal the model's encoding byte for byte.
//
// TLV semantics, as the code documents them (pdu.TLVs.Set, module.Message.SetTLV):
//   - the TLVs are an ordered list of (tag, value); duplicates are kept as
//     received, and so is the order, unknown tags included;
//   - setting tag T to V replaces the value of the first T in its place and
//     drops every later T; with no T, (T, V) goes at the end;
//   - a set whose result equals the list before changes nothing, and so
//     does a field setter given the value already there; a message that
//     nothing changed goes on as the very bytes received.
//
// Rules run in chain order; the first rejection ends the chain and its
// status is the client's answer, with nothing forwarded. A plugin's
// verdict is checked whole before any edit applies: one bad edit refuses
// it all (ESME_RSYSERR, on_error's default). A rate_limit with burst b
// and a negligible rate passes its first b messages, then answers 0x58.
//
// A rate_limit whose host shares its limits (module.BucketPlace, as the
// mux with store.redis) draws from the fleet's bucket instead, through
// store.Bucket over the host's store (a fake here, answering as scripted):
//   - with the negligible rate a batch is one token, so each message asks
//     the store: a grant passes it; a refusal (the fleet's bucket is
//     drained) answers 0x58, and so does every later message, as the
//     bucket would take longer than any test to refill;
//   - a failure (the store is down, and stays down) hands that message and
//     every later one to a local bucket of the rule's own rate and burst,
//     full at first, as an instance without a shared store has;
//   - with rate 1e9 the store's one answer decides: a grant passes, a
//     failure passes too (the local bucket holds a billion), a refusal
//     answers 0x58.
//
// A message that an earlier rule refuses never reaches a later rate_limit,
// so it takes no token, local or fleet-wide; one that a later rule refuses
// has spent its tokens.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/plugins/external"
	"github.com/smpp-mux/smpp-mux/plugins/sdk"
)

// tlv is one optional parameter of the model.
type tlv struct {
	tag   uint16
	value []byte
}

// modelSM is a submit_sm as the model sees it: the mandatory fields of
// SMPP 3.4 §4.4.1 and the TLVs in wire order. Its slices are never
// written into: edits make new ones.
type modelSM struct {
	serviceType     []byte
	srcTON, srcNPI  byte
	src             []byte
	dstTON, dstNPI  byte
	dst             []byte
	esm, pid, prio  byte
	sched, validity []byte
	regDlr, replace byte
	dc, defMsgID    byte
	sm              []byte
	tlvs            []tlv
}

// frame encodes s as a submit_sm with seq, by hand (SMPP 3.4 §3.2, §4.4.1).
func (s *modelSM) frame(seq uint32) []byte {
	b := make([]byte, 16, 64)
	binary.BigEndian.PutUint32(b[4:], 0x00000004) // submit_sm
	binary.BigEndian.PutUint32(b[12:], seq)
	cstr := func(v []byte) { b = append(append(b, v...), 0) }
	cstr(s.serviceType)
	b = append(b, s.srcTON, s.srcNPI)
	cstr(s.src)
	b = append(b, s.dstTON, s.dstNPI)
	cstr(s.dst)
	b = append(b, s.esm, s.pid, s.prio)
	cstr(s.sched)
	cstr(s.validity)
	b = append(b, s.regDlr, s.replace, s.dc, s.defMsgID, byte(len(s.sm)))
	b = append(b, s.sm...)
	for _, t := range s.tlvs {
		b = binary.BigEndian.AppendUint16(b, t.tag)
		b = binary.BigEndian.AppendUint16(b, uint16(len(t.value)))
		b = append(b, t.value...)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	return b
}

// fromSM is the model of a decoded body.
func fromSM(m *pdu.SM) modelSM {
	s := modelSM{
		serviceType: m.ServiceType, srcTON: m.SourceTON, srcNPI: m.SourceNPI, src: m.SourceAddr,
		dstTON: m.DestTON, dstNPI: m.DestNPI, dst: m.DestAddr,
		esm: m.ESMClass, pid: m.ProtocolID, prio: m.PriorityFlag,
		sched: m.ScheduleDeliveryTime, validity: m.ValidityPeriod,
		regDlr: m.RegisteredDelivery, replace: m.ReplaceIfPresent, dc: m.DataCoding, defMsgID: m.SMDefaultMsgID,
		sm: m.ShortMessage,
	}
	for k, v := range m.TLVs.All() {
		s.tlvs = append(s.tlvs, tlv{uint16(k), v})
	}
	return s
}

// clone copies s deeply, so that the model never shares bytes with a frame.
func (s modelSM) clone() modelSM {
	c := s
	for _, p := range []*[]byte{&c.serviceType, &c.src, &c.dst, &c.sched, &c.validity, &c.sm} {
		*p = bytes.Clone(*p)
	}
	c.tlvs = nil
	for _, t := range s.tlvs {
		c.tlvs = append(c.tlvs, tlv{t.tag, bytes.Clone(t.value)})
	}
	return c
}

// lookup is the value of the first TLV with tag.
func (s *modelSM) lookup(tag uint16) ([]byte, bool) {
	for _, t := range s.tlvs {
		if t.tag == tag {
			return t.value, true
		}
	}
	return nil, false
}

// setTLV replaces the first tag in place and drops the later ones, or
// appends; it reports whether the list changed.
func (s *modelSM) setTLV(tag uint16, v []byte) bool {
	var out []tlv
	done := false
	for _, t := range s.tlvs {
		switch {
		case t.tag != tag:
			out = append(out, t)
		case !done:
			out = append(out, tlv{tag, bytes.Clone(v)})
			done = true
		}
	}
	if !done {
		out = append(out, tlv{tag, bytes.Clone(v)})
	}
	changed := !slices.EqualFunc(out, s.tlvs, func(a, b tlv) bool {
		return a.tag == b.tag && bytes.Equal(a.value, b.value)
	})
	s.tlvs = out
	return changed
}

// deleteTLV drops every tag; it reports whether the list changed.
func (s *modelSM) deleteTLV(tag uint16) bool {
	var out []tlv
	for _, t := range s.tlvs {
		if t.tag != tag {
			out = append(out, t)
		}
	}
	changed := len(out) != len(s.tlvs)
	s.tlvs = out
	return changed
}

// setByte sets a one-octet field and reports whether it changed.
func setByte(f *byte, v byte) bool {
	changed := *f != v
	*f = v
	return changed
}

// text is what the provider decodes: message_payload when present, else
// short_message.
func (s *modelSM) text() []byte {
	if v, ok := s.lookup(0x0424); ok {
		return v
	}
	return s.sm
}

// Kinds of rule in a chain: the built-in modules by their TOML name, and
// edits as an external plugin's verdict applies them.
const (
	kMessageClass = iota
	kPriority
	kRateLimit
	kDestTON
	kEncodingCheck
	kSender
	kEdits   // a plugin's verdict, applied by external.ApplyEdits
	kSetters // module.Message's setters called directly, within their contract
	numKinds
)

// ruleSpec is one rule of a generated chain: its kind and config.
type ruleSpec struct {
	kind int

	class string // message_class
	keep  bool

	max, set int // priority; -1 when absent

	huge  bool        // rate_limit: rate 1e9, default burst
	burst int         // else rate 1e-9 per second and this burst: burst passes, then 0x58
	host  int         // rate_limit: where it is provisioned (hostNone, hostAlone, hostFleet)
	fleet fleetScript // hostFleet: the answers of the store to its bucket

	rewrite int // dest_ton: 0 absent, 1 true, 2 false

	status int64 // encoding_check; 0 absent

	allow []string // sender
	force *string

	edits []edit // edits, setters
}

// Kinds of edit: the nine an external plugin's verdict carries
// (plugins/sdk), and the two further setters of module.Message.
const (
	eTLV = iota
	ePriority
	eDestTON
	eSourceAddr
	eDeleteTLV
	eShortMessage
	eDataCoding
	eESMClass
	eRegDlr
	eSourceTON
	eSourceNPI
	numEdits
	numSDKEdits = eSourceTON // a verdict carries the first nine
)

// edit is one change of an SDK-style verdict.
type edit struct {
	kind  int
	tag   uint16 // eTLV, eDeleteTLV
	value []byte // eTLV, eSourceAddr, eShortMessage
	num   byte
}

// tomlString quotes s (ASCII without NUL) as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, `\u%04X`, c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// toml is the [[client.rule]] table of r.
func (r *ruleSpec) toml() string {
	var b strings.Builder
	b.WriteString("[[client.rule]]\n")
	switch r.kind {
	case kMessageClass:
		fmt.Fprintf(&b, "module = \"message_class\"\nclass = %s\nkeep_client = %v\n", tomlString(r.class), r.keep)
	case kPriority:
		b.WriteString("module = \"priority\"\n")
		if r.max >= 0 {
			fmt.Fprintf(&b, "max = %d\n", r.max)
		}
		if r.set >= 0 {
			fmt.Fprintf(&b, "set = %d\n", r.set)
		}
	case kRateLimit:
		if r.huge {
			b.WriteString("module = \"rate_limit\"\nrate = 1e9\n")
		} else {
			fmt.Fprintf(&b, "module = \"rate_limit\"\nrate = 1e-9\nburst = %d\n", r.burst)
		}
	case kDestTON:
		b.WriteString("module = \"dest_ton\"\n")
		if r.rewrite > 0 {
			fmt.Fprintf(&b, "rewrite_unknown = %v\n", r.rewrite == 1)
		}
	case kEncodingCheck:
		b.WriteString("module = \"encoding_check\"\n")
		if r.status != 0 {
			fmt.Fprintf(&b, "status = %d\n", r.status)
		}
	case kSender:
		b.WriteString("module = \"sender\"\n")
		if len(r.allow) > 0 {
			q := make([]string, len(r.allow))
			for i, a := range r.allow {
				q[i] = tomlString(a)
			}
			fmt.Fprintf(&b, "allow = [%s]\n", strings.Join(q, ", "))
		}
		if r.force != nil {
			fmt.Fprintf(&b, "force = %s\n", tomlString(*r.force))
		}
	}
	return b.String()
}

// Where a rate_limit is provisioned: outside any place (module.NewContext),
// at a BucketPlace whose host shares nothing (the mux without a shared
// store), or at one that hands it the fleet's bucket.
const (
	hostNone = iota
	hostAlone
	hostFleet
	numHosts
)

// Answers of the fleet's store to a bucket's TakeTokens.
const (
	aGrant  = iota // all the tokens asked for
	aRefuse        // none: the fleet's bucket is drained
	aFail          // an error: the store is down
	numAnswers
)

// fleetScript is what the store answers a rate_limit's bucket: a grant
// to each of its first grants calls, then the answer then to every later
// one. Only a grant may be followed by another answer: after a refusal or
// a failure the bucket waits (store.Bucket's refill time, or Backoff)
// before it asks again, and the test must not depend on time.
type fleetScript struct{ grants, then int }

// answer is the store's answer to the bucket's call number i, from 0.
func (f fleetScript) answer(i int) int {
	if i < f.grants {
		return aGrant
	}
	return f.then
}

// limitState is what the model keeps of one rate_limit: the tokens left
// in its local bucket (its own, or the fleet bucket's fallback) and, for
// the fleet's, how often it asked the store and whether it stopped asking.
type limitState struct {
	tokens int
	asked  int
	empty  bool // the store refused: 0x58 from now on
	down   bool // the store failed: the local bucket decides from now on
}

// chainState is what the model keeps between the messages of one chain:
// the state of each rate_limit.
type chainState struct{ limits []limitState }

func newChainState(specs []ruleSpec) *chainState {
	st := &chainState{limits: make([]limitState, len(specs))}
	for i, r := range specs {
		st.limits[i].tokens = r.burst
	}
	return st
}

// runModel is the model of the chain: the message forwarded, whether any
// rule changed something, and the status the client gets.
func runModel(specs []ruleSpec, st *chainState, in modelSM) (modelSM, bool, pdu.Status) {
	s := in.clone()
	changed := false
	for i, r := range specs {
		status, c := r.apply(&s, &st.limits[i])
		changed = changed || c
		if status != pdu.StatusOK {
			return modelSM{}, false, status
		}
	}
	return s, changed, pdu.StatusOK
}

// apply is the model of one rule.
func (r *ruleSpec) apply(s *modelSM, ls *limitState) (pdu.Status, bool) {
	switch r.kind {
	case kMessageClass:
		if _, ok := s.lookup(0x2900); ok && r.keep {
			return pdu.StatusOK, false
		}
		return pdu.StatusOK, s.setTLV(0x2900, []byte(r.class))
	case kPriority:
		switch {
		case r.set >= 0:
			return pdu.StatusOK, setByte(&s.prio, byte(r.set))
		case s.prio > byte(r.max):
			return pdu.StatusOK, setByte(&s.prio, byte(r.max))
		}
	case kRateLimit:
		return r.limit(ls), false
	case kDestTON:
		switch s.dstTON {
		case 1:
		case 0:
			if r.rewrite != 2 {
				return pdu.StatusOK, setByte(&s.dstTON, 1)
			}
		default:
			return 0x50, false // ESME_RINVDSTTON
		}
	case kEncodingCheck:
		if !textOK(s.esm, s.dc, s.text()) {
			if r.status != 0 {
				return pdu.Status(r.status), false
			}
			return 0x45, false // ESME_RSUBMITFAIL
		}
	case kSender:
		if len(r.allow) > 0 && !slices.Contains(r.allow, string(s.src)) {
			return 0x0A, false // ESME_RINVSRCADR
		}
		if r.force != nil && *r.force != string(s.src) {
			s.src = []byte(*r.force)
			return pdu.StatusOK, true
		}
	case kEdits, kSetters:
		if r.kind == kEdits && !verdictOK(r.edits) {
			return pdu.StatusSysErr, false // on_error reject (the default)
		}
		changed := false
		for _, e := range r.edits {
			var c bool
			switch e.kind {
			case eTLV:
				c = s.setTLV(e.tag, e.value)
			case ePriority:
				c = setByte(&s.prio, e.num)
			case eDestTON:
				c = setByte(&s.dstTON, e.num)
			case eSourceAddr:
				c = !bytes.Equal(s.src, e.value)
				s.src = bytes.Clone(e.value)
			case eDeleteTLV:
				c = s.deleteTLV(e.tag)
			case eShortMessage:
				c = !bytes.Equal(s.sm, e.value)
				s.sm = bytes.Clone(e.value)
			case eDataCoding:
				c = setByte(&s.dc, e.num)
			case eESMClass:
				c = setByte(&s.esm, e.num)
			case eRegDlr:
				c = setByte(&s.regDlr, e.num)
			case eSourceTON:
				c = setByte(&s.srcTON, e.num)
			case eSourceNPI:
				c = setByte(&s.srcNPI, e.num)
			}
			changed = changed || c
		}
		return pdu.StatusOK, changed
	}
	return pdu.StatusOK, false
}

// limit is the model of rate_limit: its own bucket, or the fleet's.
func (r *ruleSpec) limit(ls *limitState) pdu.Status {
	switch {
	case r.host != hostFleet || ls.down:
		return r.local(ls)
	case ls.empty:
		return 0x58 // ESME_RTHROTTLED
	}
	a := r.fleet.answer(ls.asked)
	ls.asked++
	switch a {
	case aGrant:
		return pdu.StatusOK
	case aRefuse:
		ls.empty = true
		return 0x58
	}
	ls.down = true
	return r.local(ls)
}

// local is a bucket of the rule's rate and burst on this instance alone.
func (r *ruleSpec) local(ls *limitState) pdu.Status {
	if r.huge {
		return pdu.StatusOK
	}
	if ls.tokens == 0 {
		return 0x58 // ESME_RTHROTTLED
	}
	ls.tokens--
	return pdu.StatusOK
}

// verdictOK is the host's check of a plugin's edits: a source_addr of at
// most 20 octets without NUL (SMPP 3.4 §5.2.8), a TLV value of at most
// 65535 octets, a short_message of at most 254 (§5.2.21). One bad edit
// refuses the whole verdict.
func verdictOK(edits []edit) bool {
	for _, e := range edits {
		switch {
		case e.kind == eSourceAddr && (len(e.value) > 20 || bytes.IndexByte(e.value, 0) >= 0):
			return false
		case e.kind == eTLV && len(e.value) > 0xFFFF:
			return false
		case e.kind == eShortMessage && len(e.value) > 254:
			return false
		}
	}
	return true
}

// textOK is the model of encoding_check: the provider's data codings
// (0, 1, 2, 3, 4, 6, 8, 24, 240), a UDH skipped when UDHI is set (GSM
// 03.40 §9.2.3.24), and text that decodes under the coding.
func textOK(esm, dc byte, text []byte) bool {
	if !slices.Contains([]byte{0, 1, 2, 3, 4, 6, 8, 24, 240}, dc) {
		return false
	}
	if esm&0x40 != 0 {
		if len(text) == 0 || int(text[0]) >= len(text) {
			return false
		}
		text = text[1+int(text[0]):]
	}
	switch dc {
	case 0, 240: // GSM 03.38, unpacked: septets, an escape needs a septet after it
		for i := 0; i < len(text); i++ {
			if text[i] >= 0x80 {
				return false
			}
			if text[i] == 0x1B {
				if i++; i >= len(text) || text[i] >= 0x80 {
					return false
				}
			}
		}
	case 1: // IA5
		for _, c := range text {
			if c >= 0x80 {
				return false
			}
		}
	case 6: // ISO-8859-5: the C1 controls have no character
		for _, c := range text {
			if c >= 0x80 && c <= 0x9F {
				return false
			}
		}
	case 8, 24: // UCS-2 (24 is 0x18: general coding, class 0, UCS-2)
		if len(text)%2 != 0 {
			return false
		}
		for i := 0; i < len(text); i += 2 {
			u := binary.BigEndian.Uint16(text[i:])
			switch {
			case u >= 0xDC00 && u <= 0xDFFF:
				return false
			case u >= 0xD800 && u <= 0xDBFF:
				if i+3 >= len(text) {
					return false
				}
				if lo := binary.BigEndian.Uint16(text[i+2:]); lo < 0xDC00 || lo > 0xDFFF {
					return false
				}
				i += 2
			}
		}
	}
	return true
}

// editRule makes a chain's edits. With sdk, they are a plugin's
// ActionChange verdict, applied by external.ApplyEdits as the plugin rule
// applies them; a verdict it refuses gets on_error's default, reject with
// ESME_RSYSERR. Without, they call module.Message's setters directly, the
// source TON and NPI ones too, which no built-in rule uses.
type editRule struct {
	sdk   bool
	edits []edit
}

// errVerdictRefused is the plugin rule's answer to a verdict it refuses,
// with on_error = "reject".
var errVerdictRefused = &pdu.StatusError{Status: pdu.StatusSysErr, Reason: "external rule failed"}

func (*editRule) MuxModule() module.Info {
	return module.Info{ID: "rule.test_edits", New: func() module.Module { return new(editRule) }}
}

func (r *editRule) Submit(m *module.Message) error {
	if r.sdk {
		v := make([]sdk.Edit, len(r.edits))
		for i, e := range r.edits {
			switch e.kind {
			case eTLV:
				v[i] = sdk.SetTLV(e.tag, e.value)
			case ePriority:
				v[i] = sdk.SetPriority(e.num)
			case eDestTON:
				v[i] = sdk.SetDestTON(e.num)
			case eSourceAddr:
				v[i] = sdk.SetSourceAddr(string(e.value))
			case eDeleteTLV:
				v[i] = sdk.DeleteTLV(e.tag)
			case eShortMessage:
				v[i] = sdk.SetShortMessage(e.value)
			case eDataCoding:
				v[i] = sdk.SetDataCoding(e.num)
			case eESMClass:
				v[i] = sdk.SetESMClass(e.num)
			case eRegDlr:
				v[i] = sdk.SetRegisteredDelivery(e.num)
			}
		}
		if external.ApplyEdits(m, v) != nil {
			return errVerdictRefused
		}
		return nil
	}
	for _, e := range r.edits {
		switch e.kind {
		case eTLV:
			m.SetTLV(pdu.Tag(e.tag), e.value)
		case ePriority:
			m.SetPriority(e.num)
		case eDestTON:
			m.SetDestTON(e.num)
		case eSourceAddr:
			m.SetSourceAddr(string(e.value))
		case eDeleteTLV:
			m.DeleteTLV(pdu.Tag(e.tag))
		case eShortMessage:
			m.SetShortMessage(e.value)
		case eDataCoding:
			m.SetDataCoding(e.num)
		case eESMClass:
			m.SetESMClass(e.num)
		case eRegDlr:
			m.SetRegisteredDelivery(e.num)
		case eSourceTON:
			m.SetSourceTON(e.num)
		case eSourceNPI:
			m.SetSourceNPI(e.num)
		}
	}
	return nil
}

// failer is what loadRules needs of *testing.T, *testing.F and *rapid.T.
type failer interface {
	Helper()
	Fatalf(format string, args ...any)
}

// loadRules builds the chain of specs as the mux does: the built-in rules
// are decoded by the real config loader from one client's [[client.rule]]
// tables and provisioned by LoadModule, a rate_limit at its host's place
// (see fleetStore). It returns the store that the fleet buckets draw from
// and a func that cleans the rules up.
func loadRules(t failer, specs []ruleSpec) ([]module.Rule, *fleetStore, func()) {
	t.Helper()
	var cfg strings.Builder
	cfg.WriteString(configHead)
	for i := range specs {
		if specs[i].kind < kEdits {
			cfg.WriteString(specs[i].toml())
		}
	}
	c, err := mux.Parse([]byte(cfg.String()))
	if err != nil {
		t.Fatalf("parse config: %v\n%s", err, cfg.String())
	}
	ctx, cancel := module.NewContext(context.Background(), nil)
	cleanup := func() { cancel(); _ = ctx.Cleanup() }
	var loaded []module.Module
	if len(c.Clients) > 0 {
		loaded = c.Clients[0].Rules
	}
	fs := newFleetStore()
	rules := make([]module.Rule, 0, len(specs))
	for i := range specs {
		if specs[i].kind >= kEdits {
			rules = append(rules, &editRule{sdk: specs[i].kind == kEdits, edits: specs[i].edits})
			continue
		}
		m := loaded[0]
		loaded = loaded[1:]
		at := ctx
		if p, ok := fs.placeOf(&specs[i], i); ok {
			at = ctx.At(p)
		}
		if err := at.LoadModule(m.MuxModule().ID, m); err != nil {
			cleanup()
			t.Fatalf("load rule %d: %v\n%s", i, err, cfg.String())
		}
		rules = append(rules, m.(module.Rule))
	}
	fs.checkProvisioned(t, specs)
	return rules, fs, cleanup
}

// configHead is the smallest whole config, with one client.
const configHead = `
[store]
module = "memory"
[upstream]
system_id = "acct"
[[upstream.host]]
address = "127.0.0.1:1"
[[client]]
system_id = "shop"
password = "pw"
`

// checkForward runs frame through rules with mux.ApplyRules, as a
// session does, and checks the result against the model: the status, the
// forwarded frame byte for byte (none when refused), and what the fleet
// buckets asked of fs. m and dst are reused across calls as a session
// reuses them; the new dst is returned.
func checkForward(t failer, rules []module.Rule, fs *fleetStore, specs []ruleSpec, st *chainState, m *module.Message, dst, frame []byte, in modelSM) []byte {
	t.Helper()
	orig := bytes.Clone(frame)
	want, wantChanged, wantStatus := runModel(specs, st, in)
	if wantStatus == pdu.StatusOK && wantChanged && len(want.frame(pdu.Seq(frame))) > pdu.DefaultMaxLength {
		// Edits that outgrow the largest PDU refuse the message.
		wantStatus = pdu.StatusInvMsgLen
	}
	got, err := mux.ApplyRules(rules, m, "shop", frame, dst[:0])
	if !bytes.Equal(frame, orig) {
		t.Fatalf("the rules wrote into the received frame")
	}
	status := pdu.StatusOK
	if err != nil {
		status = pdu.StatusOf(err) // as the session answers
	}
	if status != wantStatus {
		t.Fatalf("status 0x%02X (%v), model 0x%02X", uint32(status), err, uint32(wantStatus))
	}
	fs.checkDraws(t, specs, st)
	if status != pdu.StatusOK {
		if got != nil {
			t.Fatalf("refused with 0x%02X, yet a frame would go upstream: % x", uint32(status), got)
		}
		return dst
	}
	if m.Changed() != wantChanged {
		t.Fatalf("Changed() %v, model %v", m.Changed(), wantChanged)
	}
	if _, _, err := pdu.DecodeFrame(got); err != nil {
		t.Fatalf("forwarded frame does not decode: %v\n% x", err, got)
	}
	if !wantChanged {
		if len(got) == 0 || &got[0] != &frame[0] || len(got) != len(frame) {
			t.Fatalf("nothing changed, but the frame was not forwarded as received")
		}
		return dst
	}
	if w := want.frame(pdu.Seq(frame)); !bytes.Equal(got, w) {
		t.Fatalf("forwarded frame\n got % x\nwant % x\n%s", got, w, diffSM(got, w))
	}
	return got
}

// diffSM names the fields in which two submit_sm frames differ.
func diffSM(got, want []byte) string {
	var g, w pdu.SM
	if g.Decode(got[pdu.HeaderLen:]) != nil || w.Decode(want[pdu.HeaderLen:]) != nil {
		return "(one does not decode)"
	}
	gm, wm := fromSM(&g), fromSM(&w)
	return fmt.Sprintf("got  %+v\nwant %+v", gm, wm)
}
