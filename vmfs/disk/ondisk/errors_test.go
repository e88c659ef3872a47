package ondisk

import (
	"errors"
	"fmt"
	"testing"
)

func TestFormatError(t *testing.T) {
	class := errors.New("corrupt test format")
	other := errors.New("unsupported test feature")
	for _, c := range []struct {
		e    *FormatError
		want string
	}{
		{&FormatError{Path: "vmfs", Struct: "LVM header", Off: 0x100000, Msg: "bad magic", Err: class}, "vmfs: LVM header at offset 0x100000: bad magic"},
		{&FormatError{Path: "d.vmdk", Struct: "grain table", Off: 0, Msg: "short", Err: class}, "d.vmdk: grain table at offset 0x0: short"},
		{&FormatError{Struct: "MBR", Off: 0x1BE, Msg: "status 0x7F", Err: class}, "MBR at offset 0x1be: status 0x7F"},
		{&FormatError{Path: "descriptor", Struct: "extent line 3", Off: -1, Msg: "no size", Err: class}, "descriptor: extent line 3: no size"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
		wrapped := fmt.Errorf("opening: %w", c.e)
		var fe *FormatError
		if !errors.As(wrapped, &fe) || fe != c.e {
			t.Errorf("errors.As does not find %v through a wrap", c.e)
		}
		if !errors.Is(wrapped, class) || errors.Is(wrapped, other) {
			t.Errorf("errors.Is: the class of %v is not found through Unwrap", c.e)
		}
	}
}
