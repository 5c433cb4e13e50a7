/*
 * The compression core of pyz, shared verbatim by the Node-API addon (linked with Debian's
 * libdeflate.a) and the WASM module (linked with the same libdeflate version compiled from
 * Debian's source package), so both produce byte-identical output for the same input and level.
 */
#ifndef PYZ_DEFLATE_H
#define PYZ_DEFLATE_H

#include <stddef.h>
#include <stdint.h>

struct libdeflate_compressor;

/*
 * Bytes of the "empty stored block" that joins a piece to the next one: at most 1 byte for the
 * 3-bit block header plus alignment, then LEN = 0x0000 and NLEN = 0xFFFF (RFC 1951, 3.2.4).
 */
#define PYZ_JOIN_MARKER_MAX 5

/* Output capacity that pyz_deflate_piece() never exceeds for an input of `input_length` bytes. */
size_t pyz_deflate_bound(size_t input_length);

/*
 * Deflates one piece of a member with `compressor` into `output`.
 *
 * When `ends_stream` is non-zero the result is libdeflate's raw deflate stream, unchanged.
 * Otherwise the piece is the start or middle of a member that was split for parallel
 * compression: the BFINAL bit of its last block is cleared and an empty non-final stored block
 * is appended (zlib's Z_SYNC_FLUSH marker), so the result ends on a byte boundary and the next
 * piece's stream can be appended as-is. Concatenating the pieces of a member, in order, gives one
 * valid deflate stream of the whole member.
 *
 * Returns the number of bytes written, or 0 on failure (output too small, or libdeflate's output
 * could not be parsed, which would be a bug).
 */
size_t pyz_deflate_piece(struct libdeflate_compressor *compressor, const uint8_t *input,
                         size_t input_length, uint8_t *output, size_t output_capacity,
                         int ends_stream);

#endif /* PYZ_DEFLATE_H */
