package source

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/raid"
)

// RAID opens specs as the members of a RAID array and assembles it, as
// arg says: "auto" detects the geometry (md superblocks, else a search,
// package raid); a spec (raid5:left-symmetric:64k:offset=0:a,b,missing,d)
// gives it, parts left out being detected; "@FILE" reads the spec from a
// file. When the spec names members, they give the slot order and specs
// must be among them. It returns the array, the spec it assembled (to
// print, so the user can give it back), and what that rests on.
func RAID(specs []string, arg string, opts Options) (Disk, raid.Spec, string, error) {
	var given *raid.Spec
	switch {
	case arg == "auto":
	case strings.HasPrefix(arg, "@"):
		b, err := os.ReadFile(arg[1:])
		if err != nil {
			return nil, raid.Spec{}, "", fmt.Errorf("raid spec file: %w", err)
		}
		s, err := raid.ParseFile(string(b))
		if err != nil {
			return nil, raid.Spec{}, "", fmt.Errorf("raid spec file %s: %w", arg[1:], err)
		}
		given = &s
	default:
		s, err := raid.Parse(arg)
		if err != nil {
			return nil, raid.Spec{}, "", err
		}
		given = &s
	}
	names := specs
	if given != nil && len(given.Members) > 0 {
		for _, s := range specs {
			if !slices.Contains(given.Members, s) {
				return nil, raid.Spec{}, "", fmt.Errorf("%w: SOURCE %s is not among the spec's members %s", raid.ErrSpec, s, strings.Join(given.Members, ","))
			}
		}
		names = slices.DeleteFunc(slices.Clone(given.Members), func(m string) bool { return m == raid.Missing })
	}
	disks, err := OpenAll(names, opts)
	if err != nil {
		return nil, raid.Spec{}, "", err
	}
	members := make([]raid.Member, len(disks))
	for i, d := range disks {
		members[i] = d
	}
	a, spec, why, err := assemble(members, names, given)
	if err != nil {
		for _, d := range disks {
			d.Close()
		}
		return nil, raid.Spec{}, "", err
	}
	return a, spec, why, nil
}

func assemble(members []raid.Member, names []string, given *raid.Spec) (*raid.Array, raid.Spec, string, error) {
	if given != nil && given.Known() {
		slots := make([]raid.Member, 0, len(given.Members))
		for _, m := range given.Members {
			if m == raid.Missing {
				slots = append(slots, nil)
				continue
			}
			slots = append(slots, members[0])
			members = members[1:]
		}
		a, err := raid.New(given.Geometry(), slots)
		return a, *given, "as given", err
	}
	d, err := raid.Detect(members, raid.DetectOptions{Given: given})
	if err != nil {
		return nil, raid.Spec{}, "", err
	}
	a, err := d.Assemble(members)
	return a, d.Spec(names), fmt.Sprintf("detected from %s: %s", d.From, strings.Join(d.Candidates[0].Reasons, "; ")), err
}
