/* The structs a caller allocates, across versions of the headers: each begins with its
 * size, so that the library reads what the caller has and writes no more than that. */
#include <stdint.h>
#include <string.h>

#include "abi.h"
#include "error_internal.h"

size_t abi_struct_size(const void *theirs)
{
	size_t size;
	memcpy(&size, theirs, sizeof(size));
	return size;
}

/* Nonzero when any of p[from..to) is. */
static int any_set(const uint8_t *p, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (p[i])
			return 1;
	return 0;
}

danemsg_err abi_struct_in(void *ours, size_t ours_size, const void *theirs, size_t min_size,
			  const char *what, char *errbuf, size_t errbuf_len)
{
	size_t size = abi_struct_size(theirs);

	if (size < min_size)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG, "%s: struct_size "
				  "%zu is under %zu: start it with its _init function", what, size,
				  min_size);
	if (size > ours_size && any_set(theirs, ours_size, size))
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_UNSUPPORTED, "%s: a field "
				  "that this library (%zu bytes of it) does not know is set; the "
				  "program was built with newer headers (%zu bytes)", what,
				  ours_size, size);
	memcpy(ours, theirs, size < ours_size ? size : ours_size);
	memcpy(ours, &ours_size, sizeof(ours_size));
	return DANEMSG_OK;
}

danemsg_err abi_struct_out(void *theirs, const void *ours, size_t ours_size, size_t min_size)
{
	size_t size = abi_struct_size(theirs);

	if (size < min_size)
		return DANEMSG_ERR_INVALID_ARG;
	/* what lies beyond ours_size stays as the caller's _init left it */
	memcpy((uint8_t *)theirs + sizeof(size), (const uint8_t *)ours + sizeof(size),
	       (size < ours_size ? size : ours_size) - sizeof(size));
	return DANEMSG_OK;
}

danemsg_err abi_array_in(void *ours, size_t ours_size, const void *base, size_t i,
			 size_t min_size, const char *what, char *errbuf, size_t errbuf_len)
{
	size_t stride = abi_struct_size(base);
	const uint8_t *elem;

	if (stride < min_size)
		return abi_struct_in(ours, ours_size, base, min_size, what, errbuf, errbuf_len);
	elem = (const uint8_t *)base + i * stride;
	if (abi_struct_size(elem) != stride)
		return errbuf_set(errbuf, errbuf_len, DANEMSG_ERR_INVALID_ARG, "%s %zu: "
				  "struct_size %zu, not the %zu of the first: start each with "
				  "its _init function", what, i, abi_struct_size(elem), stride);
	return abi_struct_in(ours, ours_size, elem, min_size, what, errbuf, errbuf_len);
}
