/* Shared by seal, open and (later) send and listen: input, keys, message output. */
#ifndef DANEMSG_TOOL_MESSAGE_IO_H
#define DANEMSG_TOOL_MESSAGE_IO_H

#include <stdio.h>

#include <jansson.h>

#include <danemsg.h>

/* Reads all of path ("-" or NULL: standard input), at most max bytes. 0 or an exit code. */
int cli_read_input(const char *path, size_t max, uint8_t **out, size_t *len);

/* Writes data to path ("-" or NULL: standard output). 0 or an exit code. */
int cli_write_output(const char *path, const void *data, size_t len);

/* The credentials of identity name in dir: current, then next and old when present. */
#define CLI_MAX_KEYS 3
int cli_load_keyring(const char *dir, const char *name, danemsg_credential **keys,
		     size_t *n_keys);
void cli_free_keyring(danemsg_credential **keys, size_t n_keys);

/*
 * A payload as one line of text that cannot pass for anything else on a terminal:
 * printable ASCII and well-formed UTF-8 as they are; '\' as "\\"; new line, tab and
 * carriage return as "\n", "\t", "\r"; C1 controls, line and paragraph separators and
 * bidirectional controls as "\uXXXX"; other control bytes and bytes that are not UTF-8
 * as "\xHH". Malloc'd and NUL-terminated (length in *out_len), NULL without memory.
 */
char *cli_escape_text(const uint8_t *p, size_t len, size_t *out_len);

/* The opened message as the JSON object that open --json and listen print. */
json_t *cli_message_json(const danemsg_message *m);

#endif
