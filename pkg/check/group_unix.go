//go:build !windows

package check

import (
	"os/exec"
	"syscall"
)

// group is a started tool and every process it starts: a process group of
// its own, which the terminal's Ctrl-C does not reach either (the check
// ends it).
type group struct{ pid int }

func startGroup(cmd *exec.Cmd) (*group, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &group{pid: cmd.Process.Pid}, nil
}

// end kills every process left in the group.
func (g *group) end() { _ = syscall.Kill(-g.pid, syscall.SIGKILL) }
