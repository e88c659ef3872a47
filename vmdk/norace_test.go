//go:build !race

package vmdk

const raceEnabled = false
