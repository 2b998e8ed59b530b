#!/usr/bin/env node
// Builds (or restores from cache) mediasoup's C++ worker offline, against Debian libraries.
//
// Run as the project's npm `postinstall` (mediasoup's own postinstall is disabled through
// package.json "allowScripts" / MEDIASOUP_WORKER_BIN, because it downloads from GitHub).
//
//   1. Cache key = mediasoup version + CPU arch + Debian versions of the libraries the worker
//      links/is built with + a hash of the build recipe (meson args, source patches, and every
//      file under scripts/mediasoup-subprojects/).
//   2. Cached binary at ${XDG_CACHE_HOME:-~/.cache}/subsec/mediasoup-worker/<key>/mediasoup-worker
//      (outside node_modules, so it survives `npm ci`): copy it to
//      node_modules/mediasoup/worker/out/Release/mediasoup-worker (mediasoup's default path,
//      no env var needed at run time) and stop. Nothing is done when that file already matches.
//   3. Otherwise build: copy worker sources into a build dir under the cache, replace
//      subprojects/*.wrap with the local stubs from scripts/mediasoup-subprojects/ (pkg-config
//      wrappers around Debian's openssl, libuv, flatbuffers, libsrtp2 (with a libsrtp3 API
//      shim); unordered-dense as an alias header over the standard containers; empty catch2),
//      lower meson_version (Debian has meson 1.0.1), check the DTLS fix is there, apply the WHEP
//      send-path patch (PATCHES), then meson setup + compile, store in the cache and install.
//
// Env: SUBSEC_SETUP_SKIP_WORKER_BUILD=1   skip everything (exit 0).
//      SUBSEC_SETUP_CLEAN_WORKER_BUILD=1  ignore a left-over build dir from an interrupted build.
//      SUBSEC_SETUP_FORCE_WORKER_BUILD=1  rebuild even if the cache has a binary for this key.
//      XDG_CACHE_HOME               cache location (default ~/.cache).
// Args: --print-key                 print "<key>\t<cached binary path>" and exit (for CI caches).
// Plain Node (>= 20), no dependencies.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const TAG = '[mediasoup-worker]';
const t0 = Date.now();

const scriptDir = path.dirname(fileURLToPath(import.meta.url));
const projectRoot = path.resolve(scriptDir, '..');
const stubsDir = path.join(scriptDir, 'mediasoup-subprojects');

// Debian packages whose versions feed the cache key (what the binary is built/linked against).
const KEY_PACKAGES = ['libssl-dev', 'libuv1-dev', 'libsrtp2-dev', 'libflatbuffers-dev', 'flatbuffers-compiler', 'meson'];
// Debian packages needed to build.
const BUILD_PACKAGES = ['meson', 'ninja-build', 'pkg-config', 'g++', 'libuv1-dev', 'libssl-dev', 'libsrtp2-dev', 'libflatbuffers-dev', 'flatbuffers-compiler'];

const MESON_SETUP_ARGS = ['--buildtype', 'release', '-Db_ndebug=true', '--wrap-mode=nodownload'];

