package vmfstest

import "errors"

const vmfs6Ready = false

func (w *writer) dirData6(n *node) ([]byte, error) {
	return nil, errors.New("vmfstest: VMFS6 directories are not supported yet")
}
