/* danemsg id check (not implemented yet). */
#include "cli.h"

int id_check(int argc, char **argv)
{
	cli_error("'id check' is not implemented yet");
	return EXIT_FAILURE_;
}
