package bootbank

import (
	"bytes"
	"testing"
)

func FuzzLoad(f *testing.F) {
	f.Add(stateTgz(f, "fuzz.example"))
	f.Add(readFixture(f, "esx4x/esx.conf"))
	f.Add([]byte("DataTransformEnvelope"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := Load(bytes.NewReader(data), int64(len(data)), "fuzz", Options{})
		if err == nil && in == nil {
			t.Fatal("nil input without error")
		}
	})
}

func FuzzParseBootCfg(f *testing.F) {
	f.Add([]byte("bootstate=0\nupdated=3\nmodules=a --- b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ParseBootCfg(data)
	})
}
