package sdk

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

func TestParseTLVsMalformed(t *testing.T) {
	t.Parallel()
	got := parseTLVs([]byte{0x02, 0x04, 0x00, 0x02, 0, 7, 0x29, 0x00, 0x00, 0x09, 'x'})
	if len(got) != 1 || got[0].Tag != 0x0204 {
		t.Fatalf("got %+v, want the first TLV only", got)
	}
}

// TestLoggerShape checks that Logger writes what go-plugin parses into a
// level: @level, @message and @timestamp in hclog's layout.
func TestLoggerShape(t *testing.T) {
	var buf bytes.Buffer
	old := stderr
	defer func() { stderr = old }()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr = w
	Logger().Warn("hello", "system_id", "shop")
	_ = w.Close()
	_, _ = buf.ReadFrom(r)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	if line["@level"] != "warn" || line["@message"] != "hello" || line["system_id"] != "shop" {
		t.Errorf("line %v", line)
	}
	if ts, _ := line["@timestamp"].(string); len(ts) != len("2006-01-02T15:04:05.000000Z") && len(ts) != len("2006-01-02T15:04:05.000000+00:00") {
		t.Errorf("timestamp %q", ts)
	}
}