// Source patches, applied to the copied worker sources before `meson setup`. Each must match
// (count times) or the build stops: a silent no-op would ship a broken worker. An entry without
// `replace` only checks that upstream code we rely on is still there.
const PATCHES = [
  {
    // Debian meson is 1.0.1; mediasoup 3.32 asks for >= 1.1 but builds fine with 1.0.
    name: 'lower meson_version',
    file: 'meson.build',
    find: /meson_version\s*:\s*'>=\s*[0-9.]+'/g,
    replace: "meson_version: '>= 1.0.0'",
    count: 1,
  },
  {
    // REQUIRED with Debian's OpenSSL 3.0 (kTLS-enabled), upstream since 3.2x: onSslBioOut must
    // pass OpenSSL's real return value through for every after-call (BIO_CB_RETURN bit set).
    // Otherwise the BIO_CTRL_GET_KTLS_SEND query answers "yes", libssl allocates no write
    // buffer, and the first DTLS handshake record write crashes the worker for every browser.
    name: 'DTLS onSslBioOut tests the BIO_CB_RETURN bit (upstream; check only)',
    file: 'src/RTC/DtlsTransport.cpp',
    find: /long\s+resultOfcallback\s*=\s*\(\(operationType & BIO_CB_RETURN\) != 0\)\s*\?/g,
    count: 1,
  },
  // WHEP viewers make the offer, so they decode RTP by the numbering of their own offer: RTX
  // payload types and header extension ids. mediasoup gives a router's RTX codecs payload types
  // of its own choosing and writes every forwarded packet's header extensions under fixed ids
  // (the RtpHeaderExtensionUri::Type values, which are the preferred ids of mediasoup's
  // supported capabilities); its API has no way to change either. So src/egress/whep/
  // viewerNumbering.ts gives the producer a WHEP router's consumers read from one extra codec
  // parameter, `subsec-viewer-numbering` ("r<routerPt>=<viewerPt> … e<workerId>=<viewerId> …"),
  // which mediasoup keeps in every consumer's codec parameters; these patches make
  // WebRtcTransport send a packet of such a consumer with the viewer's RTX payload type and
  // extension ids while SRTP encrypts it, then restore the packet (it is shared by every
  // consumer). Consumers without the parameter (SDK viewers, everything else) cost one
  // parameter lookup per packet; the parsed parameter is cached per consumer.
  {
    name: 'WebRtcTransport: headers of the viewer numbering rewrite',
    file: 'src/RTC/WebRtcTransport.cpp',
    find: /#include "Utils\.hpp"\n/g,
    replace: '#include "Utils.hpp"\n#include <cstdint>\n#include <cstdlib>\n#include <cstring>\n#include <string>\n',
    count: 1,
  },
  {
    name: 'WebRtcTransport: name the consumer parameter of SendRtpPacket',
    file: 'src/RTC/WebRtcTransport.cpp',
    find: /RTC::Consumer\* \/\*consumer\*\/, RTC::RTP::Packet\* packet, onSendCallback cb\)/g,
    replace: 'RTC::Consumer* consumer, RTC::RTP::Packet* packet, onSendCallback cb)',
    count: 1,
  },
  {
    name: 'WebRtcTransport: encrypt RTP in the viewer numbering of the consumer',
    file: 'src/RTC/WebRtcTransport.cpp',
    find: /this->srtpSendSession->EncryptRtp\(std::addressof\(data\), std::addressof\(len\)\)/g,
    replace: 'SubsecEncryptInViewerNumbering(*this->srtpSendSession, consumer, packet, std::addressof(data), std::addressof(len))',
    count: 1,
  },
  {
    name: 'WebRtcTransport: the viewer numbering rewrite',
    file: 'src/RTC/WebRtcTransport.cpp',
    find: /\nnamespace RTC\n\{\n/g,
    replace: `
namespace RTC
{
	// subsec: see scripts/build-mediasoup-worker.mjs (PATCHES) and src/egress/whep/viewerNumbering.ts.
	struct SubsecNumbering
	{
		const std::string* source{ nullptr };
		std::string text;
		uint8_t rtxFrom[8]{};
		uint8_t rtxTo[8]{};
		size_t rtxCount{ 0u };
		uint8_t extTo[256]{};
		bool hasExt{ false };
	};

	// "r<routerPt>=<viewerPt>" and "e<workerId>=<viewerId>" tokens separated by spaces.
	static void SubsecParseNumbering(const std::string& text, SubsecNumbering& out)
	{
		out.rtxCount = 0u;
		out.hasExt   = false;
		std::memset(out.extTo, 0, sizeof(out.extTo));

		const char* p = text.c_str();

		while (*p != '\\0')
		{
			while (*p == ' ')
				++p;

			const char kind = *p;

			if (kind == '\\0')
				break;

			++p;

			char* end{ nullptr };
			const long from = std::strtol(p, &end, 10);

			if (end == p || *end != '=')
				break;

			p             = end + 1;
			const long to = std::strtol(p, &end, 10);

			if (end == p)
				break;

			p = end;

			if (kind == 'r' && from >= 0 && from <= 127 && to >= 0 && to <= 127 && out.rtxCount < 8u)
			{
				out.rtxFrom[out.rtxCount] = static_cast<uint8_t>(from);
				out.rtxTo[out.rtxCount]   = static_cast<uint8_t>(to);
				++out.rtxCount;
			}
			else if (kind == 'e' && from >= 1 && from <= 255 && to >= 1 && to <= 255)
			{
				out.extTo[from] = static_cast<uint8_t>(to);
				out.hasExt      = true;
			}
		}
	}

	static const SubsecNumbering* SubsecViewerNumbering(const RTC::Consumer* consumer)
	{
		static const std::string key{ "subsec-viewer-numbering" };
		static thread_local SubsecNumbering cache[64];

		if (consumer == nullptr)
			return nullptr;

		const auto& codecs = consumer->GetRtpParameters().codecs;

		if (codecs.empty() || !codecs[0].parameters.HasString(key))
			return nullptr;

		const std::string& text = codecs[0].parameters.GetString(key);
		auto& slot = cache[(reinterpret_cast<uintptr_t>(std::addressof(text)) >> 4) & 63u];

		// The string lives as long as its consumer; a new consumer at the same address is told
		// apart by its text.
		if (slot.source != std::addressof(text) || slot.text != text)
		{
			slot.source = std::addressof(text);
			slot.text   = text;
			SubsecParseNumbering(text, slot);
		}

		return std::addressof(slot);
	}

	static bool SubsecEncryptInViewerNumbering(
	  RTC::SrtpSession& session,
	  const RTC::Consumer* consumer,
	  RTC::RTP::Packet* packet,
	  const uint8_t** data,
	  size_t* len)
	{
		const SubsecNumbering* numbering = SubsecViewerNumbering(consumer);

		if (numbering == nullptr)
			return session.EncryptRtp(data, len);

		const uint8_t originalPayloadType = packet->GetPayloadType();
		uint8_t* positions[32];
		uint8_t originals[32];
		size_t changed{ 0u };

		for (size_t i = 0u; i < numbering->rtxCount; ++i)
		{
			if (numbering->rtxFrom[i] == originalPayloadType)
			{
				packet->SetPayloadType(numbering->rtxTo[i]);

				break;
			}
		}

		if (numbering->hasExt && (packet->HasOneByteExtensions() || packet->HasTwoBytesExtensions()))
		{
			const bool oneByte  = packet->HasOneByteExtensions();
			const uint8_t maxId = oneByte ? 14u : 255u;
			uint8_t* ext        = packet->GetHeaderExtensionValue();
			const size_t extLen = packet->GetHeaderExtensionValueLength();
			uint8_t* element[32];
			uint8_t from[32];
			uint8_t to[32];
			size_t count{ 0u };

			// The elements: one-byte headers are (id << 4 | length - 1), two-byte ones (id, length).
			for (size_t i = 0u; i < extLen && count < 32u;)
			{
				const uint8_t b = ext[i];

				if (b == 0u)
				{
					++i;
					continue;
				}

				if (oneByte)
				{
					if ((b >> 4) == 15u)
						break;

					element[count] = ext + i;
					from[count]    = b >> 4;
					i += 2u + (b & 0x0fu);
				}
				else
				{
					if (i + 1u >= extLen)
						break;

					element[count] = ext + i;
					from[count]    = b;
					i += 2u + ext[i + 1u];
				}

				++count;
			}

			bool taken[256] = {};
			bool identity   = true;

			for (size_t k = 0u; k < count; ++k)
			{
				to[k] = numbering->extTo[from[k]];

				if (to[k] > maxId)
					to[k] = 0u;

				if (to[k] != 0u)
				{
					taken[to[k]] = true;

					if (to[k] != from[k])
						identity = false;
				}
			}

			for (size_t k = 0u; !identity && k < count; ++k)
			{
				// Not negotiated: keep the id unless a negotiated extension now uses it.
				if (to[k] == 0u)
				{
					uint8_t id = taken[from[k]] ? 0u : from[k];

					for (uint8_t c = maxId; id == 0u && c >= 1u; --c)
					{
						if (!taken[c])
							id = c;
					}

					to[k]     = id == 0u ? from[k] : id;
					taken[id] = true;
				}

				if (to[k] != from[k])
				{
					positions[changed] = element[k];
					originals[changed] = *element[k];
					++changed;
					*element[k] = oneByte ? static_cast<uint8_t>((to[k] << 4) | (*element[k] & 0x0fu)) : to[k];
				}
			}
		}

		const bool ok = session.EncryptRtp(data, len);

		for (size_t k = 0u; k < changed; ++k)
			*positions[k] = originals[k];

		if (packet->GetPayloadType() != originalPayloadType)
			packet->SetPayloadType(originalPayloadType);

		return ok;
	}
`,
    count: 1,
  },
];

