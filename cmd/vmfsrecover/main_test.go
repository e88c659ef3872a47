package main

import (
	"os"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/benchpeer"
	"github.com/vmfsrecover/vmfsrecover/recover/mount/mounttest"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/faultfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// TestMain gives vmfstest.RealSample a folder for the unpacked samples;
// run again as a child, the test binary serves faultfs's disks, reads a
// mount (mounttest) or is vmfsrecover for a benchmark (benchpeer.Self).
func TestMain(m *testing.M) {
	benchpeer.RunSelfIfAsked(main)
	faultfs.ServeIfAsked()
	mounttest.RunIfAsked()
	os.Exit(vmfstest.RunTests(m))
}
