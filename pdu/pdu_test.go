package pdu

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// unhex decodes hex written with spaces and newlines for readability.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

// Golden frames, written by hand from the SMPP 3.4 layouts (§4.1, §4.4,
// §4.6, §4.11), not produced by this package's encoder.
var goldens = []struct {
	name string
	hex  string
	h    Header
	body Body
}{
	{
		name: "enquire_link",
		hex:  "00000010 00000015 00000000 00000007",
		h:    Header{Length: 16, ID: CmdEnquireLink, Seq: 7},
		body: &Empty{},
	},
	{
		name: "unbind_resp",
		hex:  "00000010 80000006 00000000 7fffffff",
		h:    Header{Length: 16, ID: CmdUnbindResp, Seq: MaxSeq},
		body: &Empty{},
	},
	{
		name: "generic_nack",
		hex:  "00000010 80000000 00000003 00000009",
		h:    Header{Length: 16, ID: CmdGenericNack, Status: StatusInvCmdID, Seq: 9},
		body: &Empty{},
	},
	{
		name: "bind_transceiver",
		hex: `00000021 00000009 00000000 00000001
		      73686f7000 73656372657400 00 34 00 00 00`,
		h: Header{Length: 33, ID: CmdBindTransceiver, Seq: 1},
		body: &Bind{SystemID: []byte("shop"), Password: []byte("secret"), SystemType: []byte{},
			InterfaceVersion: 0x34, AddressRange: []byte{}},
	},
	{
		name: "bind_transmitter_resp with sc_interface_version",
		hex: `0000001a 80000002 00000000 00000001
		      736d736300 0210 0001 34`,
		h:    Header{Length: 26, ID: CmdBindTransmitterResp, Seq: 1},
		body: &BindResp{SystemID: []byte("smsc"), TLVs: TLVs{0x02, 0x10, 0x00, 0x01, 0x34}},
	},
	{
		name: "submit_sm with message_class",
		hex: `00000045 00000004 00000000 00000002
		      00
		      01 01 3435313233343536373800
		      01 01 3435383736353433323100
		      00 00 00
		      00
		      00
		      01 00 00 00
		      05 68656c6c6f
		      2900 0007 7072656d69756d`,
		h: Header{Length: 69, ID: CmdSubmitSM, Seq: 2},
		body: &SM{ServiceType: []byte{}, SourceTON: 1, SourceNPI: 1, SourceAddr: []byte("4512345678"),
			DestTON: 1, DestNPI: 1, DestAddr: []byte("4587654321"),
			ScheduleDeliveryTime: []byte{}, ValidityPeriod: []byte{}, RegisteredDelivery: 1,
			ShortMessage: []byte("hello"), TLVs: TLVs("\x29\x00\x00\x07premium")},
	},
	{
		name: "submit_sm_resp",
		hex:  "00000017 80000004 00000000 00000002 61626331323300",
		h:    Header{Length: 23, ID: CmdSubmitSMResp, Seq: 2},
		body: &SMResp{MessageID: []byte("abc123")},
	},
	{
		name: "deliver_sm receipt",
		hex: `000000ac 00000005 00000000 00000003
		      00
		      01 01 3435383736353433323100
		      01 01 3435313233343536373800
		      04 00 00
		      00
		      00
		      00 00 03 00
		      67 69643a616263313233207375623a30303120646c7672643a303031207375626d697420646174653a3236313132363130303020646f6e6520646174653a3236313132363130303120737461743a44454c49565244206572723a30303020746578743a68656c6c6f
		      001e 0007 61626331323300
		      0427 0001 02`,
		h: Header{Length: 172, ID: CmdDeliverSM, Seq: 3},
		body: &SM{ServiceType: []byte{}, SourceTON: 1, SourceNPI: 1, SourceAddr: []byte("4587654321"),
			DestTON: 1, DestNPI: 1, DestAddr: []byte("4512345678"), ESMClass: 4,
			ScheduleDeliveryTime: []byte{}, ValidityPeriod: []byte{}, DataCoding: 3,
			ShortMessage: []byte("id:abc123 sub:001 dlvrd:001 submit date:2611261000 done date:2611261001 stat:DELIVRD err:000 text:hello"),
			TLVs:         TLVs("\x00\x1e\x00\x07abc123\x00\x04\x27\x00\x01\x02")},
	},
	{
		name: "enquire_link_resp",
		hex:  "00000010 80000015 00000000 00000007",
		h:    Header{Length: 16, ID: CmdEnquireLinkResp, Seq: 7},
		body: &Empty{},
	},
	{
		name: "unbind",
		hex:  "00000010 00000006 00000000 00000008",
		h:    Header{Length: 16, ID: CmdUnbind, Seq: 8},
		body: &Empty{},
	},
	{
		name: "bind_receiver with address_range",
		hex: `0000001f 00000001 00000000 00000004
		      6100 6200 4f544100 34 01 01 34352a00`,
		h: Header{Length: 31, ID: CmdBindReceiver, Seq: 4},
		body: &Bind{SystemID: []byte("a"), Password: []byte("b"), SystemType: []byte("OTA"),
			InterfaceVersion: 0x34, AddrTON: 1, AddrNPI: 1, AddressRange: []byte("45*")},
	},
	{
		name: "bind_transmitter SMPP 3.3",
		hex: `00000019 00000002 00000000 00000005
		      7800 7900 00 33 00 00 00`,
		h: Header{Length: 25, ID: CmdBindTransmitter, Seq: 5},
		body: &Bind{SystemID: []byte("x"), Password: []byte("y"), SystemType: []byte{},
			InterfaceVersion: 0x33, AddressRange: []byte{}},
	},
	{
		name: "bind_receiver_resp",
		hex:  "00000015 80000001 00000000 00000004 736d736300",
		h:    Header{Length: 21, ID: CmdBindReceiverResp, Seq: 4},
		body: &BindResp{SystemID: []byte("smsc")},
	},
	{
		name: "bind_transceiver_resp refused",
		hex:  "00000011 80000009 0000000e 00000001 00",
		h:    Header{Length: 17, ID: CmdBindTransceiverResp, Status: StatusInvPassword, Seq: 1},
		body: &BindResp{SystemID: []byte{}},
	},
	{
		name: "deliver_sm_resp",
		hex:  "00000011 80000005 00000000 00000003 00",
		h:    Header{Length: 17, ID: CmdDeliverSMResp, Seq: 3},
		body: &SMResp{MessageID: []byte{}},
	},
}

func TestGoldenRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range goldens {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			frame := unhex(t, tc.hex)
			h, body, err := DecodeFrame(frame)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if h != tc.h {
				t.Fatalf("header = %+v, want %+v", h, tc.h)
			}
			if !reflect.DeepEqual(body, tc.body) {
				t.Fatalf("body = %+v\nwant   %+v", body, tc.body)
			}
			enc := Append(nil, h.ID, h.Status, h.Seq, tc.body)
			if !bytes.Equal(enc, frame) {
				t.Fatalf("encode:\n got %x\nwant %x", enc, frame)
			}
		})
	}
}

func TestPatchSeq(t *testing.T) {
	t.Parallel()
	frame := unhex(t, goldens[5].hex)
	orig := append([]byte(nil), frame...)
	PatchSeq(frame, 0x01020304)
	if got := Seq(frame); got != 0x01020304 {
		t.Fatalf("Seq = %#x", got)
	}
	if !bytes.Equal(frame[:12], orig[:12]) || !bytes.Equal(frame[16:], orig[16:]) {
		t.Fatal("PatchSeq touched octets outside the sequence number")
	}
}

func TestPeek(t *testing.T) {
	t.Parallel()
	dlr := unhex(t, goldens[7].hex)
	if id, ok := PeekReceiptedMessageID(dlr); !ok || string(id) != "abc123" {
		t.Fatalf("PeekReceiptedMessageID = %q, %v", id, ok)
	}
	if e, ok := PeekESMClass(dlr); !ok || e != ESMClassReceipt {
		t.Fatalf("PeekESMClass = %#x, %v", e, ok)
	}
	if d, ok := PeekDestAddr(dlr); !ok || string(d) != "4512345678" {
		t.Fatalf("PeekDestAddr = %q, %v", d, ok)
	}
	sub := unhex(t, goldens[5].hex)
	if r, ok := PeekRegisteredDelivery(sub); !ok || r != 1 {
		t.Fatalf("PeekRegisteredDelivery = %d, %v", r, ok)
	}
	if si, ok := PeekSubmit(sub); !ok || si.RegisteredDelivery != 1 || string(si.DestAddr) != "4587654321" || si.IsConcat {
		t.Fatalf("PeekSubmit = %+v, %v", si, ok)
	}
	if _, ok := PeekReceiptedMessageID(sub); ok {
		t.Fatal("submit_sm has no receipted_message_id")
	}
	if _, ok := PeekESMClass(unhex(t, goldens[0].hex)); ok {
		t.Fatal("enquire_link has no esm_class")
	}
	// Every truncation of a valid frame is refused, never a panic.
	for i := HeaderLen; i < len(dlr)-16; i++ {
		PeekReceiptedMessageID(dlr[:i])
		PeekConcat(dlr[:i])
	}
}

