/* danemsg send (not implemented yet). */
#include "cli.h"

int cmd_send(int argc, char **argv)
{
	cli_error("'send' is not implemented yet");
	return EXIT_FAILURE_;
}
