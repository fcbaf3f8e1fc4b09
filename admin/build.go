package admin

import (
	"time"

	"github.com/smpp-mux/smpp-mux/internal/buildinfo"
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
	in := buildinfo.Read(version)
	b := buildInfo{Version: in.Version, Commit: in.Commit, GoVersion: in.GoVersion, Started: started}
	if in.Modified && b.Commit != "" {
		b.Commit += "-dirty"
	}
	return b
}