// Bump when the build procedure changes in a way not captured by the values above.
const RECIPE_REVISION = 2;

// ---------------------------------------------------------------------------------------------

function log(msg) {
  console.log(`${TAG} ${msg}`);
}

class BuildError extends Error {}

function fail(msg) {
  throw new BuildError(msg);
}

function secs(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

function sha256File(file) {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function sameFile(a, b) {
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    if (!sa.isFile() || !sb.isFile() || sa.size !== sb.size) return false;
    return sha256File(a) === sha256File(b);
  } catch {
    return false;
  }
}

// Copy via a temp file + rename, so readers never see a half-written binary.
function atomicCopy(src, dest, mode = 0o755) {
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const tmp = `${dest}.tmp-${process.pid}`;
  try {
    fs.copyFileSync(src, tmp);
    fs.chmodSync(tmp, mode);
    fs.renameSync(tmp, dest);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function atomicWrite(dest, text) {
  const tmp = `${dest}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, dest);
}

function listFiles(dir, base = dir) {
  const out = [];
  for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, ent.name);
    if (ent.isDirectory()) out.push(...listFiles(full, base));
    else if (ent.isFile()) out.push(path.relative(base, full));
  }
  return out.sort();
}

// Files of scripts/mediasoup-subprojects/ that go into the build (docs do not).
function isStubFile(file) {
  return !file.endsWith('.md');
}

function findMediasoup() {
  const candidates = [path.join(projectRoot, 'node_modules', 'mediasoup')];
  if (process.env.INIT_CWD) candidates.push(path.join(process.env.INIT_CWD, 'node_modules', 'mediasoup'));
  for (const dir of candidates) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'worker', 'meson.build'))) {
      return fs.realpathSync(dir);
    }
  }
  fail(`node_modules/mediasoup (with worker sources) not found under ${projectRoot}; run npm ci first.`);
}

// Returns { pkg: version } for installed packages; missing ones are absent.
function debianVersions(pkgs) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Package}\t${Version}\t${db:Status-Abbrev}\n', ...pkgs], {
    encoding: 'utf8',
  });
  if (r.error) return null; // not a Debian system
  const versions = {};
  for (const line of (r.stdout || '').split('\n')) {
    const [pkg, version, status] = line.split('\t');
    if (pkg && version && status && status.startsWith('ii')) versions[pkg.replace(/:.*$/, '')] = version;
  }
  return versions;
}

function computeKey(msVersion, debVersions) {
  const h = createHash('sha256');
  h.update(
    JSON.stringify({
      RECIPE_REVISION,
      msVersion,
      arch: process.arch,
      platform: process.platform,
      deb: KEY_PACKAGES.map((p) => [p, debVersions ? (debVersions[p] ?? 'missing') : 'no-dpkg']),
      meson: MESON_SETUP_ARGS,
      patches: PATCHES.map((p) => [p.file, String(p.find), p.replace ?? null, p.count]),
    }),
  );
  for (const rel of listFiles(stubsDir).filter(isStubFile)) {
    h.update(`\0${rel}\0`);
    h.update(fs.readFileSync(path.join(stubsDir, rel)));
  }
  return `${msVersion}-${process.arch}-${h.digest('hex').slice(0, 16)}`;
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

// Cross-process lock (mkdir is atomic). Waits for a live holder, breaks a stale one.
async function acquireLock(lockDir) {
  let announced = false;
  const deadline = Date.now() + 30 * 60 * 1000;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(path.join(lockDir, 'pid'), String(process.pid));
      const release = () => {
        cleanups.delete(release);
        fs.rmSync(lockDir, { recursive: true, force: true });
      };
      cleanups.add(release);
      return release;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    let pid = NaN;
    try {
      pid = Number(fs.readFileSync(path.join(lockDir, 'pid'), 'utf8'));
    } catch {}
    let ageMs = 0;
    try {
      ageMs = Date.now() - fs.statSync(lockDir).mtimeMs;
    } catch {}
    if ((Number.isInteger(pid) && pid > 0 && !pidAlive(pid)) || (!(pid > 0) && ageMs > 10_000)) {
      log(`removing stale build lock ${lockDir}`);
      fs.rmSync(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) fail(`timed out waiting for build lock ${lockDir} (held by pid ${pid})`);
    if (!announced) {
      log(`another build is running (pid ${pid}); waiting for it...`);
      announced = true;
    }
    await sleep(2000);
  }
}

// On SIGINT/SIGTERM: stop our build tools and release the lock (the build dir is kept, resumable).
const runningChildren = new Set();
const cleanups = new Set();
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    for (const child of runningChildren) child.kill('SIGTERM');
    for (const fn of cleanups) fn();
    console.error(`${TAG} interrupted (${sig}); the next run resumes the build`);
    process.exit(128 + (os.constants.signals[sig] ?? 1));
  });
}

// Runs a command, appending its output to logFile; calls onLine for each stdout/stderr line.
function run(cmd, args, { cwd, logFile, onLine } = {}) {
  return new Promise((resolve, reject) => {
    const logFd = fs.openSync(logFile, 'a');
    fs.writeSync(logFd, `\n$ ${[cmd, ...args].join(' ')}\n`);
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    runningChildren.add(child);
    child.on('exit', () => runningChildren.delete(child));
    let pending = '';
    const onData = (chunk) => {
      fs.writeSync(logFd, chunk);
      if (!onLine) return;
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const l of lines) onLine(l);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => {
      fs.closeSync(logFd);
      reject(new BuildError(`cannot run ${cmd}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      if (pending && onLine) onLine(pending);
      fs.closeSync(logFd);
      if (code === 0) resolve();
      else reject(new BuildError(`${cmd} ${args.slice(0, 2).join(' ')} failed (${signal ?? `exit ${code}`})`));
    });
  });
}

