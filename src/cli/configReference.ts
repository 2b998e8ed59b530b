/**
 * Renders the configuration reference (docs/configuration.md) from the config schema itself:
 * key paths, types, defaults and limits from the zod schema, and each key's one-line doc
 * comment read from src/config/schema.ts and from every file whose schema a section is built from
 * (src/cascade/cascadeConfig.ts, relay/RelayConfig.ts, …, found by following identifiers and
 * imports). `subsec config reference` prints it; `--write` updates docs/configuration.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { configSchema } from '../config/schema';
import { projectRoot } from '../config/loadConfig';

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  format?: string;
}

/** Doc comments of a source file by the dotted key path they precede (paths inside helpers are relative). */
export function commentsByPath(source: string): Map<string, string> {
  return scanSource(source).comments;
}

/** What {@link scanSource} finds in one file. */
interface SourceScan {
  /** Doc comment of each key by dotted path; keys inside a top-level `const NAME =` are prefixed `NAME.`. */
  comments: Map<string, string>;
  /** Keys whose value is built from another schema (`relay: relayConfigSchema.prefault({})`, `z.array(listenAddress)`). */
  refs: Array<{ path: string; ident: string }>;
  /** Top-level consts declared in the file. */
  consts: Set<string>;
  /** Imported identifiers and the module they come from. */
  imports: Map<string, string>;
}

/**
 * Scans a TypeScript file for the doc comments of object keys (one per key, preceding it), using
 * indentation for nesting, and for keys whose schema is a named const (same file or imported).
 */
export function scanSource(source: string): SourceScan {
  const comments = new Map<string, string>();
  const refs: SourceScan['refs'] = [];
  const consts = new Set<string>();
  const imports = new Map<string, string>();
  for (const m of source.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*'([^']+)'/g)) {
    for (const name of m[1]!.split(',')) {
      const parts = name
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/);
      const local = (parts[1] ?? parts[0])!.trim();
      if (local) imports.set(local, m[2]!);
    }
  }
  const stack: Array<{ indent: number; key: string }> = [];
  let scope: string | undefined;
  let pending: string | undefined;
  let inComment: string[] | undefined;
  let awaitingArray: string | undefined;
  for (const line of source.split('\n')) {
    if (inComment) {
      const end = line.indexOf('*/');
      inComment.push(
        line
          .slice(0, end < 0 ? undefined : end)
          .replace(/^\s*\*\s?/, '')
          .trim(),
      );
      if (end >= 0) {
        pending = inComment.filter(Boolean).join(' ');
        inComment = undefined;
      }
      continue;
    }
    const single = /^\s*\/\*\*\s*(.*?)\s*\*\/\s*$/.exec(line);
    if (single) {
      pending = single[1];
      continue;
    }
    if (/^\s*\/\*\*/.test(line)) {
      inComment = [line.replace(/^\s*\/\*\*/, '').trim()];
      continue;
    }
    const decl = /^(?:export\s+)?const\s+(\w+)\b/.exec(line);
    if (decl) {
      scope = decl[1]!;
      consts.add(scope);
      stack.length = 0;
    }
    // `key: value` or a shorthand `key,`.
    const key = decl ? null : /^(\s*)(\w+)(?::\s*(.*)|,)$/.exec(line);
    // `key: z` continued by `.array(helper)` on the next line.
    const arrayOf = !key && awaitingArray ? /^\s*\.array\(\s*([A-Za-z_$][\w$]*)\b/.exec(line) : null;
    if (arrayOf && arrayOf[1] !== 'z') refs.push({ path: awaitingArray!, ident: arrayOf[1]! });
    if (line.trim()) awaitingArray = undefined;
    if (key) {
      const indent = key[1]!.length;
      while (stack.length && stack[stack.length - 1]!.indent >= indent) stack.pop();
      const p = [...(scope ? [scope] : []), ...stack.map((s) => s.key), key[2]!].join('.');
      if (pending) comments.set(p, pending);
      const value = key[3] ?? key[2]!;
      const ref = /^(?:z\.array\(\s*)?([A-Za-z_$][\w$]*)\b/.exec(value);
      if (ref && ref[1] !== 'z') refs.push({ path: p, ident: ref[1]! });
      if (value.trim() === 'z') awaitingArray = p;
      stack.push({ indent, key: key[2]! });
    }
    if (line.trim() && !/^\s*\/\//.test(line)) pending = undefined;
  }
  return { comments, refs, consts, imports };
}

/** Doc comments of the whole configuration, by key path, gathered from every file that defines part of it. */
export interface ConfigComments {
  /** Comments at their full key path (`redis.url`), following schemas mounted from other files. */
  byPath: Map<string, string>;
  /** Every comment found, at its path inside its const (`rateLimit.perSecond`), for keys built inline. */
  loose: Map<string, string[]>;
  /** The file that defines each top-level section mounted from elsewhere (`redis` → `src/cascade/cascadeConfig.ts`). */
  sectionFiles: Map<string, string>;
}

function resolveModule(fromFile: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(fromFile), spec);
  return [`${base}.ts`, path.join(base, 'index.ts')].find((f) => fs.existsSync(f));
}

/**
 * Collects the comments of `configSchema` (src/config/schema.ts) and, through the schemas its keys
 * are built from, of every other file that defines a section (`cascadeConfig.ts`, `RelayConfig.ts`, …).
 * `read` returns a file's text (tests pass fixed sources).
 */
export function collectConfigComments(
  rootFile = path.join(projectRoot, 'src', 'config', 'schema.ts'),
  read: (file: string) => string = (f) => fs.readFileSync(f, 'utf8'),
): ConfigComments {
  const scans = new Map<string, SourceScan>();
  const scan = (file: string) => {
    let s = scans.get(file);
    if (!s) scans.set(file, (s = scanSource(read(file))));
    return s;
  };
  const byPath = new Map<string, string>();
  const sectionFiles = new Map<string, string>();
  const join = (a: string, b: string) => (a && b ? `${a}.${b}` : a || b);
  const mount = (file: string, constName: string, at: string, depth: number): void => {
    if (depth > 8) return;
    const s = scan(file);
    const own = `${constName}.`;
    for (const [p, text] of s.comments) if (p.startsWith(own) && !byPath.has(join(at, p.slice(own.length)))) byPath.set(join(at, p.slice(own.length)), text);
    for (const ref of s.refs) {
      if (!ref.path.startsWith(own)) continue;
      const target = s.consts.has(ref.ident) ? file : s.imports.has(ref.ident) ? resolveModule(file, s.imports.get(ref.ident)!) : undefined;
      if (!target) continue;
      const where = join(at, ref.path.slice(own.length));
      if (target !== file && !where.includes('.')) sectionFiles.set(where, path.relative(projectRoot, target));
      mount(target, ref.ident, where, depth + 1);
    }
  };
  mount(rootFile, 'configSchema', '', 0);
  const loose = new Map<string, string[]>();
  for (const s of scans.values()) {
    for (const [p, text] of s.comments) {
      const texts = loose.get(p) ?? [];
      if (!texts.includes(text)) texts.push(text);
      loose.set(p, texts);
    }
  }
  return { byPath, loose, sectionFiles };
}

function describe(comments: ConfigComments, rawPath: string): string {
  // Keys of array items sit under `key[]`; keys built inline from a helper const (`perSecond: rateLimit.perSecond`) are matched by suffix.
  const keyPath = rawPath.replace(/\[\]/g, '');
  const exact = comments.byPath.get(keyPath);
  if (exact) return exact;
  const parts = keyPath.split('.');
  if (parts.length >= 2) {
    const suffix = parts.slice(-2).join('.');
    const hits = new Set<string>();
    for (const [k, texts] of comments.loose) if (k === suffix || k.endsWith('.' + suffix)) for (const t of texts) hits.add(t);
    if (hits.size === 1) return [...hits][0]!;
  }
  const last = parts[parts.length - 1];
  if (last === 'enabled' && parts.length > 1) return `Turns \`${parts.slice(0, -1).join('.')}\` on or off.`;
  return '';
}

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.anyOf) return s.anyOf.map(typeOf).join(' | ');
  if (s.type === 'array') return `${s.items ? typeOf(s.items) : 'any'}[]`;
  const t = Array.isArray(s.type) ? s.type.join(' | ') : (s.type ?? 'any');
  return s.format ? `${t} (${s.format})` : t;
}

