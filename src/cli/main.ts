#!/usr/bin/env node
/**
 * The `mamba-ts` command. A command that may load Dawn runs in a child process whose stderr is
 * filtered (see dawn-stderr-filter.ts); everything else runs here. The program is imported only
 * once that is decided, so the parent of a filtered run stays small.
 */
import { adoptParentTerminal, runWithDawnFilter } from './dawn-stderr-filter.js';

const filtered = await runWithDawnFilter();
if (filtered !== undefined) {
  process.exitCode = filtered;
} else {
  adoptParentTerminal();
  const { runCli } = await import('./program.js');
  const code = await runCli(process.argv);
  if (code !== 0) process.exitCode = code;
}
