/* danemsg listen (not implemented yet). */
#include "cli.h"

int cmd_listen(int argc, char **argv)
{
	cli_error("'listen' is not implemented yet");
	return EXIT_FAILURE_;
}
