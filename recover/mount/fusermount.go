package mount

import (
	"fmt"
	"os/exec"
	"strings"
)

// runFusermount lazily unmounts dir with the setuid helper, as a user who
// is not root must.
func runFusermount(bin, dir string) error {
	out, err := exec.Command(bin, "-u", "-z", dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s -u -z %s: %w: %s", bin, dir, err, strings.TrimSpace(string(out)))
	}
	return nil
}
