package agentenv

import "strings"

// Variables the agent writes for a job, that the task reads.
const (
	SystemDebug          = "SYSTEM_DEBUG"
	SystemCollectionURI  = "SYSTEM_COLLECTIONURI"
	SystemTeamProject    = "SYSTEM_TEAMPROJECT"
	SystemTeamProjectID  = "SYSTEM_TEAMPROJECTID"
	SystemHostType       = "SYSTEM_HOSTTYPE"
	SystemPlanID         = "SYSTEM_PLANID"
	SystemJobID          = "SYSTEM_JOBID"
	SystemOIDCRequestURI = "SYSTEM_OIDCREQUESTURI"
	AgentTempDirectory   = "AGENT_TEMPDIRECTORY"

	// A self-hosted agent's network settings, from its own configuration.
	AgentProxyURL           = "AGENT_PROXYURL"
	AgentProxyUsername      = "AGENT_PROXYUSERNAME"
	AgentProxyPassword      = "AGENT_PROXYPASSWORD"
	AgentProxyBypassList    = "AGENT_PROXYBYPASSLIST"
	AgentCAInfo             = "AGENT_CAINFO"
	AgentSkipCertValidation = "AGENT_SKIPCERTVALIDATION"
)

// The agent's settings that a job variable may set: read them with
// Env.Setting, as the agent resolves them.
const (
	DecodePercents             = "DECODE_PERCENTS"
	UnsafeAllowMultilineSecret = "SYSTEM_UNSAFEALLOWMULTILINESECRET"
	// DoNotMaskMultilineSecrets is AzureKeyVault@2's switch, not the
	// agent's: it reads it with tl.getVariable (TaskLibVariableTrue).
	DoNotMaskMultilineSecrets = "SYSTEM_DONOTMASKMULTILINESECRETS"
	// IgnoreSecretsShorterThan is the agent's masker's minimum length.
	IgnoreSecretsShorterThan = "AZP_IGNORE_SECRETS_SHORTER_THAN"
)

// Settings are the variables that change how the agent reads and masks
// secrets: a task must not set one as if it were a secret's variable.
func Settings() []string {
	return []string{UnsafeAllowMultilineSecret, DecodePercents, DoNotMaskMultilineSecrets, IgnoreSecretsShorterThan}
}

// The agent's lists of the job's variables, JSON arrays of their names as
// the pipeline spells them, and the prefix of a secret variable's name in
// the environment.
const (
	PublicVariables = "VSTS_PUBLIC_VARIABLES"
	SecretVariables = "VSTS_SECRET_VARIABLES"
	SecretPrefix    = "SECRET_"
)

// SystemVssConnection is the id under which the agent writes the job's own
// connection to Azure DevOps (its URL and access token).
const SystemVssConnection = "SYSTEMVSSCONNECTION"

const (
	inputPrefix                 = "INPUT_"
	endpointURLPrefix           = "ENDPOINT_URL_"
	endpointAuthPrefix          = "ENDPOINT_AUTH_"
	endpointAuthSchemePrefix    = "ENDPOINT_AUTH_SCHEME_"
	endpointAuthParameterPrefix = "ENDPOINT_AUTH_PARAMETER_"
	endpointDataPrefix          = "ENDPOINT_DATA_"
	// systemAccessToken is where a pipeline that maps the job's token
	// into the environment puts it.
	systemAccessToken = "SYSTEM_ACCESSTOKEN"
)

// Input is the variable the agent writes for the task input name: upper
// case, '.' and ' ' made '_'.
func Input(name string) string {
	return inputPrefix + strings.ToUpper(strings.NewReplacer(".", "_", " ", "_").Replace(name))
}

// EndpointURL is the variable holding connection id's URL.
func EndpointURL(id string) string { return endpointURLPrefix + id }

// EndpointAuth is the variable holding connection id's scheme and auth
// parameters as JSON.
func EndpointAuth(id string) string { return endpointAuthPrefix + id }

// EndpointAuthScheme is the variable holding connection id's scheme.
func EndpointAuthScheme(id string) string { return endpointAuthSchemePrefix + id }

// EndpointAuthParameter is the variable holding one auth parameter of
// connection id, key in upper case.
func EndpointAuthParameter(id, key string) string {
	return endpointAuthParameterPrefix + id + "_" + key
}

// EndpointData is the variable holding connection id's data as JSON.
func EndpointData(id string) string { return endpointDataPrefix + id }

// EndpointDataField is the variable holding one data field of connection
// id, key in upper case.
func EndpointDataField(id, key string) string { return endpointDataPrefix + id + "_" + key }
