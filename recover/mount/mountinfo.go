package mount

import (
	"bufio"
	"os"
	"strings"
)

// IsMounted reports whether a file system is mounted at dir (an absolute,
// clean path), as /proc/self/mountinfo lists them.
func IsMounted(dir string) (bool, error) {
	dev, err := deviceOf(dir)
	return dev != "", err
}

// deviceOf is the device ("major:minor") of the file system mounted at
// dir, or "" when none is. It reads /proc/self/mountinfo, not stat(dir):
// a stat of the mount would be a request to the server, which may be this
// very process.
func deviceOf(dir string) (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	dev := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// The third field is the device, the fifth the mount point, with
		// spaces and the like escaped as octal (\040). The last mount at
		// dir is the one on top.
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && unescapeOctal(fields[4]) == dir {
			dev = fields[2]
		}
	}
	return dev, sc.Err()
}

func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
