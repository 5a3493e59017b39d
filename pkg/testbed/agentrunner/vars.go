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
	// ReadOnly is YAML's readonly: true, or an earlier isreadonly=true:
	// the agent refuses to overwrite it.
	ReadOnly bool
	// PreserveCase is an earlier step's setvariable with
	// preservecase=true: the environment variable keeps the name's case.
	PreserveCase bool
}

// envName is the environment variable the agent writes v under
// (VarUtil.ConvertToEnvVariableFormat).
func (v Variable) envName(name string) string {
	if v.PreserveCase {
		return strings.NewReplacer(".", "_", " ", "_").Replace(name)
	}
	return envName(name)
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

// readOnly is Variables.IsReadOnly: marked read-only, or one of the
// agent's own read-only variables.
func (s *varStore) readOnly(name string) bool {
	if v, ok := s.get(name); ok && v.ReadOnly {
		return true
	}
	return agentReadOnly(strings.ToLower(name))
}

// agentReadOnly reports whether name (lower case) is one of the agent's
// Constants.Variables.ReadOnlyVariables, as its source spells them: a task
// may not overwrite them.
func agentReadOnly(name string) bool {
	switch name {
	case "agent.acceptteeeula", "agent.builddirectory", "agent.cainfo", "agent.clean.builddirectory",
		"agent.clientcert", "agent.clientcertarchive", "agent.clientcertkey",
		"agent.clientcertpassword", "agent.cloudid", "agent.containerid", "agent.containermapping",
		"agent.containernetwork", "agent.diagnostic", "agent.gituseschannel", "agent.homedirectory",
		"agent.id", "agent.isselfhosted", "agent.jobname", "agent.jobstatus", "agent.machinename",
		"agent.name", "agent.os", "agent.osarchitecture", "agent.osversion", "agent.proxybypasslist",
		"agent.proxypassword", "agent.proxyurl", "agent.proxyusername", "agent.readonlyvariables",
		"agent.releasedirectory", "agent.retaindefaultencoding", "agent.rootdirectory",
		"agent.runmode", "agent.serveromdirectory", "agent.services", "agent.skipcertvalidation",
		"agent.source.git.lfs", "agent.source.git.shallowfetchdepth", "agent.source.skip",
		"agent.tempdirectory", "agent.toolsdirectory", "agent.usebasicauthforproxy", "agent.version",
		"agent.workfolder", "agent.workingdirectory", "build.artifactstagingdirectory",
		"build.binariesdirectory", "build.buildnumber", "build.clean", "build.definitionname",
		"build.gated.runci", "build.gated.shelvesetname", "build.repository.clean",
		"build.repository.git.submodulecheckout", "build.repository.id", "build.repository.localpath",
		"build.repository.name", "build.repository.provider", "build.repository.tfvc.workspace",
		"build.repository.uri", "build.sourcebranch", "build.sourcesdirectory",
		"build.sourcetfvcshelveset", "build.sourceversion", "build.sourceversionauthor",
		"build.sourceversionmessage", "build.stagingdirectory", "build.syncsources",
		"build.useserverworkspaces", "common.testresultsdirectory",
		"fix_possible_git_out_of_memory_problem", "pipeline.repository.name", "pipeline.workspace",
		"release.artifact.download.buffersize", "release.artifact.download.parallellimit",
		"release.attemptnumber", "release.definitionid", "release.definitionname",
		"release.disablerobocopy", "release.environmentname", "release.environmenturi",
		"release.releasedescription", "release.releaseid", "release.releasename", "release.releaseuri",
		"release.releaseweburl", "release.requestedfor", "release.requestedforid",
		"release.robocopymt", "release.skipartifactsdownload", "system.accesstoken",
		"system.artifactsdirectory", "system.collectionid", "system.culture", "system.debug",
		"system.defaultworkingdirectory", "system.definitionid", "system.definitionname",
		"system.enableaccesstoken", "system.hosttype", "system.isazurevm", "system.isdockercontainer",
		"system.jobattempt", "system.jobdisplayname", "system.jobid", "system.jobname",
		"system.phaseattempt", "system.phasedisplayname", "system.phasename", "system.planid",
		"system.prefergitfrompath", "system.pullrequest.targetbranch", "system.selfmanagegitcreds",
		"system.servertype", "system.sourceversionmessage", "system.stageattempt",
		"system.stagedisplayname", "system.stagename", "system.teamfoundationserveruri",
		"system.teamproject", "system.teamprojectid", "system.workfolder", "task.displayname",
		"task.skiptranslatorforcheckout", "use_git_long_paths", "use_git_single_thread":
		return true
	}
	return false
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
