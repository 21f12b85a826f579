/**
 * Checkpoint folders that no crash can lose: at every instant, the newest complete checkpoint sits
 * under a final name, and a resumed run finds it.
 *
 * Why this layout. POSIX cannot exchange two folders atomically (Linux's renameat2 RENAME_EXCHANGE
 * is not reachable from Node), so replacing `checkpoint/` takes two renames (old aside, new in),
 * and a crash between them left no `checkpoint` at all. The ways out: a symbolic link swapped
 * atomically onto versioned folders (PyTorch Lightning's `save_last="link"`), which breaks `cp -r`
 * of the checkpoint and needs privileges on Windows; or versioned folders found by a scan (HF
 * Trainer's `checkpoint-<step>`, written to a temporary folder and renamed when complete). We keep
 * what users load, `outDir/checkpoint` as a plain HF model folder, and add Trainer's versioned name
 * for the moment of the swap:
 *
 *   1. the new checkpoint is written into `checkpoint.tmp-<pid>-<ms>-<n>/` (each file synced), and
 *      `checkpoint_complete.json` (the files it holds, its step and generation) is written last;
 *   2. that folder is renamed to `checkpoint-<step>` (a final name: it is complete);
 *   3. `checkpoint` is renamed to `checkpoint.del-…`, `checkpoint-<step>` to `checkpoint`, and the
 *      `.del-` folder removed; every rename is followed by a sync of the parent folder.
 *
 * A crash in 1 leaves a temporary (removed on the next start); after 2 the new checkpoint is
 * `checkpoint-<step>`; after the first rename of 3 too; after the second it is `checkpoint`. A
 * resumed run (recoverCheckpointFolder) takes the newest complete version (highest generation, then
 * step) among `checkpoint`, `checkpoint-<step>` and the old layout's leftovers (`checkpoint.old-*`,
 * `checkpoint.tmp-*` with all their files), moves it to `checkpoint`, and removes the rest. A folder
 * under a final name that is not complete (hand-edited, or damaged) is refused by name: a resume
 * never silently starts over.
 *
 * The generation (one more than any version present when written) orders versions across runs: a
 * run started over with `overwrite` must win over an older run's checkpoint of a higher step.
 */
import { DiskFullError, FormatError } from '../errors.js';
import { JSON_MAX_BYTES, readJsonObject } from '../io/json.js';
import { TRAINER_STATE_MAX_BYTES } from './trainer-state.js';
import { checkWriteTarget, exists, folderBytes, freeBytes, joinPath, listDir, makeTempDir, removeDir, removeStaleTemps, renamePath, temporaryPath, writeBytesAtomic } from '../io/platform.js';
import { faultPoint } from '#platform/fault-points.js';

/** Written last into a checkpoint folder: its presence says the folder is complete. */
export const COMPLETE_MARKER = 'checkpoint_complete.json';

const MARKER_FORMAT = 'mamba-ts checkpoint';

/** One version of a checkpoint folder found on disk. */
export interface CheckpointVersion {
  path: string;
  /** `current`: the folder itself; `staged`: `<dir>-<step>`; `legacy`: the old layout's `.old-*` / `.tmp-*`. */
  where: 'current' | 'staged' | 'legacy';
  complete: boolean;
  /** Holds a marker, trainer_state.json or optimizer.safetensors: a checkpoint, complete or not (an empty folder is none). */
  isCheckpoint: boolean;
  /** Why it is not complete. */
  problem?: string;
  step: number;
  generation: number;
}

/** Splits a path into its folder and its last name (paths from joinPath or the user: '/' separated, or '\\' on Windows). */
function splitPath(p: string): { parent: string; name: string } {
  const trimmed = p.replace(/[/\\]+$/, '');
  const at = Math.max(trimmed.lastIndexOf('/'), trimmed.lastIndexOf('\\'));
  return at < 0 ? { parent: '.', name: trimmed } : { parent: trimmed.slice(0, at) || '/', name: trimmed.slice(at + 1) };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The step a trainer_state.json records (old-layout folders have no marker). */
async function stepFromTrainerState(folder: string): Promise<number> {
  const file = joinPath(folder, 'trainer_state.json');
  const step = (await readJsonObject(file, { maxBytes: TRAINER_STATE_MAX_BYTES, what: 'trainer_state.json' }))['step'];
  if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0) throw new FormatError(file, `field "step": expected an integer >= 0`);
  return step;
}

