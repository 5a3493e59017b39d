package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// version is a release number as the agent and the Marketplace know it:
// task.json holds it as {Major, Minor, Patch}, vss-extension.json as a string.
type version struct{ Major, Minor, Patch int }

func (v version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

var versionRE = regexp.MustCompile(`^(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})$`)

// parseVersion accepts exactly Major.Minor.Patch: agents cache tasks by that
// triple, so a fourth part or a suffix would be lost on the way to them.
func parseVersion(s string) (version, error) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return version{}, fmt.Errorf("version %q is not MAJOR.MINOR.PATCH (e.g. 1.2.3)", s)
	}
	var v version
	for i, p := range []*int{&v.Major, &v.Minor, &v.Patch} {
		*p, _ = strconv.Atoi(m[i+1]) // the pattern bounds the digits
	}
	return v, nil
}

// readVersionFile reads VERSION, the one place a release number is written by hand.
func readVersionFile(path string) (version, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return version{}, fmt.Errorf("read the version: %w", err)
	}
	v, err := parseVersion(strings.TrimSpace(string(b)))
	if err != nil {
		return version{}, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

var taskVersionRE = regexp.MustCompile(`"version"\s*:\s*\{[^{}]*\}`)

// taskJSONVersion returns the version task.json declares.
func taskJSONVersion(data []byte) (version, error) {
	var t struct {
		Version *struct{ Major, Minor, Patch json.Number }
	}
	if err := json.Unmarshal(data, &t); err != nil {
		return version{}, fmt.Errorf("parse task.json: %w", err)
	}
	if t.Version == nil {
		return version{}, fmt.Errorf("task.json has no version")
	}
	return parseVersion(fmt.Sprintf("%s.%s.%s", t.Version.Major, t.Version.Minor, t.Version.Patch))
}

// stampTask writes v into task.json's version object and changes no other
// byte, so that a stamped copy of an up-to-date task.json is identical to it.
func stampTask(data []byte, v version) ([]byte, error) {
	locs := taskVersionRE.FindAllIndex(data, -1)
	if len(locs) != 1 {
		return nil, fmt.Errorf("stamp task.json: want one \"version\": {...} object, found %d", len(locs))
	}
	obj := data[locs[0][0]:locs[0][1]]
	for _, f := range []struct {
		name string
		n    int
	}{{"Major", v.Major}, {"Minor", v.Minor}, {"Patch", v.Patch}} {
		re := regexp.MustCompile(`("` + f.name + `"\s*:\s*)[0-9]+`)
		if c := len(re.FindAllIndex(obj, -1)); c != 1 {
			return nil, fmt.Errorf("stamp task.json: want one %q in the version object, found %d", f.name, c)
		}
		obj = re.ReplaceAll(obj, []byte("${1}"+strconv.Itoa(f.n)))
	}
	out := append(append(append([]byte{}, data[:locs[0][0]]...), obj...), data[locs[0][1]:]...)
	// A nested "version" object elsewhere would have made the match ambiguous;
	// reading the result back proves the top-level one was written.
	got, err := taskJSONVersion(out)
	if err != nil {
		return nil, fmt.Errorf("stamp task.json: %w", err)
	}
	if got != v {
		return nil, fmt.Errorf("stamp task.json: wrote %s but it reads back as %s", v, got)
	}
	return out, nil
}

// manifestStrings are the top-level fields of vss-extension.json that packaging stamps.
type manifestStrings struct {
	Version   string `json:"version"`
	Publisher string `json:"publisher"`
}

// stampManifest writes the version, and the publisher when not empty, into
// vss-extension.json, changing no other byte.
func stampManifest(data []byte, v version, publisher string) ([]byte, error) {
	want := manifestStrings{Version: v.String(), Publisher: publisher}
	out := data
	for _, f := range []struct{ key, value string }{{"version", want.Version}, {"publisher", want.Publisher}} {
		if f.value == "" {
			continue
		}
		value := `"[^"\\]*"`
		if f.key == "version" {
			// An installation target's version range ("[19.0,)") is
			// another field of that name.
			value = `"[0-9]+\.[0-9]+\.[0-9]+"`
		}
		re := regexp.MustCompile(`("` + f.key + `"\s*:\s*)` + value)
		locs := re.FindAllSubmatchIndex(out, -1)
		if len(locs) != 1 {
			return nil, fmt.Errorf("stamp vss-extension.json: want one %q string, found %d", f.key, len(locs))
		}
		quoted, err := json.Marshal(f.value)
		if err != nil {
			return nil, fmt.Errorf("stamp vss-extension.json: %w", err)
		}
		var b bytes.Buffer
		b.Write(out[:locs[0][3]]) // up to the end of `"key": `
		b.Write(quoted)
		b.Write(out[locs[0][1]:])
		out = b.Bytes()
	}
	// A nested field of the same name would have made the match ambiguous;
	// reading the result back proves the top-level one was written.
	var got manifestStrings
	if err := json.Unmarshal(out, &got); err != nil {
		return nil, fmt.Errorf("stamp vss-extension.json: %w", err)
	}
	if got.Version != want.Version || (want.Publisher != "" && got.Publisher != want.Publisher) {
		return nil, fmt.Errorf("stamp vss-extension.json: wrote version %q publisher %q, reads back as %q %q",
			want.Version, want.Publisher, got.Version, got.Publisher)
	}
	return out, nil
}
