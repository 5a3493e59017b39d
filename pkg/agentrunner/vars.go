package agentrunner

import (
	"fmt"
	"sort"
	"strings"
)

// Variable is a job variable.
type Variable struct {
	Value  string
	Secret bool
}

// varStore is the agent's variable dictionary: names compare
// case-insensitively and keep the spelling of the latest write.
type varStore struct {
	spelling map[string]string // lower-cased name -> name as last written
	vals     map[string]Variable
}

func newVarStore(init map[string]Variable) (*varStore, error) {
	s := &varStore{spelling: map[string]string{}, vals: map[string]Variable{}}
	for _, name := range sortedKeys(init) {
		if name == "" {
			return nil, fmt.Errorf("variable with an empty name")
		}
		if prev, ok := s.spelling[strings.ToLower(name)]; ok {
			return nil, fmt.Errorf("variables %q and %q differ only in case", prev, name)
		}
		s.set(name, init[name])
	}
	return s, nil
}

func (s *varStore) set(name string, v Variable) {
	k := strings.ToLower(name)
	s.spelling[k] = name
	s.vals[k] = v
}

func (s *varStore) get(name string) (Variable, bool) {
	v, ok := s.vals[strings.ToLower(name)]
	return v, ok
}

// getEnvName finds a variable by its environment spelling, so that
// "system.debug" and "SYSTEM_DEBUG" both answer for SYSTEM_DEBUG. With both
// spellings present the underscore one wins, being the one the task sees.
func (s *varStore) getEnvName(env string) (Variable, bool) {
	if v, ok := s.get(env); ok {
		return v, true
	}
	for _, name := range s.names() {
		if envName(name) == env {
			return s.get(name)
		}
	}
	return Variable{}, false
}

// names returns the variable names as spelled, sorted.
func (s *varStore) names() []string {
	out := make([]string, 0, len(s.spelling))
	for _, n := range s.spelling {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (s *varStore) snapshot() map[string]Variable {
	out := make(map[string]Variable, len(s.vals))
	for k, v := range s.vals {
		out[s.spelling[k]] = v
	}
	return out
}

// agentBool is the agent's StringUtil.ConvertToBoolean as used by knobs.
func agentBool(s string) bool {
	switch strings.ToLower(s) {
	case "true", "1", "$true":
		return true
	}
	return false
}
