/* danemsg id import (not implemented yet). */
#include "cli.h"

int id_import(int argc, char **argv)
{
	cli_error("'id import' is not implemented yet");
	return EXIT_FAILURE_;
}
