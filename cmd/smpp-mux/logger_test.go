package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/mux"
)

// Durations are logged as Go duration strings ("30s"), not bare floats.
func TestLoggerDurations(t *testing.T) {
	var buf bytes.Buffer
	log, _, err := newLogger(mux.LogConfig{Level: "info", Format: "json"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("x", zap.Duration("lived", 21*time.Minute+5800*time.Millisecond), zap.Duration("retention", 48*time.Hour))
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	if line["lived"] != "21m5.8s" || line["retention"] != "48h0m0s" {
		t.Errorf("durations logged as %v and %v", line["lived"], line["retention"])
	}
}
