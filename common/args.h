#ifndef SP_COMMON_ARGS_H
#define SP_COMMON_ARGS_H

/*
 * Removes `--state DIR` and `--state=DIR` from anywhere in argv (up to a
 * `--`), storing DIR in *state, so the state directory may stand before
 * or after the command.  Returns the new argc; argv stays NULL-ended.
 */
int sp_take_state(int argc, char **argv, const char **state);

#endif
