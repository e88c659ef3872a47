package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestVolumeFlagsPerCommand: the volume flags of one command do not leak
// into the next one run from the same root (they lived on the global
// options once): ls after "scan --volume 9" lists the only volume.
func TestVolumeFlagsPerCommand(t *testing.T) {
	res := genVolume(t, 5)
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs([]string{"ls", "--quiet", "--volume", "9", res.Image})
	if err := root.ExecuteContext(context.Background()); err == nil {
		t.Fatalf("ls --volume 9 found a volume 9:\n%s", out.String())
	}
	out.Reset()
	root.SetArgs([]string{"cat", "--quiet", res.Image, "/vm1/vm1.vmx"})
	if err := root.ExecuteContext(context.Background()); err != nil || !strings.Contains(out.String(), "displayName") {
		t.Errorf("cat after ls --volume 9: %v\n%s", err, out.String())
	}
}
