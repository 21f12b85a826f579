/**
 * Dawn (the `webgpu` package) writes warnings such as "maxDynamicUniformBuffersPerPipelineLayout
 * artificially reduced from 1000000 to 16" straight to file descriptor 2 from native code, where
 * JavaScript cannot catch them. They say nothing a user can act on. When a command may load Dawn,
 * the CLI runs itself as a child whose stderr passes through a filter that drops those lines;
 * progress bars still draw, since the child is told the terminal's width (see adoptParentTerminal).
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, fstatSync, openSync, readFileSync, statSync, type Stats } from 'node:fs';
import { JSON_MAX_BYTES } from '../io/json.js';

const CHILD_MARK = 'MAMBA_TS_STDERR_FILTERED';
const COLUMNS = 'MAMBA_TS_STDERR_COLUMNS';
/** Dawn's own lines: "Warning: <limit> artificially reduced from N to M to fit ...". */
const DAWN_NOISE = /^Warning: \w+ artificially reduced from \d+ to \d+[^\n]*\n?/gm;

/** True when this run may create a WebGPU device in this process (flags or the config ask for it). */
function mayLoadDawn(argv: readonly string[]): boolean {
  if (argv.some((a) => a === 'webgpu' || a === '--device=webgpu')) return true;
  const i = argv.findIndex((a) => a === '--config' || a === '-c');
  const config = i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith('--config='))?.slice('--config='.length);
  if (!config) return false;
  let fd: number | undefined;
  try {
    // Only a regular file of a config's size is looked into: a FIFO would block this read forever and
    // a link to /dev/zero would fill memory, before the command itself could refuse them. O_NONBLOCK
    // makes opening a FIFO that replaced the file since the stat return at once; fstat then says so.
    const readable = (s: Stats) => s.isFile() && s.size <= JSON_MAX_BYTES.config;
    if (!readable(statSync(config))) return false;
    fd = openSync(config, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    if (!readable(fstatSync(fd))) return false;
    return /"device"\s*:\s*"webgpu"/.test(readFileSync(fd, 'utf8'));
  } catch {
    return false; // the command itself reports the unreadable config
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** In the child: behave as if stderr were the parent's terminal, so progress bars draw. */
export function adoptParentTerminal(): void {
  const columns = Number(process.env[COLUMNS]);
  if (!process.env[CHILD_MARK] || !Number.isInteger(columns) || columns <= 0) return;
  Object.assign(process.stderr, { isTTY: true, columns });
}

/**
 * Runs the command in a filtered child when it may load Dawn; resolves to the child's exit code, or
 * undefined when this process should run the command itself.
 */
export async function runWithDawnFilter(): Promise<number | undefined> {
  if (process.env[CHILD_MARK] || !mayLoadDawn(process.argv.slice(2))) return undefined;
  const env = { ...process.env, [CHILD_MARK]: '1', ...(process.stderr.isTTY ? { [COLUMNS]: String(process.stderr.columns || 80) } : {}) };
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: ['inherit', 'inherit', 'pipe'], env });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    const kept = chunk.replace(DAWN_NOISE, '');
    if (kept) process.stderr.write(kept);
  });
  // Ctrl-C reaches the child through the terminal's process group; this process waits for it.
  const ignore = () => {};
  process.on('SIGINT', ignore);
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  return new Promise((done) => {
    child.on('close', (code, signal) => {
      process.off('SIGINT', ignore);
      done(code ?? (signal ? 128 + (signal === 'SIGINT' ? 2 : 15) : 1));
    });
  });
}
