/**
 * Chat messages → one prompt string. A model folder's own chat template (HF's `chat_template`, a
 * Jinja template, in chat_template.jinja or tokenizer_config.json) is rendered with
 * @huggingface/jinja (the interpreter transformers.js uses; it runs templates without access to
 * files or code), given what transformers' apply_chat_template gives it: messages,
 * add_generation_prompt, and the special tokens. Without a template, a plain documented format:
 *
 *     system: You are terse.
 *     user: Hi
 *     assistant:
 *
 * (each message as `role: content` on its own line, then `assistant:`), which a base model can
 * continue but was not trained on.
 */
import { Template } from '@huggingface/jinja';
import { ArgumentError, FormatError } from '../errors.js';
import { JSON_MAX_BYTES, readJsonObject } from '../io/json.js';
import { exists, joinPath, readText } from '../io/platform.js';

export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

export interface ChatFormatter {
  /** Where the format comes from: the folder's template, or the fallback above. */
  readonly kind: 'template' | 'fallback';
  /** The prompt text for these messages, ending where the assistant's reply begins. */
  format(messages: readonly ChatMessage[]): string;
  /** Whether the prompt text already holds the special tokens (a template does): then it is encoded without adding them. */
  readonly addSpecialTokens: boolean;
}

/** What a template may refer to besides the messages. */
export interface ChatTemplateSource {
  template: string;
  /** The special tokens' text (tokenizer_config.json's bos_token, eos_token, ...). */
  specialTokens?: Readonly<Record<string, string>>;
  /** File named in errors. */
  source?: string;
}

const TEMPLATE_MAX_BYTES = 1024 * 1024;
const SPECIAL_TOKEN_KEYS = ['bos_token', 'eos_token', 'pad_token', 'unk_token', 'sep_token', 'cls_token', 'mask_token'];

export const FALLBACK_CHAT_FORMAT: ChatFormatter = {
  kind: 'fallback',
  addSpecialTokens: true,
  format: (messages) => `${messages.map((m) => `${m.role}: ${m.content}\n`).join('')}assistant:`,
};

/** A formatter rendering `t.template` (compiled now: a template that does not parse is a FormatError naming its file). */
export function templateFormatter(t: ChatTemplateSource): ChatFormatter {
  const source = t.source ?? 'chat_template';
  let compiled: Template;
  try {
    compiled = new Template(t.template);
  } catch (e) {
    throw new FormatError(source, `the chat template does not parse: ${oneLine(e)}`);
  }
  return {
    kind: 'template',
    addSpecialTokens: false,
    format(messages) {
      try {
        return compiled.render({ ...t.specialTokens, messages: messages.map((m) => ({ role: m.role, content: m.content })), add_generation_prompt: true });
      } catch (e) {
        // Templates refuse message lists they do not handle (raise_exception: "roles must alternate").
        throw new ArgumentError(`messages: the model's chat template refused them: ${oneLine(e)}`);
      }
    },
  };
}

function oneLine(e: unknown): string {
  const m = (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim();
  return m.length > 200 ? `${m.slice(0, 200)}…` : m;
}

/** A special token in tokenizer_config.json: a string, or an object with `content`. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>)['content'] === 'string') return (v as Record<string, string>)['content'];
  return undefined;
}

/**
 * The chat template of a model folder: chat_template.jinja when present (what transformers now
 * saves), else tokenizer_config.json's `chat_template` (a string, or a list of named templates of
 * which 'default' is taken). null when the folder has none.
 */
export async function readChatTemplate(dir: string): Promise<ChatTemplateSource | null> {
  const cfgFile = joinPath(dir, 'tokenizer_config.json');
  const cfg = (await exists(cfgFile)) ? await readJsonObject(cfgFile, { maxBytes: JSON_MAX_BYTES.config, what: 'a tokenizer_config.json' }) : {};
  const specialTokens: Record<string, string> = {};
  for (const k of SPECIAL_TOKEN_KEYS) {
    const v = Object.hasOwn(cfg, k) ? tokenText(cfg[k]) : undefined;
    if (v !== undefined) specialTokens[k] = v;
  }
  const jinjaFile = joinPath(dir, 'chat_template.jinja');
  if (await exists(jinjaFile)) {
    return { template: await readText(jinjaFile, { maxBytes: TEMPLATE_MAX_BYTES, what: 'a chat template' }), specialTokens, source: jinjaFile };
  }
  const t = Object.hasOwn(cfg, 'chat_template') ? cfg['chat_template'] : undefined;
  if (t === undefined || t === null) return null;
  const source = `${cfgFile}: chat_template`;
  if (typeof t === 'string') return { template: t, specialTokens, source };
  if (Array.isArray(t)) {
    const named = t.find((e): e is { name: string; template: string } => typeof e === 'object' && e !== null && e.name === 'default' && typeof e.template === 'string');
    if (named) return { template: named.template, specialTokens, source };
    throw new FormatError(source, "a list of templates needs one named 'default' (with a string template)");
  }
  throw new FormatError(source, 'expected a string (a Jinja template) or a list of {name, template}');
}

/** The folder's template, else the fallback format. */
export async function chatFormatterFor(dir: string): Promise<ChatFormatter> {
  const t = await readChatTemplate(dir);
  return t ? templateFormatter(t) : FALLBACK_CHAT_FORMAT;
}
