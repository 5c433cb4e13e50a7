/*
 * See pyz_deflate.h. The only non-trivial part is finding where the last block of a libdeflate
 * stream starts and ends: libdeflate always marks its last block BFINAL and offers no way to leave
 * a stream open, so the piece is walked block by block (RFC 1951, 3.2.3-3.2.7) without producing
 * any output: Huffman tables are built for each dynamic block and every symbol is skipped.
 */
#include "pyz_deflate.h"

#include <stdlib.h>
#include <string.h>

#include "libdeflate.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "pyz_deflate.c reads the bit stream with little-endian word loads"
#endif

#define MAX_CODE_BITS 15
#define LITERAL_LENGTH_SYMBOLS 288
#define DISTANCE_SYMBOLS 32
#define CODE_LENGTH_SYMBOLS 19
#define END_OF_BLOCK 256

size_t pyz_deflate_bound(size_t input_length) {
  return libdeflate_deflate_compress_bound(NULL, input_length) + PYZ_JOIN_MARKER_MAX;
}

/* ---- bit reader (LSB first, RFC 1951 3.1.1) ---- */

struct bit_reader {
  const uint8_t *data;
  size_t length;       /* bytes */
  size_t bit_position; /* next unread bit */
};

/* At least 57 upcoming bits, LSB first; bits past the end of the data read as zero. */
static inline uint64_t peek_bits(const struct bit_reader *reader) {
  size_t byte_position = reader->bit_position >> 3;
  uint64_t word = 0;
  if (byte_position + 8 <= reader->length) {
    memcpy(&word, reader->data + byte_position, 8);
  } else {
    for (size_t index = 0; byte_position + index < reader->length; index++) {
      word |= (uint64_t)reader->data[byte_position + index] << (8 * index);
    }
  }
  return word >> (reader->bit_position & 7);
}

static inline uint32_t read_bits(struct bit_reader *reader, unsigned count) {
  uint32_t value = (uint32_t)(peek_bits(reader) & ((1u << count) - 1));
  reader->bit_position += count;
  return value;
}

static inline int past_end(const struct bit_reader *reader) {
  return reader->bit_position > reader->length * 8;
}

/* ---- canonical Huffman decoding tables (RFC 1951, 3.2.2) ---- */

/* entries[next `table_bits` bits] = symbol << 4 | code length; length 0 marks an unused code. */
struct huffman_table {
  unsigned table_bits;
  uint16_t entries[1u << MAX_CODE_BITS];
};

static unsigned reverse_bits(unsigned code, unsigned length) {
  unsigned reversed = 0;
  for (unsigned index = 0; index < length; index++) {
    reversed = (reversed << 1) | ((code >> index) & 1);
  }
  return reversed;
}

static int build_table(struct huffman_table *table, const uint8_t *lengths, unsigned count) {
  unsigned length_count[MAX_CODE_BITS + 1] = {0};
  unsigned next_code[MAX_CODE_BITS + 1];
  unsigned longest = 0;
  for (unsigned symbol = 0; symbol < count; symbol++) {
    length_count[lengths[symbol]]++;
    if (lengths[symbol] > longest) longest = lengths[symbol];
  }
  /* A code with no symbols is legal (a distance code of a block without matches). */
  table->table_bits = longest == 0 ? 1 : longest;
  memset(table->entries, 0, sizeof(uint16_t) << table->table_bits);
  length_count[0] = 0;
  int remaining = 1;
  unsigned code = 0;
  for (unsigned length = 1; length <= MAX_CODE_BITS; length++) {
    remaining = (remaining << 1) - (int)length_count[length];
    if (remaining < 0) return 0; /* over-subscribed */
    code = (code + length_count[length - 1]) << 1;
    next_code[length] = code;
  }
  for (unsigned symbol = 0; symbol < count; symbol++) {
    unsigned length = lengths[symbol];
    if (length == 0) continue;
    unsigned reversed = reverse_bits(next_code[length]++, length);
    for (unsigned index = reversed; index < (1u << table->table_bits); index += 1u << length) {
      table->entries[index] = (uint16_t)(symbol << 4 | length);
    }
  }
  return 1;
}

