package agentenv

import "strings"

// The two ways a value is read as a boolean. A setting is read the way its
// reader reads it: an input or a task's own switch as the task library
// does, a setting of the agent's as the agent does. Mixing them up makes
// the task honour "1" where AzureKeyVault@2 does not, or ignore "$true"
// where the agent honours it.

// TaskLibTrue is the task library's convention (tl.getBoolInput): "true"
// in any case, spaces around it ignored; nothing else, not "1" nor "yes".
func TaskLibTrue(value string) bool { return TaskLibVariableTrue(strings.TrimSpace(value)) }

// TaskLibVariableTrue is the same test on a variable's value as
// tl.getVariable returns it, untrimmed: how AzureKeyVault@2 reads
// SYSTEM_DONOTMASKMULTILINESECRETS.
func TaskLibVariableTrue(value string) bool { return strings.EqualFold(value, "true") }

// AgentTrue is the agent's convention for its runtime settings
// (SYSTEM_UNSAFEALLOWMULTILINESECRET, DECODE_PERCENTS): true, 1 or $true,
// in any case.
func AgentTrue(value string) bool {
	switch strings.ToLower(strings.TrimSpace(value)) {
	case "true", "1", "$true":
		return true
	}
	return false
}
