package vmdk

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// Errors name a local file by its whole path: os.DirFS("/") would leave
// the leading "/" out ("open nonexistent.img").
func TestOpenErrorsNameTheWholePath(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, want string }{
		{filepath.Join(dir, "nonexistent.img"), filepath.Join(dir, "nonexistent.img") + ": no such file"},
		{dir, dir + ": is a directory"},
	} {
		_, err := Open(tc.name, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%s): %v, want %q in it", tc.name, err, tc.want)
		}
	}
	if _, err := Open(filepath.Join(dir, "x"), nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v is not fs.ErrNotExist", err)
	}
}
