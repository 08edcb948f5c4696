/* Private: TLSA records that callers hand in (arrays of their danemsg_tlsa). */
#ifndef DANEMSG_TLSA_INTERNAL_H
#define DANEMSG_TLSA_INTERNAL_H

#include <danemsg/tlsa.h>

#include "abi.h"

/* The first version of danemsg_tlsa ends here: a smaller struct_size was never set. */
#define TLSA_SIZE_V1 ABI_SIZE_THROUGH(danemsg_tlsa, unusable_reason)

/* DANEMSG_OK when each of the caller's n records has the first one's struct_size, at
 * least TLSA_SIZE_V1, and no field set that this library does not know; else the error
 * of abi_array_in, errbuf (may be NULL) saying which record. */
danemsg_err tlsa_array_check(const danemsg_tlsa *recs, size_t n, char *errbuf,
			     size_t errbuf_len);

/* tlsa_array_check, then the records copied into out[0..n) of this library's layout
 * (shallow: they point to what the caller's records own). */
danemsg_err tlsa_array_copy(const danemsg_tlsa *recs, size_t n, danemsg_tlsa *out,
			    char *errbuf, size_t errbuf_len);

#endif