function tail(file, n) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

function checkLinked(bin) {
  const r = spawnSync('ldd', [bin], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return; // no ldd: skip the check
  const missing = r.stdout.split('\n').filter((l) => l.includes('not found'));
  if (missing.length) {
    fail(`${bin} cannot load shared libraries:\n${missing.join('\n')}\nInstall the Debian packages (scripts/setup.sh).`);
  }
}

function applyPatches(srcDir) {
  for (const p of PATCHES) {
    const file = path.join(srcDir, p.file);
    const text = fs.readFileSync(file, 'utf8');
    const matches = text.match(p.find) ?? [];
    if (matches.length !== p.count) {
      fail(
        `patch "${p.name}": expected ${p.count} match(es) of ${p.find} in worker/${p.file}, found ${matches.length}. ` +
          'The mediasoup sources changed: update PATCHES in scripts/build-mediasoup-worker.mjs.',
      );
    }
    if (p.replace === undefined) continue; // a check only
    const patched = text.replace(p.find, p.replace);
    if (p.verify && !p.verify.test(patched)) fail(`patch "${p.name}": result check failed in worker/${p.file}`);
    fs.writeFileSync(file, patched);
  }
}

function prepareSources(msWorkerDir, srcDir) {
  fs.rmSync(srcDir, { recursive: true, force: true });
  fs.cpSync(msWorkerDir, srcDir, {
    recursive: true,
    preserveTimestamps: true,
    filter: (src) => {
      const rel = path.relative(msWorkerDir, src);
      return rel !== 'out' && rel !== 'subprojects' && !rel.startsWith(`out${path.sep}`) && !rel.startsWith(`subprojects${path.sep}`);
    },
  });
  // Local stub subprojects in place of the downloading *.wrap files.
  fs.cpSync(stubsDir, path.join(srcDir, 'subprojects'), {
    recursive: true,
    filter: isStubFile,
  });
  applyPatches(srcDir);
  return [];
}

async function build({ msDir, key, workDir, cacheBin }) {
  const msWorkerDir = path.join(msDir, 'worker');
  const srcDir = path.join(workDir, 'worker');
  const buildDir = path.join(workDir, 'build');
  const logFile = path.join(workDir, 'build.log');
  const preparedStamp = path.join(workDir, 'prepared.json');

  if (process.env.SUBSEC_SETUP_CLEAN_WORKER_BUILD === '1') fs.rmSync(workDir, { recursive: true, force: true });
  fs.mkdirSync(workDir, { recursive: true });

  let extraArgs;
  if (fs.existsSync(preparedStamp) && fs.existsSync(srcDir)) {
    extraArgs = JSON.parse(fs.readFileSync(preparedStamp, 'utf8')).extraArgs;
    log(`resuming the build left in ${workDir}`);
  } else {
    fs.rmSync(buildDir, { recursive: true, force: true });
    extraArgs = prepareSources(msWorkerDir, srcDir);
    fs.writeFileSync(preparedStamp, JSON.stringify({ key, extraArgs }));
    log('sources prepared (stub subprojects, meson_version, PATCHES)');
  }

  // The machine may be shared (CI runners, other builds): compile at a lower priority.
  try {
    os.setPriority(0, Math.max(os.getPriority(0), 10));
  } catch {}

  const t1 = Date.now();
  try {
    if (!fs.existsSync(path.join(buildDir, 'build.ninja'))) {
      fs.rmSync(buildDir, { recursive: true, force: true });
      log('meson setup...');
      await run('meson', ['setup', ...MESON_SETUP_ARGS, ...extraArgs, buildDir, srcDir], {
        cwd: workDir,
        logFile,
      });
    }
    log('generating flatbuffers headers...');
    await run('meson', ['compile', '-C', buildDir, 'flatbuffers-generator'], { cwd: workDir, logFile });

    log(`compiling mediasoup-worker (${os.cpus().length} cores, a few minutes)...`);
    let lastPct = -1;
    let lastTime = Date.now();
    await run('ninja', ['-C', buildDir, 'mediasoup-worker'], {
      cwd: workDir,
      logFile,
      onLine: (line) => {
        const m = /^\[(\d+)\/(\d+)\]/.exec(line);
        if (!m) return;
        const pct = Math.floor((Number(m[1]) / Number(m[2])) * 100);
        const step = Math.floor(pct / 10);
        if (step > lastPct || Date.now() - lastTime > 60_000) {
          lastPct = step;
          lastTime = Date.now();
          log(`  ${String(pct).padStart(3)}% (${m[1]}/${m[2]}) ${secs(Date.now() - t1)}`);
        }
      },
    });
  } catch (err) {
    if (err instanceof BuildError) {
      const t = tail(logFile, 40);
      fail(
        `${err.message}\n--- last lines of ${logFile} ---\n${t}\n---\n` +
          `The build dir ${workDir} is kept; the next run resumes it ` +
          '(SUBSEC_SETUP_CLEAN_WORKER_BUILD=1 starts over).',
      );
    }
    throw err;
  }

  const builtBin = path.join(buildDir, 'mediasoup-worker');
  if (!fs.existsSync(builtBin)) fail(`build finished but ${builtBin} is missing (see ${logFile})`);
  checkLinked(builtBin);
  log(`compiled in ${secs(Date.now() - t1)}`);

  atomicCopy(builtBin, cacheBin);
  atomicWrite(
    path.join(path.dirname(cacheBin), 'info.json'),
    JSON.stringify(
      {
        key,
        mediasoup: JSON.parse(fs.readFileSync(path.join(msDir, 'package.json'), 'utf8')).version,
        debian: debianVersions(KEY_PACKAGES),
        builtAt: new Date().toISOString(),
        buildSeconds: Math.round((Date.now() - t1) / 1000),
        sha256: sha256File(cacheBin),
      },
      null,
      2,
    ) + '\n',
  );
  fs.rmSync(workDir, { recursive: true, force: true });
}

async function main() {
  if (process.env.SUBSEC_SETUP_SKIP_WORKER_BUILD === '1') {
    log('SUBSEC_SETUP_SKIP_WORKER_BUILD=1: skipping');
    return;
  }
  if (process.env.npm_config_package_lock_only === 'true') {
    log('npm --package-lock-only: nothing installed, skipping');
    return;
  }
  if (process.platform !== 'linux') {
    fail(`only Linux (Debian) is supported by this offline build, not ${process.platform}`);
  }

  const msDir = findMediasoup();
  const msVersion = JSON.parse(fs.readFileSync(path.join(msDir, 'package.json'), 'utf8')).version;
  const debVersions = debianVersions([...new Set([...KEY_PACKAGES, ...BUILD_PACKAGES])]);
  const key = computeKey(msVersion, debVersions);

  const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  const cacheRoot = path.join(cacheHome, 'subsec', 'mediasoup-worker');
  const cacheBin = path.join(cacheRoot, key, 'mediasoup-worker');
  const target = path.join(msDir, 'worker', 'out', 'Release', 'mediasoup-worker');
  const targetKey = `${target}.subsec-key`;
  const force = process.env.SUBSEC_SETUP_FORCE_WORKER_BUILD === '1';

  if (process.argv.includes('--print-key')) {
    // For CI caches: the key and where the binary for it lives.
    console.log(`${key}\t${cacheBin}`);
    return;
  }

  const install = (how) => {
    atomicCopy(cacheBin, target);
    atomicWrite(targetKey, `${key}\n`);
    log(`${how}: ${path.relative(projectRoot, target)} (mediasoup ${msVersion}, key ${key}) in ${secs(Date.now() - t0)}`);
  };

  if (!force) {
    if (fs.existsSync(cacheBin)) {
      if (sameFile(cacheBin, target)) {
        let installedKey = '';
        try {
          installedKey = fs.readFileSync(targetKey, 'utf8').trim();
        } catch {}
        if (installedKey !== key) atomicWrite(targetKey, `${key}\n`);
        log(`up to date (mediasoup ${msVersion}, key ${key})`);
        return;
      }
      checkLinked(cacheBin);
      install('restored from cache');
      return;
    }
    // Binary already installed for this exact key but the cache was cleared: re-seed the cache.
    let installedKey = '';
    try {
      installedKey = fs.readFileSync(targetKey, 'utf8').trim();
    } catch {}
    if (installedKey === key && fs.existsSync(target)) {
      atomicCopy(target, cacheBin);
      log(`up to date (mediasoup ${msVersion}, key ${key}); cache re-seeded at ${cacheBin}`);
      return;
    }
  }

  // Build needed.
  if (debVersions) {
    const missing = BUILD_PACKAGES.filter((p) => !debVersions[p]);
    if (missing.length) {
      fail(
        `missing Debian packages needed to build the mediasoup worker: ${missing.join(' ')}\n` +
          `  run: sudo scripts/setup.sh   (or: sudo apt-get install -y ${missing.join(' ')})`,
      );
    }
  } else {
    log('warning: dpkg-query not found (not Debian?); trying the build anyway');
  }

  fs.mkdirSync(cacheRoot, { recursive: true });
  const release = await acquireLock(path.join(cacheRoot, `.lock-${key}`));
  try {
    if (!force && fs.existsSync(cacheBin)) {
      install('built by a concurrent run, restored from cache');
      return;
    }
    log(`no cached worker for mediasoup ${msVersion} (key ${key}); building from source`);
    await build({ msDir, key, workDir: path.join(cacheRoot, `build-${key}`), cacheBin });
    install(`built and cached at ${cacheBin}; installed`);
  } finally {
    release();
  }
}

try {
  await main();
} catch (err) {
  const msg = err instanceof BuildError ? err.message : err?.stack || String(err);
  console.error(`${TAG} ERROR: ${msg}`);
  console.error(`${TAG} mediasoup worker NOT installed (set SUBSEC_SETUP_SKIP_WORKER_BUILD=1 to skip this step).`);
  process.exitCode = 1;
}