func TestPeekConcat(t *testing.T) {
	t.Parallel()
	mk := func(esm byte, sm []byte, tlvs TLVs) []byte {
		m := SM{ESMClass: esm, DestAddr: []byte("4512345678"), ShortMessage: sm, TLVs: tlvs}
		return Append(nil, CmdSubmitSM, 0, 1, &m)
	}
	var sar []byte
	sar = AppendTLV(sar, TagSARMsgRefNum, []byte{0x12, 0x34})
	sar = AppendTLV(sar, TagSARTotalSegments, []byte{3})
	sar = AppendTLV(sar, TagSARSegmentSeqnum, []byte{2})
	cases := []struct {
		name  string
		frame []byte
		want  ConcatRef
		ok    bool
	}{
		{"udh 8-bit", mk(0x40, []byte{5, 0, 3, 0xAB, 2, 1, 'h', 'i'}, nil), ConcatRef{Ref: 0xAB, Total: 2, Part: 1}, true},
		{"udh 16-bit", mk(0x40, []byte{6, 8, 4, 0x01, 0x02, 3, 3, 'h'}, nil), ConcatRef{Ref: 0x0102, Total: 3, Part: 3}, true},
		{"udh other IE first", mk(0x40, []byte{9, 0x0A, 2, 1, 1, 0, 3, 7, 2, 2, 'x'}, nil), ConcatRef{Ref: 7, Total: 2, Part: 2}, true},
		{"sar tlvs", mk(0, []byte("hi"), sar), ConcatRef{Ref: 0x1234, Total: 3, Part: 2}, true},
		{"udh bit without udh", mk(0x40, []byte{}, nil), ConcatRef{}, false},
		{"udh length past end", mk(0x40, []byte{9, 0, 3}, nil), ConcatRef{}, false},
		{"plain", mk(0, []byte("hello"), nil), ConcatRef{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := PeekConcat(tc.frame)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("PeekConcat = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestReadFrameLimits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want error
	}{
		{"length 0", "00000000 00000015 00000000 00000001", ErrShortLength},
		{"length 15", "0000000f 00000015 00000000 00000001", ErrShortLength},
		{"length huge", "7fffffff 00000004 00000000 00000001", ErrTooLong},
		{"body cut", "00000020 00000004 00000000 00000001 0000", io.ErrUnexpectedEOF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ReadFrame(bytes.NewReader(unhex(t, tc.in)), nil, 4096)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var le *LengthError
			if errors.As(err, &le) && le.Header.Seq != 1 {
				t.Fatalf("LengthError lost the header: %+v", le.Header)
			}
		})
	}
	frame, err := ReadFrame(bytes.NewReader(unhex(t, goldens[5].hex)), make([]byte, 0, 16), 4096)
	if err != nil || len(frame) != 69 {
		t.Fatalf("ReadFrame = %d octets, %v", len(frame), err)
	}
}

func TestDecodeErrorsNameTheField(t *testing.T) {
	t.Parallel()
	good := unhex(t, goldens[5].hex)
	// destination_addr of 30 digits: over its 21-octet maximum.
	m := SM{DestAddr: bytes.Repeat([]byte("1"), 30)}
	long := Append(nil, CmdSubmitSM, 0, 1, &m)
	cases := []struct {
		name   string
		frame  []byte
		field  string
		status Status
	}{
		{"dest too long", long, "destination_addr", StatusInvDstAddr},
		{"sm_length past end", func() []byte {
			f := append([]byte(nil), good[:len(good)-11]...)
			f[len(f)-6] = 200
			PatchLen(f)
			return f
		}(), "short_message", StatusInvMsgLen},
		{"tlv past end", func() []byte {
			f := append([]byte(nil), good[:len(good)-2]...)
			PatchLen(f)
			return f
		}(), "tlv 0x2900", StatusInvParLen},
		{"no NUL", func() []byte {
			f := unhex(t, "00000014 00000009 00000000 00000001 73686f70")
			return f
		}(), "system_id", StatusInvSystemID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := DecodeFrame(tc.frame)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a FieldError", err)
			}
			if fe.Field != tc.field || StatusOf(err) != tc.status {
				t.Fatalf("err = %v (status %v), want field %s status %v", err, StatusOf(err), tc.field, tc.status)
			}
		})
	}
}