/** Reads a version's marker (or, for the old layout, checks for the files it must hold). */
async function inspect(path: string, where: CheckpointVersion['where'], required: readonly string[]): Promise<CheckpointVersion> {
  const markerPath = joinPath(path, COMPLETE_MARKER);
  const hasMarker = await exists(markerPath);
  const isCheckpoint = hasMarker || (await exists(joinPath(path, 'trainer_state.json'))) || (await exists(joinPath(path, 'optimizer.safetensors')));
  const incomplete = (problem: string): CheckpointVersion => ({ path, where, complete: false, isCheckpoint, problem, step: -1, generation: -1 });
  if (hasMarker) {
    let marker: Record<string, unknown>;
    try {
      marker = await readJsonObject(markerPath, { maxBytes: JSON_MAX_BYTES.config, what: COMPLETE_MARKER });
    } catch (e) {
      return incomplete((e as Error).message);
    }
    const { files, step, generation } = marker;
    if (marker['format'] !== MARKER_FORMAT || !Array.isArray(files) || !files.every((f) => typeof f === 'string')
      || typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0 || typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 1) {
      return incomplete(`${COMPLETE_MARKER} is not a mamba-ts checkpoint marker (expected "format", "files", "step" and "generation")`);
    }
    for (const f of files as string[]) {
      if (!/^[^/\\]+$/.test(f) || f === '.' || f === '..') return incomplete(`${COMPLETE_MARKER} lists a name that is not a file of the folder`);
      if (!(await exists(joinPath(path, f)))) return incomplete(`${f} is missing (${COMPLETE_MARKER} lists it)`);
    }
    return { path, where, complete: true, isCheckpoint, step, generation };
  }
  // A folder written before markers existed: complete when it holds every file (the old writer
  // renamed each file into place whole and wrote trainer_state.json last).
  for (const f of required) {
    if (!(await exists(joinPath(path, f)))) return incomplete(`no ${COMPLETE_MARKER}, and ${f} is missing`);
  }
  try {
    return { path, where, complete: true, isCheckpoint, step: await stepFromTrainerState(path), generation: 0 };
  } catch (e) {
    return incomplete((e as Error).message);
  }
}

/**
 * Every version of the checkpoint folder `dir` on disk: `dir` itself, `dir-<step>`, and the old
 * layout's `dir.old-<pid>-<ms>` and `dir.tmp-<pid>-<ms>`. `required` are the files a folder without
 * a marker must hold to count as complete. Temporaries of the current layout are not versions.
 */
export async function findCheckpointVersions(dir: string, required: readonly string[]): Promise<CheckpointVersion[]> {
  const real = await checkWriteTarget(dir, 'folder');
  const { parent, name } = splitPath(real);
  const staged = new RegExp(`^${escapeRegExp(name)}-(\\d+)$`);
  const legacy = new RegExp(`^${escapeRegExp(name)}\\.(old|tmp)-\\d+-\\d+$`);
  const found: CheckpointVersion[] = [];
  for (const entry of (await listDir(parent)).sort()) {
    const where = entry === name ? 'current' : staged.test(entry) ? 'staged' : legacy.test(entry) ? 'legacy' : null;
    if (where) found.push(await inspect(joinPath(parent, entry), where, required));
  }
  return found;
}

/** The newest complete version: highest generation, then step; `dir` itself wins a tie. */
function newest(versions: CheckpointVersion[]): CheckpointVersion | null {
  let best: CheckpointVersion | null = null;
  for (const v of versions) {
    if (!v.complete) continue;
    if (!best || v.generation > best.generation || (v.generation === best.generation && (v.step > best.step || (v.step === best.step && v.where === 'current')))) best = v;
  }
  return best;
}

