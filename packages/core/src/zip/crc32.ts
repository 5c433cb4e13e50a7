/**
 * CRC-32 as zip uses it (APPNOTE 4.4.7: ISO-HDLC, reflected polynomial 0xEDB88320, initial and
 * final XOR 0xFFFFFFFF), in plain JavaScript, plus `crc32Combine`.
 *
 * The archive writer uses node:zlib's native `crc32` for bulk data, through `updateCrc32`; this
 * module also serves the pure-JS backend and combining: a nested archive's CRC must cover its local headers as they
 * are *after* patching, so the writer computes the CRC of each header and of each data region
 * separately and joins them without reading anything back.
 */

import { crc32 as zlibCrc32 } from 'node:zlib';

/** APPNOTE 4.4.7: the CRC-32 polynomial, bit-reflected. */
const POLYNOMIAL = 0xedb88320;

/** One table per byte position ("slicing-by-4"): ~4x faster than a byte-at-a-time loop in V8. */
const TABLES: readonly Uint32Array[] = (() => {
  const tables = [new Uint32Array(256), new Uint32Array(256), new Uint32Array(256), new Uint32Array(256)] as const;
  for (let byte = 0; byte < 256; byte++) {
    let value = byte;
    for (let bit = 0; bit < 8; bit++) value = value & 1 ? (value >>> 1) ^ POLYNOMIAL : value >>> 1;
    tables[0][byte] = value;
  }
  for (let byte = 0; byte < 256; byte++) {
    for (let table = 1; table < 4; table++) {
      const previous = tables[table - 1][byte]!;
      tables[table][byte] = (previous >>> 8) ^ tables[0][previous & 0xff]!;
    }
  }
  return tables;
})();

/**
 * CRC-32 of `data`, continuing from `previous` (the CRC of the bytes before it), like
 * `zlib.crc32(data, previous)`. Pure JS: roughly 0.5–1 GB/s, a few times slower than node:zlib.
 */
export function crc32(data: Uint8Array, previous = 0): number {
  const [table0, table1, table2, table3] = TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  let crc = ~previous;
  let index = 0;
  const blockEnd = data.length - (data.length % 4);
  while (index < blockEnd) {
    crc ^= data[index]! | (data[index + 1]! << 8) | (data[index + 2]! << 16) | (data[index + 3]! << 24);
    crc = table3[crc & 0xff]! ^ table2[(crc >>> 8) & 0xff]! ^ table1[(crc >>> 16) & 0xff]! ^ table0[crc >>> 24]!;
    index += 4;
  }
  while (index < data.length) crc = table0[(crc ^ data[index++]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

/** a(x)·b(x) modulo the CRC polynomial, in the reflected bit order CRC-32 uses. */
function multiplyModuloPolynomial(a: number, b: number): number {
  let product = 0;
  let multiplier = b >>> 0;
  for (let mask = 0x80000000; mask !== 0 && (a & (mask * 2 - 1)) !== 0; mask >>>= 1) {
    if (a & mask) product ^= multiplier;
    multiplier = multiplier & 1 ? (multiplier >>> 1) ^ POLYNOMIAL : multiplier >>> 1;
  }
  return product >>> 0;
}

/** X_POWERS[k] = x^(2^k) mod P, the squarings that let combining cost O(log length). */
const X_POWERS: readonly number[] = (() => {
  const powers: number[] = [];
  let power = 0x40000000; // x^1 in reflected order
  for (let k = 0; k < 64; k++) {
    powers.push(power);
    power = multiplyModuloPolynomial(power, power);
  }
  return powers;
})();

/** x^(8·byteCount) mod P: the operator that shifts a CRC over byteCount zero bytes. */
function shiftOperator(byteCount: number): number {
  let operator = 0x80000000; // x^0
  let remaining = byteCount;
  let k = 3; // 8 bits per byte = 2^3
  while (remaining > 0) {
    if (remaining % 2 === 1) operator = multiplyModuloPolynomial(X_POWERS[k]!, operator);
    remaining = Math.floor(remaining / 2);
    k++;
  }
  return operator;
}

/**
 * `zlib.crc32(data, previous)` (native speed) that also continues correctly over empty data:
 * Node's zlib.crc32 returns 0, not `previous`, for an empty buffer without a backing store
 * (zlib's crc32(crc, NULL, 0) "returns the required initial value"), which silently broke a
 * running CRC whenever an empty file was added.
 */
export function updateCrc32(data: Uint8Array, previous: number): number {
  return data.length === 0 ? previous >>> 0 : zlibCrc32(data, previous);
}

/**
 * CRC-32 of the concatenation A‖B from CRC(A), CRC(B) and B's length: the same result as
 * running `crc32` over both, without the bytes (zlib's crc32_combine, derived from the algebra of
 * CRCs as polynomials over GF(2)). `secondLength` may exceed 4 GiB.
 */
export function crc32Combine(firstCrc: number, secondCrc: number, secondLength: number): number {
  if (secondLength <= 0) return firstCrc >>> 0;
  return (multiplyModuloPolynomial(shiftOperator(secondLength), firstCrc >>> 0) ^ secondCrc) >>> 0;
}
