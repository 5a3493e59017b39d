//go:build windows

package check

import (
	"os/exec"
	"unsafe"

	"golang.org/x/sys/windows"
)

// group is a started tool and every process it starts: a job object that
// kills them all when it is closed. The tool is placed in it just after it
// starts, before az.cmd's cmd.exe has had the time to start Python.
type group struct{ job windows.Handle }

func startGroup(cmd *exec.Cmd) (*group, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return nil, err
	}
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{}
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation, uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		windows.CloseHandle(job)
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		windows.CloseHandle(job)
		return nil, err
	}
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(cmd.Process.Pid))
	if err == nil {
		err = windows.AssignProcessToJobObject(job, h)
		windows.CloseHandle(h)
	}
	if err != nil {
		_ = cmd.Process.Kill()
		windows.CloseHandle(job)
		return nil, err
	}
	return &group{job: job}, nil
}

// end kills every process in the job.
func (g *group) end() {
	if g.job != 0 {
		windows.CloseHandle(g.job)
		g.job = 0
	}
}
