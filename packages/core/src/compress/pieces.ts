/**
 * How the libdeflate backends (native and WASM) keep every core busy on one big member.
 *
 * Each member is cut into pieces of at most {@link PIECE_SIZE} bytes. Pieces are compressed
 * independently (largest first, on all threads) by `native/src/pyz_deflate.c`, which leaves every
 * piece but a member's last one open: its final block loses the BFINAL bit and is followed by an
 * empty stored block, zlib's Z_SYNC_FLUSH marker (RFC 1951, 3.2.4), so it ends on a byte boundary.
 * The pieces of a member, concatenated in order, are then one valid raw deflate stream, and the
 * member's CRC-32 is combined from its pieces' CRCs.
 *
 * The cut points depend only on the input, never on the number of threads or the backend, so
 * native and WASM give identical bytes. The cost: matches cannot reach across a cut (at most
 * 32 KiB of history lost per MiB) plus 4-5 bytes per cut; about 0.1 % on shared libraries.
 */
import type { CompressedBuffer } from './types.js';
import { crc32Combine } from '../zip/crc32.js';

/** Largest piece a member is cut into, in bytes. Changing it changes the compressed bytes. */
export const PIECE_SIZE: number = 1 << 20;

export interface PiecePlan {
  /** Every piece of every member, member by member, in order (views into the inputs). */
  readonly pieces: Uint8Array[];
  /** 1 where a piece is the last one of its member (its stream ends), else 0. */
  readonly endsStream: Uint8Array;
  /** Index in `pieces` of each member's first piece; `firstPiece[members]` = pieces.length. */
  readonly firstPiece: Uint32Array;
}

/** Cuts every input into pieces of at most {@link PIECE_SIZE} bytes (an empty input is one piece). */
export function planPieces(inputs: readonly Uint8Array[]): PiecePlan {
  const pieces: Uint8Array[] = [];
  const firstPiece = new Uint32Array(inputs.length + 1);
  const ends: number[] = [];
  inputs.forEach((input, member) => {
    firstPiece[member] = pieces.length;
    let offset = 0;
    do {
      const end = Math.min(offset + PIECE_SIZE, input.length);
      pieces.push(input.subarray(offset, end));
      ends.push(end === input.length ? 1 : 0);
      offset = end;
    } while (offset < input.length);
  });
  firstPiece[inputs.length] = pieces.length;
  return { pieces, endsStream: Uint8Array.from(ends), firstPiece };
}

/** Joins compressed pieces (each with its own CRC-32) back into one result per member, in input order. */
export function joinPieces(plan: PiecePlan, compressedPieces: readonly CompressedBuffer[]): CompressedBuffer[] {
  const results: CompressedBuffer[] = [];
  for (let member = 0; member + 1 < plan.firstPiece.length; member++) {
    const first = plan.firstPiece[member]!;
    const end = plan.firstPiece[member + 1]!;
    if (end - first === 1) {
      results.push({ compressed: compressedPieces[first]!.compressed, crc32: compressedPieces[first]!.crc32 >>> 0 });
      continue;
    }
    let totalLength = 0;
    for (let piece = first; piece < end; piece++) totalLength += compressedPieces[piece]!.compressed.length;
    const compressed = new Uint8Array(totalLength);
    let offset = 0;
    let crc = 0;
    for (let piece = first; piece < end; piece++) {
      const { compressed: bytes, crc32 } = compressedPieces[piece]!;
      compressed.set(bytes, offset);
      offset += bytes.length;
      crc = piece === first ? crc32 >>> 0 : crc32Combine(crc, crc32, plan.pieces[piece]!.length);
    }
    results.push({ compressed, crc32: crc });
  }
  return results;
}

/**
 * `compressBatch` of a backend that compresses pieces: cut every input (planPieces), compress the
 * pieces, join them back. The one place the three libdeflate/zlib backends do it.
 */
export async function compressMembers(
  inputs: readonly Uint8Array[],
  level: number,
  compressPieces: (pieces: readonly Uint8Array[], endsStream: Uint8Array, level: number) => Promise<CompressedBuffer[]>,
): Promise<CompressedBuffer[]> {
  const plan = planPieces(inputs);
  return joinPieces(plan, await compressPieces(plan.pieces, plan.endsStream, level));
}

/** One implementation of the CRC-32 combination, shared with the zip writer. */
export { crc32Combine };
