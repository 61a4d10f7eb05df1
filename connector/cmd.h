/*
 * The subcommands of `sallyport-connector` and what they share.
 *
 * Exit codes: 0 success, 1 the command failed, 2 the command line was
 * wrong.  Errors are one line on stderr: "sallyport-connector: enroll:
 * message".
 */
#ifndef SP_CONNECTOR_CMD_H
#define SP_CONNECTOR_CMD_H

#define CMD_OK 0
#define CMD_FAIL 1
#define CMD_USAGE 2

/* Prints "sallyport-connector: CMD: message" and returns CMD_FAIL. */
int cmd_fail(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The same, pointing at --help, and returns CMD_USAGE. */
int cmd_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* `state` is the state directory (borrowed, never NULL); argv[0] is the
 * subcommand's name. */
int cmd_enroll(const char *state, int argc, char **argv);
int cmd_run(const char *state, int argc, char **argv);

#endif