function limits(s: JsonSchema): string {
  const out: string[] = [];
  const big = (n: number) => Math.abs(n) >= Number.MAX_SAFE_INTEGER;
  if (s.minimum !== undefined && !big(s.minimum)) out.push(`≥ ${s.minimum}`);
  if (s.maximum !== undefined && !big(s.maximum)) out.push(`≤ ${s.maximum}`);
  if (s.minLength !== undefined) out.push(`length ≥ ${s.minLength}`);
  if (s.maxLength !== undefined) out.push(`length ≤ ${s.maxLength}`);
  if (s.minItems !== undefined) out.push(`items ≥ ${s.minItems}`);
  return out.join(', ');
}

function upperSnake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The Markdown reference of every configuration key. */
export function renderConfigReference(comments: ConfigComments = collectConfigComments()): string {
  const root = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const lines: string[] = [];
  const rows = (schema: JsonSchema, prefix: string, envable: boolean): void => {
    for (const [key, prop] of Object.entries(schema.properties ?? {})) {
      const p = prefix ? `${prefix}.${key}` : key;
      if (prop.properties) {
        rows(prop, p, envable);
        continue;
      }
      const def = prop.default === undefined ? '' : prop.default === os.hostname() ? 'the host name' : `\`${JSON.stringify(prop.default)}\``;
      const env = envable ? `\`SUBSEC_${p.split('.').map(upperSnake).join('_')}\`` : '';
      lines.push(`| \`${p}\` | ${cell(typeOf(prop))} | ${cell(def)} | ${cell([describe(comments, p), limits(prop)].filter(Boolean).join(' — '))} | ${env} |`);
      if (prop.type === 'array' && prop.items?.properties) rows(prop.items, `${p}[]`, false);
    }
  };
  lines.push(`${GENERATED_MARK} from src/config/schema.ts and the files defining its sections; do not edit by hand -->`, '');
  for (const [section, prop] of Object.entries(root.properties ?? {})) {
    lines.push(`### \`${section}\``, '');
    const about = comments.byPath.get(section);
    if (about) lines.push(about, '');
    const file = comments.sectionFiles.get(section);
    if (file) lines.push(`Defined in \`${file}\`.`, '');
    lines.push('| Key | Type | Default | Description | Environment |', '| --- | --- | --- | --- | --- |');
    if (prop.properties) rows(prop, section, true);
    else rows({ properties: { [section]: prop } }, '', true);
    lines.push('');
  }
  return lines.join('\n');
}

/** The start of the generated reference in docs/configuration.md. */
export const GENERATED_MARK = '<!-- generated by `subsec config reference`';

/** The configuration document. */
export const CONFIGURATION_DOC = path.join(projectRoot, 'docs', 'configuration.md');

/** `doc` with everything from the generated marker on replaced by `reference`. */
export function withReference(doc: string, reference: string): string {
  const at = doc.indexOf(GENERATED_MARK);
  if (at < 0) throw new Error(`no "${GENERATED_MARK}" marker in the configuration document`);
  return doc.slice(0, at) + reference;
}
