package deepscan

import (
	"os"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// TestMain removes the real samples the tests unpacked (vmfstest.RealSample).
func TestMain(m *testing.M) { os.Exit(vmfstest.RunTests(m)) }