func TestTLVSetDelete(t *testing.T) {
	t.Parallel()
	var tl TLVs
	tl = AppendTLV(tl, 0x1400, []byte("vendor"))
	tl = AppendTLV(tl, TagMessageClass, []byte("standard"))
	tl = AppendTLV(tl, TagUserMessageReference, []byte{0, 7})
	got := tl.Set(nil, TagMessageClass, []byte("premium"))
	var want TLVs
	want = AppendTLV(want, 0x1400, []byte("vendor"))
	want = AppendTLV(want, TagMessageClass, []byte("premium"))
	want = AppendTLV(want, TagUserMessageReference, []byte{0, 7})
	if !bytes.Equal(got, want) {
		t.Fatalf("Set kept order wrong:\n got %x\nwant %x", got, want)
	}
	if v, ok := got.Uint16(TagUserMessageReference); !ok || v != 7 {
		t.Fatalf("Uint16 = %d, %v", v, ok)
	}
	added := TLVs(nil).Set(nil, TagMessageClass, []byte("x"))
	if v, ok := added.Lookup(TagMessageClass); !ok || string(v) != "x" {
		t.Fatal("Set on empty TLVs did not add")
	}
	del := got.Delete(nil, TagMessageClass)
	if _, ok := del.Lookup(TagMessageClass); ok || del.Validate() != nil {
		t.Fatal("Delete left the tag")
	}
	n := 0
	for range got.All() {
		n++
	}
	if n != 3 {
		t.Fatalf("All yielded %d TLVs, want 3", n)
	}
}

func TestStatusAndCommandNames(t *testing.T) {
	t.Parallel()
	if StatusThrottled.String() != "ESME_RTHROTTLED" || Status(0x58) != StatusThrottled {
		t.Fatal("ESME_RTHROTTLED")
	}
	if Status(0x45a).String() != "0x45a" {
		t.Fatal("vendor status string")
	}
	if CmdSubmitSM.Resp() != CmdSubmitSMResp || !CmdSubmitSMResp.IsResp() || CmdSubmitSM.IsResp() {
		t.Fatal("Resp bit")
	}
	for _, id := range []CommandID{CmdOutbind, CmdDataSM, CmdQuerySM, CmdCancelSM, CmdReplaceSM, CmdSubmitMulti, CmdAlertNotification} {
		if !id.Known() || strings.HasPrefix(id.String(), "command_") {
			t.Fatalf("%#x not known by name", uint32(id))
		}
	}
	if CommandID(0x1234).Known() {
		t.Fatal("0x1234 known")
	}
	if StatusOf(StatusThrottled.Err()) != StatusThrottled || StatusOK.Err() != nil {
		t.Fatal("Status.Err")
	}
}

// SMSCs often answer a refused bind, or a failed submit, with a header
// alone; that decodes to an empty body.
func TestHeaderOnlyErrorResponses(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"00000010 80000009 0000000e 00000001",
		"00000010 80000004 00000058 00000002",
	} {
		h, body, err := DecodeFrame(unhex(t, in))
		if err != nil || body == nil || h.Status == StatusOK {
			t.Fatalf("%s: %+v %v %v", in, h, body, err)
		}
	}
}
