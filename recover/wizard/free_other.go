//go:build !unix

package wizard

import "errors"

func freeSpace(dir string) (int64, error) {
	return 0, errors.ErrUnsupported
}
