/**
 * Loads the configuration: YAML file (default `config/default.yaml`, or `--config <file>`),
 * then `SUBSEC_*` environment overrides, validated by the schema. The only module that reads
 * `process.env` and `process.argv`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { configSchema, type Config } from './schema';

/** Thrown when the configuration is invalid; the message names the offending key. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The repository root (where config/ lives). */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Path of the embedded default configuration. */
export const defaultConfigPath = path.join(projectRoot, 'config', 'default.yaml');

/** Options for {@link loadConfig}; all default to the real process. */
export interface LoadConfigOptions {
  argv?: string[];
  env?: Record<string, string | undefined>;
  /** Extra overrides applied last (used by tests and the CLI). */
  overrides?: Record<string, unknown>;
}

/** Returns the value of `--config <file>` / `--config=<file>` in argv, if any. */
export function configPathFromArgv(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--config') {
      const next = argv[i + 1];
      if (!next) throw new ConfigError('--config needs a file path');
      return next;
    }
    if (arg.startsWith('--config=')) return arg.slice('--config='.length);
  }
  return undefined;
}

/** Converts camelCase to UPPER_SNAKE (consumersPerRouter → CONSUMERS_PER_ROUTER). */
function upperSnake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses an env value: JSON when it parses (numbers, booleans, arrays), else the raw string. */
function parseEnvValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/**
 * Maps `SUBSEC_A_B_C=value` onto the config tree by matching UPPER_SNAKE key names level by
 * level against the defaulted tree (`SUBSEC_SFU_CONSUMERS_PER_ROUTER` → `sfu.consumersPerRouter`).
 * An override that names no known key is an error, like an unknown key in the file.
 */
export function applyEnvOverrides(target: Record<string, unknown>, shape: Record<string, unknown>, env: Record<string, string | undefined>): void {
  for (const [name, raw] of Object.entries(env)) {
    // SUBSEC_SETUP_* belong to scripts/setup.sh and the worker build, not to the node.
    if (!name.startsWith('SUBSEC_') || name.startsWith('SUBSEC_SETUP_') || raw === undefined) continue;
    let rest = name.slice('SUBSEC_'.length);
    let shapeNode: unknown = shape;
    let targetNode: Record<string, unknown> = target;
    const keyPath: string[] = [];
    for (;;) {
      if (!isPlainObject(shapeNode)) throw new ConfigError(`environment ${name}: no config key matches`);
      const keys = Object.keys(shapeNode).sort((a, b) => b.length - a.length);
      const key = keys.find((k) => rest === upperSnake(k) || rest.startsWith(upperSnake(k) + '_'));
      if (!key) throw new ConfigError(`environment ${name}: no config key matches "${rest}"`);
      keyPath.push(key);
      if (rest === upperSnake(key)) {
        targetNode[key] = parseEnvValue(raw);
        break;
      }
      rest = rest.slice(upperSnake(key).length + 1);
      shapeNode = shapeNode[key];
      if (!isPlainObject(targetNode[key])) targetNode[key] = {};
      targetNode = targetNode[key] as Record<string, unknown>;
    }
  }
}

/** Merges `over` into `base` recursively (plain objects merge; arrays and values replace). */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  }
  return out;
}

/** Validates a raw tree; throws ConfigError naming each bad key. */
export function parseConfig(raw: unknown): Config {
  const result = configSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const base = issue.path.join('.');
    const keys = issue.code === 'unrecognized_keys' ? issue.keys.map((k) => (base ? `${base}.${k}` : k)).join(', ') : base;
    return `  ${keys || '(root)'}: ${issue.message}`;
  });
  throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
}

/** Reads and validates the node configuration from file, env and overrides. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const argv = options.argv ?? process.argv.slice(2);
  const env = options.env ?? process.env;
  const file = configPathFromArgv(argv) ?? defaultConfigPath;
  let fromFile: unknown = {};
  try {
    fromFile = YAML.parse(fs.readFileSync(file, 'utf8')) ?? {};
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  if (!isPlainObject(fromFile)) throw new ConfigError(`config file ${file}: top level must be a mapping`);
  const tree = deepMerge({}, fromFile);
  const shape = configSchema.parse({}) as unknown as Record<string, unknown>;
  applyEnvOverrides(tree, shape, env);
  return parseConfig(deepMerge(tree, options.overrides ?? {}));
}
