package pdu

import (
	"bytes"
	"testing"

	"pgregory.net/rapid"
)

// TestTLVEditsCompose applies random Set and Delete edits to random TLVs
// in one growing scratch buffer, interleaved with other values appended to
// it, as module.Message does for a chain of rules. After every edit the TLVs
// must equal a list model (set: the first of the tag replaced in place,
// later ones dropped, else added at the end; delete: every one of the tag
// dropped), and no value appended earlier may have been overwritten.
func TestTLVEditsCompose(t *testing.T) {
	t.Parallel()
	type tlv struct {
		tag   Tag
		value []byte
	}
	encode := func(l []tlv) []byte {
		var b []byte
		for _, x := range l {
			b = AppendTLV(b, x.tag, x.value)
		}
		return b
	}
	tags := rapid.SampledFrom([]Tag{TagMessageClass, TagUserMessageReference, TagMessagePayload, 0x1400})
	genTLV := rapid.Custom(func(t *rapid.T) tlv {
		return tlv{tags.Draw(t, "tag"), rapid.SliceOfN(rapid.Byte(), 0, 12).Draw(t, "value")}
	})
	rapid.Check(t, func(t *rapid.T) {
		model := rapid.SliceOfN(genTLV, 0, 6).Draw(t, "tlvs")
		cur := TLVs(encode(model))
		var scratch []byte
		type kept struct {
			at   int
			want []byte
		}
		var others []kept // values appended to scratch between edits
		for range rapid.IntRange(1, 8).Draw(t, "edits") {
			start := len(scratch)
			switch op := rapid.IntRange(0, 2).Draw(t, "op"); op {
			case 0:
				e := genTLV.Draw(t, "set")
				want := cur.Set(nil, e.tag, e.value)
				scratch = cur.AppendSet(scratch, e.tag, e.value)
				cur = TLVs(scratch[start:len(scratch):len(scratch)])
				if !bytes.Equal(cur, want) || cap(want) != len(want) {
					t.Fatalf("AppendSet % x, Set % x (cap %d)", []byte(cur), []byte(want), cap(want))
				}
				var out []tlv
				done := false
				for _, x := range model {
					switch {
					case x.tag != e.tag:
						out = append(out, x)
					case !done:
						out, done = append(out, e), true
					}
				}
				if !done {
					out = append(out, e)
				}
				model = out
			case 1:
				tag := tags.Draw(t, "delete")
				want := cur.Delete(nil, tag)
				scratch = cur.AppendDelete(scratch, tag)
				cur = TLVs(scratch[start:len(scratch):len(scratch)])
				if !bytes.Equal(cur, want) || cap(want) != len(want) {
					t.Fatalf("AppendDelete % x, Delete % x (cap %d)", []byte(cur), []byte(want), cap(want))
				}
				var out []tlv
				for _, x := range model {
					if x.tag != tag {
						out = append(out, x)
					}
				}
				model = out
			case 2:
				v := rapid.SliceOfN(rapid.Byte(), 1, 20).Draw(t, "other")
				scratch = append(scratch, v...)
				others = append(others, kept{start, v})
			}
			if want := encode(model); !bytes.Equal(cur, want) || cur.Validate() != nil {
				t.Fatalf("TLVs % x, model % x", []byte(cur), want)
			}
			for _, o := range others {
				if !bytes.Equal(scratch[o.at:o.at+len(o.want)], o.want) {
					t.Fatalf("a value appended earlier was overwritten")
				}
			}
		}
	})
}

// TestTLVSetDeleteResultCapacity: appending to the result of Set or
// Delete must not write into dst's spare room, where the caller's next
// append to dst goes.
func TestTLVSetDeleteResultCapacity(t *testing.T) {
	t.Parallel()
	tl := TLVs(AppendTLV(AppendTLV(nil, TagMessageClass, []byte("gold")), 0x1400, []byte("v")))
	for name, edit := range map[string]func(dst []byte) TLVs{
		"Set":    func(dst []byte) TLVs { return tl.Set(dst, TagUserMessageReference, []byte{0, 1}) },
		"Delete": func(dst []byte) TLVs { return tl.Delete(dst, TagMessageClass) },
	} {
		buf := make([]byte, 0, 256)
		r := edit(buf)
		_ = append(r, 0xEE)
		if buf[:len(r)+1][len(r)] == 0xEE {
			t.Errorf("%s: appending to the result wrote into dst's spare room", name)
		}
	}
}
