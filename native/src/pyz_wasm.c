/*
 * Exports of the WASM module (see wasm.ts). Built with wasi-libc's malloc, which grows linear
 * memory itself, so the module has no imports at all.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "libdeflate.h"
#include "pyz_deflate.h"

#define EXPORT(name) __attribute__((export_name(#name)))

/* One compressor per level, allocated on first use and kept: a level-12 compressor is ~1 MB. */
static struct libdeflate_compressor *compressors[13];

EXPORT(pyz_malloc) void *pyz_malloc(size_t size) { return malloc(size); }

EXPORT(pyz_free) void pyz_free(void *pointer) { free(pointer); }

EXPORT(pyz_deflate_bound) size_t pyz_wasm_deflate_bound(size_t input_length) {
  return pyz_deflate_bound(input_length);
}

/* Returns the compressed length, or 0 on failure (bad level, out of memory, output too small). */
EXPORT(pyz_deflate_piece) size_t pyz_wasm_deflate_piece(int level, const uint8_t *input,
                                                        size_t input_length, uint8_t *output,
                                                        size_t output_capacity, int ends_stream) {
  if (level < 1 || level > 12) return 0;
  if (compressors[level] == NULL) {
    compressors[level] = libdeflate_alloc_compressor(level);
    if (compressors[level] == NULL) return 0;
  }
  return pyz_deflate_piece(compressors[level], input, input_length, output, output_capacity,
                           ends_stream);
}

EXPORT(pyz_crc32) uint32_t pyz_wasm_crc32(uint32_t crc, const uint8_t *input, size_t input_length) {
  return libdeflate_crc32(crc, input, input_length);
}
