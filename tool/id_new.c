/* danemsg id new (not implemented yet). */
#include "cli.h"

int id_new(int argc, char **argv)
{
	cli_error("'id new' is not implemented yet");
	return EXIT_FAILURE_;
}
