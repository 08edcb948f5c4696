/* danemsg id csr (not implemented yet). */
#include "cli.h"

int id_csr(int argc, char **argv)
{
	cli_error("'id csr' is not implemented yet");
	return EXIT_FAILURE_;
}
