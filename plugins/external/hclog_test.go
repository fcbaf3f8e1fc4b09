package external

import (
	"testing"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestHCLogAdapter(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.InfoLevel)
	var h hclog.Logger = newHCLog(zap.New(core))
	h = h.Named("my-rule").With("pid", 42)
	h.Debug("dropped")
	h.Warn("restarting", "attempt", 2, "odd")
	h.StandardWriter(&hclog.StandardLoggerOptions{ForceLevel: hclog.Error}).Write([]byte("line one\nline two\n"))
	if h.IsDebug() || !h.IsInfo() || h.GetLevel() != hclog.Info {
		t.Errorf("levels: debug %v info %v level %v", h.IsDebug(), h.IsInfo(), h.GetLevel())
	}
	all := logs.All()
	if len(all) != 3 {
		t.Fatalf("got %d entries: %+v", len(all), all)
	}
	e := all[0]
	if e.Level != zapcore.WarnLevel || e.LoggerName != "my-rule" || e.Message != "restarting" {
		t.Errorf("entry %+v", e)
	}
	ctx := e.ContextMap()
	if ctx["pid"] != int64(42) || ctx["attempt"] != int64(2) || ctx["extra_value_at_end"] != "odd" {
		t.Errorf("fields %v", ctx)
	}
	if all[1].Level != zapcore.ErrorLevel || all[1].Message != "line one" || all[2].Message != "line two" {
		t.Errorf("standard writer: %+v", all[1:])
	}
}
