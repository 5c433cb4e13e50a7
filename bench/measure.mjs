/**
 * The timing loop shared by the build and sweep suites. Contenders are interleaved: round r runs
 * every contender once, in an order rotated by r, so load from other users of the machine lands
 * on all of them alike. Round 0 is a warm-up whose output is validated before any time counts; a
 * contender whose output is invalid is dropped with the reason. Every timed output is validated
 * again (outside the timed region) and hashed.
 */
import * as fs from 'node:fs';
import { log, median, sha256File, spreadPercent } from './lib.mjs';

export async function measureInterleaved(contenders, { runs, validateEvery = true, label = '' }) {
  const state = new Map(contenders.map((contender) => [contender.id, { contender, runs: [], error: null, hashes: new Set(), sizes: new Set(), validation: null }]));
  for (let round = 0; round <= runs; round++) {
    const live = contenders.filter((contender) => state.get(contender.id).error === null);
    if (live.length === 0) break;
    const order = live.map((_, index) => live[(index + round) % live.length]);
    for (const contender of order) {
      const entry = state.get(contender.id);
      let run;
      try {
        run = await contender.run();
      } catch (error) {
        entry.error = `run failed: ${reasonOf(error)}`;
        log(`  ${contender.id}: ${entry.error}`);
        continue;
      }
      if (round === 0 || validateEvery) {
        try {
          entry.validation = contender.validate(run);
        } catch (error) {
          entry.error = `INVALID OUTPUT (round ${round}): ${error.message}`;
          log(`  ${contender.id}: ${entry.error}`);
          continue;
        }
      }
      const size = fs.statSync(contender.output).size;
      const sha256 = sha256File(contender.output);
      entry.hashes.add(sha256);
      entry.sizes.add(size);
      if (round === 0) {
        log(`  ${label}${contender.id}: warm-up ${(run.wallMs / 1000).toFixed(2)} s, valid, ${size} bytes, sha256 ${sha256.slice(0, 16)}`);
        continue;
      }
      entry.runs.push({ wallMs: run.wallMs, peakRssKiB: run.peakRssKiB, size, sha256, inProcessMs: run.buildResult?.durationMs ?? null, buildResult: run.buildResult ?? null });
      log(`  ${label}round ${round}/${runs} ${contender.id}: ${(run.wallMs / 1000).toFixed(2)} s, RSS ${run.peakRssKiB ? (run.peakRssKiB / 1024).toFixed(0) : '?'} MiB`);
    }
  }
  return contenders.map((contender) => summarize(state.get(contender.id)));
}

/** The line of a failed child's output that says what went wrong (the thrown error's message). */
function reasonOf(error) {
  const lines = `${error.stderr ?? ''}`.split('\n').map((line) => line.trim()).filter(Boolean);
  const thrown = lines.find((line) => /^(\w*Error|PyzError)\b.*:/.test(line));
  return (thrown ?? lines.at(-1) ?? error.message.split('\n')[0]).slice(0, 300);
}

function summarize({ contender, runs, error, hashes, sizes, validation }) {
  const walls = runs.map((run) => run.wallMs);
  const last = runs.at(-1);
  const inProcess = runs.map((run) => run.inProcessMs).filter((value) => value !== null);
  const rss = runs.map((run) => run.peakRssKiB).filter((value) => value !== null);
  return {
    id: contender.id,
    kind: contender.kind,
    backend: contender.backend ?? null,
    level: contender.level ?? null,
    error,
    runs: runs.length,
    wallMsMedian: walls.length ? median(walls) : null,
    wallMsAll: walls.map((value) => Math.round(value)),
    spreadPercent: walls.length ? spreadPercent(walls) : null,
    inProcessMsMedian: inProcess.length ? median(inProcess) : null,
    peakRssKiBMedian: rss.length ? median(rss) : null,
    outputBytes: last?.size ?? null,
    sha256: last?.sha256 ?? null,
    /** Same inputs, same options: more than one hash means the output is not reproducible. */
    distinctHashes: hashes.size,
    distinctSizes: sizes.size,
    validation,
    buildResult: last?.buildResult ? { backend: last.buildResult.backend, files: last.buildResult.files, payloadBytes: last.buildResult.payloadBytes, buildId: last.buildResult.buildId, timings: last.buildResult.timings, selfMaxRssKiB: last.buildResult.selfMaxRssKiB } : null,
  };
}
