/**
 * The `subsec` command line (bin/subsec.mjs runs it through tsx):
 * `subsec start | token create | rooms list|show|close | streams list | nodes list | loadtest`.
 * Exit codes: 0 ok, 1 the node answered with an error, 2 bad usage or configuration,
 * 3 node unreachable. `--json` prints the API's JSON instead of tables.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { loadConfig, projectRoot, ConfigError } from '../config/loadConfig';
import { ApiClient } from './ApiClient';
import { CliError, ExitCode } from './CliError';
import { commands, type Command } from './commands';

const globalOptions = {
  url: { type: 'string' },
  'admin-key': { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const globalHelp = [
  'Global options:',
  '  --url URL         node base URL (default: http.publicUrl, else http://<http.host>:<http.port> from the config)',
  '  --admin-key KEY   admin key (default: auth.adminKey from the config; env SUBSEC_AUTH_ADMIN_KEY)',
  '  --config FILE     config file to read defaults from (default: config/default.yaml)',
  '  --json            print JSON instead of tables',
  '  -h, --help        help for the command',
];

function topHelp(): string {
  const lines = [
    'subsec: sub-second media server',
    '',
    'Usage: subsec <command> [options]',
    '',
    'Commands:',
    '  start                run a node in the foreground (--config FILE; SUBSEC_* env overrides)',
    ...commands.map((c) => `  ${c.words.join(' ').padEnd(20)} ${c.summary}`),
    '  config reference     print the configuration reference (Markdown) generated from the schema;',
    '                       --write updates docs/configuration.md, --check fails when it is out of date',
    '  loadtest ...         run the load tools (loadtest/cli.ts), when present',
    '',
    ...globalHelp,
    '',
    'Exit codes: 0 ok, 1 the node answered with an error, 2 bad usage or configuration, 3 node unreachable.',
    "Run `subsec <command> --help` for a command's options.",
  ];
  return lines.join('\n') + '\n';
}

function commandHelp(c: Command): string {
  return [`Usage: ${c.usage}`, '', c.summary, ...(c.help.length ? ['', 'Options:', ...c.help] : []), '', ...globalHelp].join('\n') + '\n';
}

/** The node URL and admin key from flags, falling back to the configuration. */
function clientFor(values: Record<string, unknown>): ApiClient {
  let url = values.url as string | undefined;
  let key = values['admin-key'] as string | undefined;
  if (!url || !key) {
    let config;
    try {
      config = loadConfig({ argv: values.config ? ['--config', values.config as string] : [] });
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(err.message, ExitCode.USAGE);
      throw err;
    }
    const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? '127.0.0.1' : config.http.host;
    url ??= config.http.publicUrl ?? `http://${host}:${config.http.port}`;
    key ??= config.auth.adminKey;
  }
  if (!/^https?:\/\//.test(url)) throw new CliError(`--url must start with http:// or https:// (got ${url})`, ExitCode.USAGE);
  return new ApiClient(url, key);
}

/** Runs the CLI; resolves with the exit code (never resolves for `start`, which runs the node). */
export async function runCli(argv: string[]): Promise<number> {
  const out = (s: string) => process.stdout.write(s);
  try {
    if (argv.length === 0) {
      process.stderr.write(topHelp());
      return ExitCode.USAGE;
    }
    if (argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
      out(topHelp());
      return ExitCode.OK;
    }
    if (argv[0] === 'start') return await start(argv.slice(1));
    if (argv[0] === 'loadtest') return await loadtest(argv.slice(1));
    if (argv[0] === 'config' && argv[1] === 'reference') {
      const ref = await import('./configReference');
      const mode = argv[2];
      if (mode !== undefined && mode !== '--write' && mode !== '--check')
        throw new CliError(`config reference: unknown option "${mode}" (--write or --check)`, ExitCode.USAGE);
      if (mode === undefined) {
        out(ref.renderConfigReference());
        return ExitCode.OK;
      }
      const doc = fs.readFileSync(ref.CONFIGURATION_DOC, 'utf8');
      const updated = ref.withReference(doc, ref.renderConfigReference());
      if (mode === '--check') {
        if (updated === doc) return ExitCode.OK;
        process.stderr.write('docs/configuration.md is out of date: run `subsec config reference --write`\n');
        return ExitCode.API_ERROR;
      }
      if (updated !== doc) fs.writeFileSync(ref.CONFIGURATION_DOC, updated);
      return ExitCode.OK;
    }
    const command = commands.find((c) => c.words.every((w, i) => argv[i] === w));
    if (!command) {
      const group = commands.filter((c) => c.words[0] === argv[0]);
      if (group.length > 0) {
        const sub = argv[1] && !argv[1].startsWith('-') ? `unknown command "${argv[0]} ${argv[1]}"` : `"${argv[0]}" needs a subcommand`;
        throw new CliError(`${sub}; one of: ${group.map((c) => c.words.join(' ')).join(', ')}`, ExitCode.USAGE);
      }
      throw new CliError(`unknown command "${argv[0]}"; run subsec --help`, ExitCode.USAGE);
    }
    let parsed;
    try {
      parsed = parseArgs({ args: argv.slice(command.words.length), options: { ...globalOptions, ...command.options }, allowPositionals: true, strict: true });
    } catch (err) {
      throw new CliError(`${(err as Error).message}\n${command.usage}`, ExitCode.USAGE);
    }
    const values = parsed.values as Record<string, string | boolean | undefined>;
    if (values.help) {
      out(commandHelp(command));
      return ExitCode.OK;
    }
    if (parsed.positionals.length !== command.positionals) {
      throw new CliError(`expected ${command.positionals} argument(s), got ${parsed.positionals.length}\nUsage: ${command.usage}`, ExitCode.USAGE);
    }
    let client: ApiClient | undefined;
    await command.run({ positionals: parsed.positionals, values, json: values.json === true, api: () => (client ??= clientFor(values)), out });
    return ExitCode.OK;
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`subsec: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`subsec: ${(err as Error).stack ?? err}\n`);
    return ExitCode.API_ERROR;
  }
}

/** `subsec start`: runs src/main.ts in this process (it reads --config from argv itself). */
async function start(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
  } catch (err) {
    throw new CliError(`${(err as Error).message}\nUsage: subsec start [--config FILE]`, ExitCode.USAGE);
  }
  if (parsed.values.help) {
    process.stdout.write(
      'Usage: subsec start [--config FILE]\n\nRuns a node in the foreground until SIGTERM/SIGINT (graceful drain).\n' +
        'Configuration: FILE (default config/default.yaml), then SUBSEC_* environment overrides (SUBSEC_HTTP_PORT=9000).\n' +
        'Exit codes: 0 after a clean drain, 1 on failure, 2 on an invalid configuration.\n',
    );
    return ExitCode.OK;
  }
  await import('../main');
  return new Promise<number>(() => undefined);
}

/** `subsec loadtest …`: hands over to the load tools when this build has them. */
async function loadtest(args: string[]): Promise<number> {
  const entry = path.join(projectRoot, 'loadtest', 'cli.ts');
  if (!fs.existsSync(entry)) throw new CliError('loadtest is not part of this build (loadtest/cli.ts is missing)', ExitCode.USAGE);
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { stdio: 'inherit', cwd: projectRoot });
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`subsec: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
