//go:build race

package vmdk

// raceEnabled: the race detector multiplies memory use, so the resident
// memory test does not apply.
const raceEnabled = true
