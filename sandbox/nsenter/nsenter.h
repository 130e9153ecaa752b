// Shared by nsenter.c and nsenter.go. The names must be the sandbox
// package's ExecStageArg and ExecStageEnv (nsenter_test.go checks).
#ifndef STEPBOX_NSENTER_H
#define STEPBOX_NSENTER_H

#define STEPBOX_EXEC_ARG "exec-init"
#define STEPBOX_EXEC_ENV "_STEPBOX_EXEC"

extern int stepbox_nsenter_entered;
const char *stepbox_nsenter_env(void);
const char *stepbox_nsenter_arg(void);

#endif
