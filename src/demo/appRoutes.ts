/**
 * HTTP routes of the watch-party and auction apps (clients/apps, docs/events.md#apps): their pages
 * at `/apps/…`, and `/apps/media/sample.webm`, a 60 s test video (clock, colour bars, a beep per
 * second) made once by ffmpeg into `.cache/` so a watch party works with no internet. Media is
 * served with byte ranges, which players need to seek.
 */
import { spawnOwned } from '../core/spawnOwned';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { HttpRequest, HttpResponse, HttpServer } from '../http/HttpServer';
import { serveStatic } from '../http/staticFiles';
import { NotFoundError, SubsecError } from '../core/errors';
import { ErrorCode } from '../protocol/errors';
import { projectRoot } from '../config/loadConfig';

const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf';

/** Where generated media is cached. */
export const APP_MEDIA_DIR = path.join(projectRoot, '.cache', 'apps-media');

/** ffmpeg arguments of the sample: 60 s, 640x360 VP8 at 25 fps with a burnt-in time code, Opus beeps. */
function sampleArgs(out: string): string[] {
  const text = `drawtext=fontfile=${FONT}:text='%{pts\\:hms}':x=(w-tw)/2:y=h-th-24:fontsize=40:fontcolor=white:box=1:boxcolor=black@0.6`;
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=640x360:rate=25:duration=60',
    '-f',
    'lavfi',
    '-i',
    "aevalsrc='0.3*sin(2*PI*880*t)*lt(mod(t\\,1)\\,0.08)':s=48000:d=60",
    '-vf',
    text,
    '-c:v',
    'libvpx',
    '-deadline',
    'realtime',
    '-cpu-used',
    '8',
    '-b:v',
    '500k',
    '-g',
    '25',
    '-c:a',
    'libopus',
    '-b:a',
    '48k',
    out,
  ];
}

let making: Promise<string> | undefined;

/** Path of the sample video, making it first when needed (one ffmpeg run per process at most). */
export function sampleVideo(): Promise<string> {
  making ??= (async () => {
    const file = path.join(APP_MEDIA_DIR, 'sample.webm');
    if (
      await fs.stat(file).then(
        (s) => s.size > 0,
        () => false,
      )
    )
      return file;
    await fs.mkdir(APP_MEDIA_DIR, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp.webm`;
    await new Promise<void>((resolve, reject) => {
      const child = spawnOwned('ffmpeg', sampleArgs(tmp), { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}: ${err}`))));
    });
    await fs.rename(tmp, file);
    return file;
  })();
  making.catch(() => (making = undefined));
  return making;
}

/** Answers a GET for a media file, honouring a single `Range: bytes=a-b`. */
async function mediaResponse(req: HttpRequest, file: string, type: string): Promise<HttpResponse> {
  const body = await fs.readFile(file);
  const headers: Record<string, string> = { 'content-type': type, 'accept-ranges': 'bytes', 'cache-control': 'public, max-age=3600' };
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers['range'] ?? '');
  if (!range || (range[1] === '' && range[2] === '')) return { status: 200, headers, body };
  let start = range[1] === '' ? body.length - Number(range[2]) : Number(range[1]);
  let end = range[1] === '' || range[2] === '' ? body.length - 1 : Number(range[2]);
  start = Math.max(0, start);
  end = Math.min(body.length - 1, end);
  if (start > end) return { status: 416, headers: { ...headers, 'content-range': `bytes */${body.length}` } };
  return { status: 206, headers: { ...headers, 'content-range': `bytes ${start}-${end}/${body.length}` }, body: body.subarray(start, end + 1) };
}

/** Registers `/apps/media/*` and the static pages of `appsDir` under `/apps`. */
export function registerAppRoutes(http: HttpServer, appsDir: string): void {
  http.route('GET', '/apps/media/:name', async (req) => {
    if (req.params['name'] !== 'sample.webm') throw new NotFoundError('no such media');
    let file: string;
    try {
      file = await sampleVideo();
    } catch (err) {
      throw new SubsecError(ErrorCode.INTERNAL, 'the sample video could not be made', { cause: err });
    }
    return mediaResponse(req, file, 'video/webm');
  });
  serveStatic(http, '/apps', appsDir);
}