/** Moves `from` to `dir`; the folder there (if any) is renamed aside first and removed after. */
async function putInPlace(from: string, dir: string): Promise<void> {
  const aside = (await exists(dir)) ? temporaryPath(dir, 'del') : null;
  if (aside) {
    await renamePath(dir, aside);
    faultPoint('checkpoint set aside');
  }
  await renamePath(from, dir);
  faultPoint('checkpoint swapped');
  if (aside) await removeDir(aside);
}

/**
 * Writes a checkpoint folder at `dir` by the protocol above: `fill` writes the files into the
 * temporary folder it is given; then the marker, the rename to `<dir>-<step>`, and the swap. Older
 * versions are removed once the new one is in place. On any error the temporary folder is removed
 * and the previous checkpoint stays as it was.
 */
export async function writeCheckpointFolder(dir: string, step: number, fill: (folder: string) => Promise<void>): Promise<void> {
  const real = await checkWriteTarget(dir, 'folder');
  const tmp = await makeTempDir(real);
  let staged: string | null = null;
  try {
    const before = await findCheckpointVersions(real, []);
    await fill(tmp);
    const files = (await listDir(tmp)).filter((f) => f !== COMPLETE_MARKER).sort();
    const generation = 1 + Math.max(0, ...before.map((v) => v.generation));
    await writeBytesAtomic(joinPath(tmp, COMPLETE_MARKER), `${JSON.stringify({ format: MARKER_FORMAT, generation, step, files }, null, 2)}\n`);
    staged = `${real}-${step}`;
    await removeDir(staged); // a version of the same step left by a crash: this one replaces it
    await renamePath(tmp, staged);
    faultPoint('checkpoint staged');
  } catch (e) {
    const written = e instanceof DiskFullError ? await folderBytes(tmp) : 0;
    await removeDir(tmp);
    if (e instanceof DiskFullError) {
      // The file that failed is only part of it: a whole checkpoint needs about what the previous
      // one takes (the same model), written beside it before the swap removes the old one.
      const needed = Math.max(await folderBytes(real), written + e.needed);
      throw new DiskFullError(real, needed, await freeBytes(splitPath(real).parent), e.code, `the partial checkpoint was removed and the previous one is unchanged (${e.message})`);
    }
    throw e;
  }
  await putInPlace(staged, real);
  for (const v of await findCheckpointVersions(real, [])) if (v.where !== 'current') await removeDir(v.path);
  faultPoint('checkpoint done');
}

/**
 * Readies the checkpoint folder `dir` for a resumed run: removes the temporaries a crash left,
 * puts the newest complete version in place as `dir` (finishing a swap a crash interrupted) and
 * removes the others. Returns the step of the checkpoint now at `dir`, or null when there is none.
 * A version under a final name that is not complete is refused by name (FormatError), so that a
 * resume never silently starts over; `required` are the files a folder without a marker (the old
 * layout) must hold.
 */
export async function recoverCheckpointFolder(dir: string, required: readonly string[]): Promise<number | null> {
  const real = await checkWriteTarget(dir, 'folder');
  const versions = await findCheckpointVersions(real, required);
  const broken = versions.filter((v) => !v.complete && v.isCheckpoint && v.where !== 'legacy');
  if (broken.length > 0) {
    const [first, ...rest] = broken as [CheckpointVersion, ...CheckpointVersion[]];
    const others = rest.map((v) => `; nor is ${v.path} (${v.problem})`).join('');
    throw new FormatError(first.path, `not a complete checkpoint (${first.problem})${others}, so the run cannot resume from it; remove it, or start over with overwrite (--overwrite)`);
  }
  const best = newest(versions);
  if (best && best.where !== 'current') await putInPlace(best.path, real);
  for (const v of versions) if (v !== best && v.where !== 'current') await removeDir(v.path);
  // Only now: an old-layout `.tmp-` folder is a temporary by name but may have been the newest version.
  await removeStaleTemps(splitPath(real).parent);
  if (best) await removeStaleTemps(real);
  return best ? best.step : null;
}

/** True when `dir` holds a checkpoint in any version (complete or not), which a new run would replace. */
export async function holdsCheckpoint(dir: string, required: readonly string[]): Promise<boolean> {
  return (await findCheckpointVersions(dir, required)).some((v) => v.complete || (v.isCheckpoint && v.where !== 'legacy'));
}
