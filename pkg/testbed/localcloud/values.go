package localcloud

// SecretValues returns every value stored in every vault, all versions,
// and every value a recorded vault serves, so that a test can check that
// none of them reaches a log.
func (c *Cloud) SecretValues() []string {
	c.mu.Lock()
	vaults := make([]*Vault, 0, len(c.vaults))
	for _, v := range c.vaults {
		vaults = append(vaults, v)
	}
	c.mu.Unlock()
	var out []string
	for _, v := range vaults {
		v.mu.Lock()
		if v.recording != nil {
			for _, x := range v.recording.Gets {
				if val, ok := x.Value(); ok {
					out = append(out, val)
				}
			}
		}
		for _, e := range v.secrets {
			for _, sv := range e.versions {
				out = append(out, sv.Value)
			}
		}
		v.mu.Unlock()
	}
	return out
}
