package admin

import (
	"runtime"
	"runtime/debug"
	"time"
)

// started is about when the process started: package variables are set
// before main runs.
var started = time.Now()

// buildInfo is what /status, the page and smppmux_build_info say about
// the binary.
type buildInfo struct {
	Version   string    `json:"version"`
	Commit    string    `json:"commit"` // vcs.revision, "-dirty" when built from a modified tree; "" unknown
	GoVersion string    `json:"go_version"`
	Started   time.Time `json:"started"`
	Uptime    float64   `json:"uptime_s"`
}

// readBuild reads the binary's build information; version, when not
// empty, is the one the command was built with (-ldflags -X).
func readBuild(version string) buildInfo {
	b := buildInfo{Version: version, GoVersion: runtime.Version(), Started: started}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b.fill()
	}
	if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		b.Version = bi.Main.Version
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && b.Commit != "" {
		b.Commit += "-dirty"
	}
	return b.fill()
}

func (b buildInfo) fill() buildInfo {
	if b.Version == "" {
		b.Version = "devel"
	}
	return b
}
