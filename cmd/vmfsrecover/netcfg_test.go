package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/netcfg/envelope"
)

// tgz returns a gzip tar of name/data pairs.
func tgz(t *testing.T, pairs ...string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := tw.WriteHeader(&tar.Header{Name: pairs[i], Mode: 0o644, Size: int64(len(pairs[i+1])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(pairs[i+1]))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func netcfgFixture(t *testing.T, name string) string {
	t.Helper()
	p := testenv.Testdata(t, "esx", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNetcfgFormats(t *testing.T) {
	conf := netcfgFixture(t, "esx4x/esx.conf")
	for _, c := range []struct {
		opts netcfgOptions
		want string
	}{
		{netcfgOptions{}, "vmk0  Management Network"},
		{netcfgOptions{table: true}, "VMK   PORT GROUP"},
		{netcfgOptions{dot: true}, `"vs:vSwitch0" -> "pg:vSwitch0/Management Network";`},
		{netcfgOptions{esxcli: true}, "esxcli network ip interface tag add -i vmk0 -t faultToleranceLogging"},
		{netcfgOptions{raw: true}, `/adv/UserVars/SuppressShellWarning = "1"`},
		{netcfgOptions{inspect: true}, "ft-not-dedicated"},
	} {
		c.opts.globalOptions = &globalOptions{}
		var out bytes.Buffer
		if err := runNetcfg(context.Background(), &c.opts, []string{conf}, &out); err != nil {
			t.Fatalf("%+v: %v", c.opts, err)
		}
		if !strings.Contains(out.String(), c.want) {
			t.Errorf("%+v: output lacks %q:\n%s", c.opts, c.want, out.String())
		}
	}

	var out bytes.Buffer
	if err := runNetcfg(context.Background(), &netcfgOptions{globalOptions: &globalOptions{json: true}}, []string{conf}, &out); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		VMKs []struct {
			Name struct{ Value string } `json:"name"`
			MTU  *struct{}              `json:"mtu"`
		} `json:"vmks"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || len(doc.VMKs) != 2 || doc.VMKs[0].Name.Value != "vmk0" || doc.VMKs[0].MTU != nil {
		t.Errorf("json: %v %+v", err, doc)
	}
}

func TestNetcfgExitStatus(t *testing.T) {
	// esx6x has a malformed line: the report is printed, the status is 3.
	var out bytes.Buffer
	err := runNetcfg(context.Background(), &netcfgOptions{globalOptions: &globalOptions{}}, []string{netcfgFixture(t, "esx6x/esx.conf")}, &out)
	if exitCode(err) != exitPartial || !strings.Contains(out.String(), "line 98 (byte") {
		t.Errorf("partial: %v (code %d)", err, exitCode(err))
	}

	// A TPM-sealed configuration cannot be read, and the error says why.
	dir := t.TempDir()
	ve, info, err := envelope.Seal(tgz(t, "etc/vmware/esx.conf", `/a = "b"`),
		envelope.SealParams{KeyID: make([]byte, 16), Data1: []byte("a"), Data2: []byte("b"), IV: make([]byte, 12)})
	if err != nil {
		t.Fatal(err)
	}
	info = bytes.Replace(info, []byte(`"NONE"`), []byte(`"TPM"`), 1)
	state := filepath.Join(dir, "state.tgz")
	os.WriteFile(state, tgz(t, "local.tgz.ve", string(ve), "encryption.info", string(info)), 0o644)
	err = runNetcfg(context.Background(), &netcfgOptions{globalOptions: &globalOptions{}}, []string{state}, &out)
	if !errors.Is(err, envelope.ErrTPM) || exitCode(err) != exitFailure {
		t.Errorf("TPM: %v", err)
	}

	// Conflicting output flags are a usage error.
	root := newRootCmd()
	root.SetArgs([]string{"netcfg", "--dot", "--esxcli", netcfgFixture(t, "esx4x/esx.conf")})
	root.SetOut(&out)
	root.SetErr(&out)
	if err := root.Execute(); exitCode(err) != exitUsage {
		t.Errorf("--dot --esxcli: %v (code %d)", err, exitCode(err))
	}
	root = newRootCmd()
	root.SetArgs([]string{"netcfg", "--json", "--dot", netcfgFixture(t, "esx4x/esx.conf")})
	root.SetOut(&out)
	if err := root.Execute(); exitCode(err) != exitUsage {
		t.Errorf("--json --dot: %v (code %d)", err, exitCode(err))
	}
}
