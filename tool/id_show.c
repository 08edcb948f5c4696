/* danemsg id show (not implemented yet). */
#include "cli.h"

int id_show(int argc, char **argv)
{
	cli_error("'id show' is not implemented yet");
	return EXIT_FAILURE_;
}
