/* danemsg id publish (not implemented yet). */
#include "cli.h"

int id_publish(int argc, char **argv)
{
	cli_error("'id publish' is not implemented yet");
	return EXIT_FAILURE_;
}
