package main

import (
	"os"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// TestMain gives vmfstest.RealSample a folder for the unpacked samples.
func TestMain(m *testing.M) { os.Exit(vmfstest.RunTests(m)) }