/* The decoded symbol, or -1 for a bit pattern that is no code. */
static inline int decode_symbol(struct bit_reader *reader, const struct huffman_table *table) {
  uint16_t entry = table->entries[peek_bits(reader) & ((1u << table->table_bits) - 1)];
  if ((entry & 15) == 0) return -1;
  reader->bit_position += entry & 15;
  return entry >> 4;
}

/* Extra bits of length symbols 257..285 and distance symbols 0..29 (RFC 1951, 3.2.5). */
static const uint8_t LENGTH_EXTRA_BITS[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                              2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint8_t DISTANCE_EXTRA_BITS[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                                6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
/* Order in which code length code lengths are stored (RFC 1951, 3.2.7). */
static const uint8_t CODE_LENGTH_ORDER[CODE_LENGTH_SYMBOLS] = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                                               11, 4,  12, 3, 13, 2, 14, 1, 15};

struct scan_scratch {
  struct huffman_table literal_length;
  struct huffman_table distance;
  struct huffman_table code_length;
  uint8_t lengths[LITERAL_LENGTH_SYMBOLS + DISTANCE_SYMBOLS];
};

static int read_dynamic_tables(struct bit_reader *reader, struct scan_scratch *scratch) {
  unsigned literal_length_count = read_bits(reader, 5) + 257;
  unsigned distance_count = read_bits(reader, 5) + 1;
  unsigned code_length_count = read_bits(reader, 4) + 4;
  if (literal_length_count > 286 || distance_count > 30) return 0;
  uint8_t code_length_lengths[CODE_LENGTH_SYMBOLS] = {0};
  for (unsigned index = 0; index < code_length_count; index++) {
    code_length_lengths[CODE_LENGTH_ORDER[index]] = (uint8_t)read_bits(reader, 3);
  }
  if (!build_table(&scratch->code_length, code_length_lengths, CODE_LENGTH_SYMBOLS)) return 0;
  unsigned total = literal_length_count + distance_count;
  unsigned filled = 0;
  while (filled < total) {
    int symbol = decode_symbol(reader, &scratch->code_length);
    if (symbol < 0 || past_end(reader)) return 0;
    if (symbol < 16) {
      scratch->lengths[filled++] = (uint8_t)symbol;
      continue;
    }
    uint8_t repeated = 0;
    unsigned repeat;
    if (symbol == 16) {
      if (filled == 0) return 0;
      repeated = scratch->lengths[filled - 1];
      repeat = 3 + read_bits(reader, 2);
    } else if (symbol == 17) {
      repeat = 3 + read_bits(reader, 3);
    } else {
      repeat = 11 + read_bits(reader, 7);
    }
    if (filled + repeat > total) return 0;
    memset(scratch->lengths + filled, repeated, repeat);
    filled += repeat;
  }
  if (scratch->lengths[END_OF_BLOCK] == 0) return 0;
  return build_table(&scratch->literal_length, scratch->lengths, literal_length_count) &&
         build_table(&scratch->distance, scratch->lengths + literal_length_count, distance_count);
}

static void set_fixed_tables(struct scan_scratch *scratch) {
  uint8_t *lengths = scratch->lengths;
  memset(lengths, 8, 144);
  memset(lengths + 144, 9, 256 - 144);
  memset(lengths + 256, 7, 280 - 256);
  memset(lengths + 280, 8, LITERAL_LENGTH_SYMBOLS - 280);
  build_table(&scratch->literal_length, lengths, LITERAL_LENGTH_SYMBOLS);
  memset(lengths, 5, DISTANCE_SYMBOLS);
  build_table(&scratch->distance, lengths, DISTANCE_SYMBOLS);
}

/* Skips the symbols of one Huffman-coded block, up to and including its end-of-block code. */
static int skip_huffman_block(struct bit_reader *reader, const struct scan_scratch *scratch) {
  for (;;) {
    int symbol = decode_symbol(reader, &scratch->literal_length);
    if (symbol < 0 || past_end(reader)) return 0;
    if (symbol < END_OF_BLOCK) continue;
    if (symbol == END_OF_BLOCK) return 1;
    if (symbol > 285) return 0;
    reader->bit_position += LENGTH_EXTRA_BITS[symbol - 257];
    int distance = decode_symbol(reader, &scratch->distance);
    if (distance < 0 || distance > 29) return 0;
    reader->bit_position += DISTANCE_EXTRA_BITS[distance];
  }
}

/*
 * Walks a complete deflate stream. On success stores the bit position of the last block's
 * header (its first bit is BFINAL) and the bit position just after that block, and returns 1.
 */
static int find_last_block(const uint8_t *data, size_t length, size_t *last_header_bit,
                           size_t *end_bit) {
  struct scan_scratch *scratch = malloc(sizeof(struct scan_scratch));
  if (scratch == NULL) return 0;
  struct bit_reader reader = {data, length, 0};
  int ok = 0;
  for (;;) {
    size_t header_bit = reader.bit_position;
    unsigned is_final = read_bits(&reader, 1);
    unsigned block_type = read_bits(&reader, 2);
    if (block_type == 0) {
      reader.bit_position = (reader.bit_position + 7) & ~(size_t)7;
      unsigned stored_length = read_bits(&reader, 16);
      unsigned complement = read_bits(&reader, 16);
      if ((stored_length ^ 0xFFFFu) != complement) break;
      reader.bit_position += (size_t)stored_length * 8;
    } else if (block_type == 1) {
      set_fixed_tables(scratch);
      if (!skip_huffman_block(&reader, scratch)) break;
    } else if (block_type == 2) {
      if (!read_dynamic_tables(&reader, scratch) || !skip_huffman_block(&reader, scratch)) break;
    } else {
      break;
    }
    if (past_end(&reader)) break;
    if (is_final) {
      *last_header_bit = header_bit;
      *end_bit = reader.bit_position;
      /* libdeflate pads only the final byte: the stream must end right there. */
      ok = (reader.bit_position + 7) / 8 == length;
      break;
    }
  }
  free(scratch);
  return ok;
}

size_t pyz_deflate_piece(struct libdeflate_compressor *compressor, const uint8_t *input,
                         size_t input_length, uint8_t *output, size_t output_capacity,
                         int ends_stream) {
  if (output_capacity < PYZ_JOIN_MARKER_MAX) return 0;
  size_t length = libdeflate_deflate_compress(compressor, input, input_length, output,
                                              output_capacity - PYZ_JOIN_MARKER_MAX);
  if (length == 0 || ends_stream) return length;

  size_t last_header_bit, end_bit;
  if (!find_last_block(output, length, &last_header_bit, &end_bit)) return 0;
  /* BFINAL = 0: the stream continues with the next piece. */
  output[last_header_bit >> 3] &= (uint8_t) ~(1u << (last_header_bit & 7));
  /*
   * Empty stored block: header bits BFINAL = 0, BTYPE = 00 start at end_bit. The padding bits of
   * the last byte are zeroed (libdeflate already does), so if at least 3 of them remain the header
   * is already there; otherwise it continues into one more zero byte. The block then skips to the byte boundary and
   * stores LEN = 0, NLEN = 0xFFFF.
   */
  unsigned padding_bits = (unsigned)((8 - (end_bit & 7)) & 7);
  if (padding_bits != 0) output[length - 1] &= (uint8_t)((1u << (8 - padding_bits)) - 1);
  if (padding_bits < 3) output[length++] = 0x00;
  output[length++] = 0x00; /* LEN, low byte */
  output[length++] = 0x00; /* LEN, high byte */
  output[length++] = 0xFF; /* NLEN, low byte */
  output[length++] = 0xFF; /* NLEN, high byte */
  return length;
}
