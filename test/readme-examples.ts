/**
 * The README's runnable examples: a fenced block right after a marker line
 *
 *     <!-- example: NAME -->
 *
 * is an example that test/installed-package.test.ts runs as written. ```sh (or ```bash) blocks run with
 * `bash -e`; ```js (or ```mjs) blocks are saved as NAME.mjs and run with node. Blocks without a
 * marker are prose (synopses, fragments) and are not run. A marker that is not followed by such a
 * block, or a name used twice, is an error naming the line, so a README edit cannot silently drop
 * an example.
 */

export interface ReadmeExample {
  name: string;
  lang: 'sh' | 'js';
  code: string;
  /** 1-based line of the marker. */
  line: number;
}

const MARKER = /^<!--\s*example:\s*(\S+)\s*-->\s*$/;
const FENCE = /^(`{3,}|~{3,})\s*([\w-]*)/;
const LANGS: Record<string, ReadmeExample['lang']> = { sh: 'sh', bash: 'sh', js: 'js', mjs: 'js' };

/** A closing fence: the opening fence's character, at least as many, nothing else on the line. */
function closes(line: string, fence: string): boolean {
  const t = line.trim();
  return t.length >= fence.length && t === fence[0]!.repeat(t.length);
}

export function extractExamples(markdown: string, source = 'README.md'): ReadmeExample[] {
  const lines = markdown.split(/\r?\n/);
  const examples: ReadmeExample[] = [];
  const fail = (line: number, message: string): never => {
    throw new Error(`${source}:${line}: ${message}`);
  };
  for (let i = 0; i < lines.length; i++) {
    const marker = MARKER.exec(lines[i]!);
    if (!marker) continue;
    const name = marker[1]!;
    const line = i + 1;
    if (!/^[A-Za-z0-9][\w.-]*$/.test(name)) fail(line, `example name ${JSON.stringify(name)}: use letters, digits, '-', '_' or '.' (it names a file)`);
    if (examples.some((e) => e.name === name)) fail(line, `example name "${name}" is used twice`);
    const open = FENCE.exec(lines[i + 1] ?? '');
    if (!open) fail(line, `the marker for "${name}" must be followed directly by a fenced code block`);
    const lang = LANGS[open![2]!.toLowerCase()];
    if (lang === undefined) fail(line, `example "${name}" is a \`\`\`${open![2]} block; runnable examples are \`\`\`sh or \`\`\`js`);
    const fence = open![1]!;
    const body: string[] = [];
    let j = i + 2;
    while (j < lines.length && !closes(lines[j]!, fence)) {
      body.push(lines[j]!);
      j++;
    }
    if (j >= lines.length) fail(line, `the code block of example "${name}" is never closed`);
    examples.push({ name, lang: lang!, code: body.join('\n') + '\n', line });
    i = j;
  }
  return examples;
}
