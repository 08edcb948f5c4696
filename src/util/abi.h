/* Private: reading and writing the structs a caller allocates, whatever version of the
 * headers the caller was compiled with (DEVELOPERS.md, "Structs a caller allocates"). */
#ifndef DANEMSG_ABI_H
#define DANEMSG_ABI_H

#include <stddef.h>

#include <danemsg/error.h>

/* The size of type up to and including field: a struct's first version ends at its last
 * field of that version, and a caller's struct_size below that was never initialised. */
#define ABI_SIZE_THROUGH(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

/*
 * Copies the caller's struct theirs (whose first member is the size_t struct_size that its
 * _init function set) into ours, of ours_size bytes, already filled with the defaults. A
 * shorter struct (older headers) leaves the fields it lacks at their defaults; a longer one
 * (newer headers) is accepted when the fields this library does not know are all zero,
 * which is what their _init sets and means "as before". ours->struct_size becomes
 * ours_size. Errors, with errbuf (may be NULL) naming the struct (what):
 * DANEMSG_ERR_INVALID_ARG, a struct_size under min_size (never initialised);
 * DANEMSG_ERR_UNSUPPORTED, a field this library does not know is set.
 */
danemsg_err abi_struct_in(void *ours, size_t ours_size, const void *theirs, size_t min_size,
			  const char *what, char *errbuf, size_t errbuf_len);

/* Writes ours (ours_size bytes) into the caller's struct theirs: the first struct_size
 * bytes of it at most; its struct_size is kept, and the fields of theirs this library does
 * not know are left as its _init set them. DANEMSG_ERR_INVALID_ARG (nothing written) for
 * a struct_size under min_size. */
danemsg_err abi_struct_out(void *theirs, const void *ours, size_t ours_size, size_t min_size);

/* The caller's struct_size of a struct (its first member). */
size_t abi_struct_size(const void *theirs);

/*
 * abi_struct_in for element i of the caller's array base: the elements lie struct_size
 * bytes apart (the first element's), and each must have that struct_size.
 */
danemsg_err abi_array_in(void *ours, size_t ours_size, const void *base, size_t i,
			 size_t min_size, const char *what, char *errbuf, size_t errbuf_len);

#endif
