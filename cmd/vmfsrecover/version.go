package main

import (
	"encoding/json"
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set by the Makefile's build target from git describe:
// -ldflags "-X main.version=...".
var version string

// versionInfo says which source the binary was built from.
type versionInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"` // VCS commit
	Time     string `json:"time,omitempty"`     // commit time
	Modified bool   `json:"modified,omitempty"` // built from a tree with uncommitted changes
	Go       string `json:"go,omitempty"`
}

// buildVersion returns the version: the one the Makefile set, else the
// module's version from the build info (a release, or the pseudo-version
// go build derives from the commit), else "devel" with the commit when
// the build recorded one.
func buildVersion(set string, bi *debug.BuildInfo, ok bool) versionInfo {
	v := versionInfo{Version: set}
	if ok {
		v.Go = bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.time":
				v.Time = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
		if v.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
	}
	if v.Version == "" {
		v.Version = "devel"
		if v.Revision != "" {
			v.Version += "-" + v.Revision[:min(12, len(v.Revision))]
			if v.Modified {
				v.Version += "-dirty"
			}
		}
	}
	return v
}

func (v versionInfo) String() string {
	s := "vmfsrecover " + v.Version
	switch {
	case v.Revision != "":
		s += fmt.Sprintf(" (commit %s", v.Revision)
		if v.Time != "" {
			s += " of " + v.Time
		}
		if v.Modified {
			s += ", with uncommitted changes"
		}
		s += ")"
	case v.Version == "devel":
		s += " (built without version information: 'make build' records it)"
	}
	if v.Go != "" {
		s += ", " + v.Go
	}
	return s
}

func newVersionCmd(opts *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of vmfsrecover",
		Long: `version prints the version the binary was built as (git describe, set by
'make build'), the commit and its time when the build recorded them, and
the Go version.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			bi, ok := debug.ReadBuildInfo()
			v := buildVersion(version, bi, ok)
			if opts.json {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(v)
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), v)
			return err
		},
	}
}
