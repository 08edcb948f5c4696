/* The engine a command uses, from its broker URLs (tool/transport.h). */
#include "transport.h"

const struct transport *transport_for(const struct cli_broker *brokers, size_t n)
{
	if (n && brokers[0].engine == CLI_ENGINE_NATS)
		return &transport_nats;
	return &transport_mqtt;
}
