package external

import (
	"bytes"
	"fmt"
	"io"
	"log"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapHCLog is the one hclog.Logger smpp-mux hands to go-plugin: it writes
// go-plugin's own messages and the plugin's stderr (parsed into levels by
// go-plugin) into the module's zap logger. The level is zap's; SetLevel
// is ignored, since the operator sets it in [log].
type zapHCLog struct {
	z    *zap.Logger
	name string
	args []any // implied by With
}

var _ hclog.Logger = (*zapHCLog)(nil)

func newHCLog(z *zap.Logger) *zapHCLog { return &zapHCLog{z: z} }

func zapLevel(l hclog.Level) zapcore.Level {
	switch l {
	case hclog.Trace, hclog.Debug, hclog.NoLevel:
		return zapcore.DebugLevel
	case hclog.Info:
		return zapcore.InfoLevel
	case hclog.Warn:
		return zapcore.WarnLevel
	}
	return zapcore.ErrorLevel
}

// Log implements hclog.Logger.
func (h *zapHCLog) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off {
		return
	}
	ce := h.z.Check(zapLevel(level), msg)
	if ce == nil {
		return
	}
	fields := make([]zap.Field, 0, (len(h.args)+len(args))/2+1)
	fields = appendFields(fields, h.args)
	fields = appendFields(fields, args)
	ce.Write(fields...)
}

// appendFields turns hclog's key, value, key, value… into zap fields.
func appendFields(dst []zap.Field, kv []any) []zap.Field {
	for i := 0; i < len(kv); i += 2 {
		if i+1 == len(kv) {
			return append(dst, zap.Any("extra_value_at_end", kv[i]))
		}
		k, ok := kv[i].(string)
		if !ok {
			k = fmt.Sprint(kv[i])
		}
		dst = append(dst, zap.Any(k, kv[i+1]))
	}
	return dst
}

// Trace implements hclog.Logger; zap has no trace level, so it is Debug.
func (h *zapHCLog) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }

// Debug implements hclog.Logger.
func (h *zapHCLog) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }

// Info implements hclog.Logger.
func (h *zapHCLog) Info(msg string, args ...any) { h.Log(hclog.Info, msg, args...) }

// Warn implements hclog.Logger.
func (h *zapHCLog) Warn(msg string, args ...any) { h.Log(hclog.Warn, msg, args...) }

// Error implements hclog.Logger.
func (h *zapHCLog) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

// IsTrace implements hclog.Logger.
func (h *zapHCLog) IsTrace() bool { return h.z.Core().Enabled(zapcore.DebugLevel) }

// IsDebug implements hclog.Logger.
func (h *zapHCLog) IsDebug() bool { return h.z.Core().Enabled(zapcore.DebugLevel) }

// IsInfo implements hclog.Logger.
func (h *zapHCLog) IsInfo() bool { return h.z.Core().Enabled(zapcore.InfoLevel) }

// IsWarn implements hclog.Logger.
func (h *zapHCLog) IsWarn() bool { return h.z.Core().Enabled(zapcore.WarnLevel) }

// IsError implements hclog.Logger.
func (h *zapHCLog) IsError() bool { return h.z.Core().Enabled(zapcore.ErrorLevel) }

// ImpliedArgs implements hclog.Logger.
func (h *zapHCLog) ImpliedArgs() []any { return h.args }

// With implements hclog.Logger.
func (h *zapHCLog) With(args ...any) hclog.Logger {
	c := *h
	c.args = append(append([]any(nil), h.args...), args...)
	return &c
}

// Name implements hclog.Logger.
func (h *zapHCLog) Name() string { return h.name }

// Named implements hclog.Logger.
func (h *zapHCLog) Named(name string) hclog.Logger {
	c := *h
	c.z = h.z.Named(name)
	if c.name != "" {
		c.name += "."
	}
	c.name += name
	return &c
}

// ResetNamed implements hclog.Logger. The zap logger keeps the module's
// name; only the hclog name is reset.
func (h *zapHCLog) ResetNamed(name string) hclog.Logger {
	c := *h
	c.name = name
	return &c
}

// SetLevel implements hclog.Logger; it does nothing (see zapHCLog).
func (h *zapHCLog) SetLevel(hclog.Level) {}

// GetLevel implements hclog.Logger: the most verbose level zap lets
// through, so go-plugin skips parsing plugin lines zap would drop.
func (h *zapHCLog) GetLevel() hclog.Level {
	for _, l := range []hclog.Level{hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if h.z.Core().Enabled(zapLevel(l)) {
			if l == hclog.Debug {
				return hclog.Trace
			}
			return l
		}
	}
	return hclog.Off
}

// StandardLogger implements hclog.Logger.
func (h *zapHCLog) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(h.StandardWriter(opts), "", 0)
}

// StandardWriter implements hclog.Logger: each line written is one entry
// at opts.ForceLevel, or Info.
func (h *zapHCLog) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	level := hclog.Info
	if opts != nil && opts.ForceLevel != hclog.NoLevel {
		level = opts.ForceLevel
	}
	return lineWriter{h: h, level: level}
}

type lineWriter struct {
	h     *zapHCLog
	level hclog.Level
}

func (w lineWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		if len(line) > 0 {
			w.h.Log(w.level, string(line))
		}
	}
	return len(p), nil
}
