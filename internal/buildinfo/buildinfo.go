// Package buildinfo says what the running binary is: its version, the
// commit it was built from and the Go version, read once from the build
// information. `smpp-mux version`, /status and smppmux_build_info all
// use it.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Info describes a build.
type Info struct {
	Version    string // the version given at link time, else the module's, else "devel"
	Commit     string // vcs.revision; "" when the build recorded none
	CommitTime string // vcs.time; "" when unknown
	Modified   bool   // built from a tree with uncommitted changes
	GoVersion  string // the Go toolchain that built it
}

// Read returns the running binary's Info; version, when not empty, is the
// one given at link time (-ldflags -X main.version=...).
func Read(version string) Info {
	bi, _ := debug.ReadBuildInfo()
	return From(version, bi)
}

// From returns the Info of a build record; bi may be nil.
func From(version string, bi *debug.BuildInfo) Info {
	in := Info{Version: version, GoVersion: runtime.Version()}
	if bi != nil {
		if in.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			in.Version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			in.GoVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				in.Commit = s.Value
			case "vcs.time":
				in.CommitTime = s.Value
			case "vcs.modified":
				in.Modified = s.Value == "true"
			}
		}
	}
	if in.Version == "" {
		in.Version = "devel"
	}
	return in
}
