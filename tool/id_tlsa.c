/* danemsg id tlsa (not implemented yet). */
#include "cli.h"

int id_tlsa(int argc, char **argv)
{
	cli_error("'id tlsa' is not implemented yet");
	return EXIT_FAILURE_;
}
