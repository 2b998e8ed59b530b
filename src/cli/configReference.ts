/**
 * Renders the configuration reference (docs/configuration.md) from the config schema itself:
 * key paths, types, defaults and limits from the zod schema, and each key's one-line doc
 * comment read from src/config/schema.ts. `subsec config reference` prints it.
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

/** Doc comments of schema.ts by the dotted key path they precede (paths inside helpers are relative). */
export function commentsByPath(source: string): Map<string, string> {
  const out = new Map<string, string>();
  const stack: Array<{ indent: number; key: string }> = [];
  let pending: string | undefined;
  let inComment: string[] | undefined;
  for (const line of source.split('\n')) {
    if (inComment) {
      const end = line.indexOf('*/');
      inComment.push(line.slice(0, end < 0 ? undefined : end).replace(/^\s*\*\s?/, '').trim());
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
    const key = /^(\s*)(\w+):\s/.exec(line);
    if (key) {
      const indent = key[1]!.length;
      while (stack.length && stack[stack.length - 1]!.indent >= indent) stack.pop();
      const p = [...stack.map((s) => s.key), key[2]!].join('.');
      if (pending) out.set(p, pending);
      stack.push({ indent, key: key[2]! });
    }
    if (line.trim() && !/^\s*\/\//.test(line)) pending = undefined;
  }
  return out;
}

function describe(comments: Map<string, string>, rawPath: string): string {
  // Keys of array items and of helper-built sections sit outside the parser's path: match them by suffix.
  const keyPath = rawPath.replace(/\[\]/g, '');
  const exact = comments.get(keyPath);
  if (exact) return exact;
  const parts = keyPath.split('.');
  for (const n of rawPath.includes('[]') ? [2, 1] : [2]) {
    if (parts.length < n) continue;
    const suffix = parts.slice(-n).join('.');
    // A one-key suffix only matches keys of helper objects (top level of the parse), never another section's key.
    const hits = [...comments.entries()].filter(([k]) => k === suffix || (n === 2 && k.endsWith('.' + suffix)));
    if (hits.length === 1) return hits[0]![1];
  }
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
export function renderConfigReference(schemaSource = fs.readFileSync(path.join(projectRoot, 'src', 'config', 'schema.ts'), 'utf8')): string {
  const comments = commentsByPath(schemaSource);
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
  lines.push('<!-- generated by `subsec config reference` from src/config/schema.ts; do not edit by hand -->', '');
  for (const [section, prop] of Object.entries(root.properties ?? {})) {
    lines.push(`### \`${section}\``, '');
    const about = comments.get(section);
    if (about) lines.push(about, '');
    lines.push('| Key | Type | Default | Description | Environment |', '| --- | --- | --- | --- | --- |');
    if (prop.properties) rows(prop, section, true);
    else rows({ properties: { [section]: prop } }, '', true);
    lines.push('');
  }
  return lines.join('\n');
}
