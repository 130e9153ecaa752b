// Shared by nsenter.c and nsenter.go. The names must be the sandbox
// package's ExecStageArg and ExecStageEnv (nsenter_test.go checks).
#ifndef STEPBOX_NSENTER_H
#define STEPBOX_NSENTER_H

#define STEPBOX_EXEC_ARG "exec-init"
#define STEPBOX_EXEC_ENV "_STEPBOX_EXEC"
// In the flags field beside the CLONE_NEW* bits: the first process exits
// once the child runs instead of waiting for it (runc exec --detach), so
// the child is adopted by the caller's subreaper. Bit 0 lies in CSIGNAL,
// never a namespace; it is cleared before setns(2).
#define STEPBOX_EXEC_RELEASE 0x1

// The user-namespace stage of create (userns.c): the names must be the
// sandbox package's UserNSStageArg and UserNSStageEnv.
#define STEPBOX_USERNS_ARG "userns-init"
#define STEPBOX_USERNS_ENV "_STEPBOX_USERNS"

// The minimal init (reaper.c): the names must be the sandbox package's
// reapArg and reapEnv, those of the Go init's second stage.
#define STEPBOX_REAP_ARG "reap"
#define STEPBOX_REAP_ENV "_STEPBOX_REAP"

extern int stepbox_nsenter_entered;
const char *stepbox_nsenter_env(void);
const char *stepbox_nsenter_arg(void);
const char *stepbox_userns_env(void);
const char *stepbox_userns_arg(void);
const char *stepbox_reap_env(void);
const char *stepbox_reap_arg(void);
int stepbox_reap_forwarded(int i);

#endif
