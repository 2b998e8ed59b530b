#!/usr/bin/python3
"""A real RTSP server for tests: GStreamer's gst-rtsp-server (Debian gir1.2-gst-rtsp-server-1.0)
through python3-gi. Serves /cam (H264 + G.711 A-law) and /aac (H264 + AAC), shared between
clients, with Digest authentication when a user is given; /bench (640x360 25 fps H264 at
1 Mbit/s, for benchmarks); and /clock and /clock-slices when RTSP_CLOCK is set: the wall clock
painted into each frame as a block code (for bench:ingest's glass-to-glass figure), in one slice
per picture, or in four with SPS/PPS before every slice of a key frame (see docs/rtsp.md).
Binds the given port (0 = free) and prints {"port": N} on stdout once it listens.
Usage: rtspServer.py <port> [<user> <password>]"""
import json
import os
import signal
import time
import sys

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtsp', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

Gst.init(None)
port = sys.argv[1] if len(sys.argv) > 1 else '0'
user = sys.argv[2] if len(sys.argv) > 3 else None
password = sys.argv[3] if len(sys.argv) > 3 else None

VIDEO = ('videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=180,framerate=15/1 ! '
         'x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! rtph264pay name=pay0 pt=96 config-interval=-1')
MOUNTS = {
    '/bench': ('( videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate=25/1 ! '
               'x264enc tune=zerolatency speed-preset=ultrafast key-int-max=50 bitrate=1000 ! rtph264pay name=pay0 pt=96 config-interval=-1 )'),
    '/cam': f'( {VIDEO} audiotestsrc is-live=true ! audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay1 pt=8 )',
    '/aac': f'( {VIDEO} audiotestsrc is-live=true ! audioconvert ! voaacenc ! rtpmp4gpay name=pay1 pt=97 )',
}

W, H, BLOCK, BITS, PER_ROW = 640, 360, 32, 48, 16
if os.environ.get('RTSP_CLOCK'):
    # A camera whose picture carries the wall clock (ms, 48 bits as 32 px blocks, 16 per row),
    # painted as each frame is generated: bench:ingest reads it back in Chromium.
    MOUNTS['/clock'] = (f'( appsrc name=src is-live=true format=time do-timestamp=true '
                        f'caps=video/x-raw,format=I420,width={W},height={H},framerate=30/1 ! '
                        'x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 bitrate=1000 sliced-threads=false ! '
                        'rtph264pay name=pay0 pt=96 config-interval=-1 )')
    # The same clock, four slices per picture (x264's sliced threads, as zerolatency encoders send);
    # rtph264pay's config-interval=-1 puts SPS/PPS before each slice of a key frame.
    MOUNTS['/clock-slices'] = MOUNTS['/clock'].replace('sliced-threads=false', 'sliced-threads=true threads=4')


def clock_frame(ms):
    """An I420 frame: gray, with the clock code in the top-left 512x96 and its complement below it."""
    luma = bytearray(b'\x80' * (W * H))
    rows = -(-BITS // PER_ROW)
    for i in range(BITS):
        bit = (ms >> i) & 1
        x0, y0 = (i % PER_ROW) * BLOCK, (i // PER_ROW) * BLOCK
        for top, value in ((y0, b'\xff' if bit else b'\x00'), (y0 + rows * BLOCK, b'\x00' if bit else b'\xff')):
            for y in range(top, top + BLOCK):
                luma[y * W + x0:y * W + x0 + BLOCK] = value * BLOCK
    return bytes(luma) + b'\x80' * (W * H // 2)


def on_media_configure(_factory, media):
    src = media.get_element().get_child_by_name('src')
    state = {'next': time.monotonic()}

    def need_data(appsrc, _length):
        state['next'] += 1 / 30
        delay = state['next'] - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        appsrc.emit('push-buffer', Gst.Buffer.new_wrapped(clock_frame(int(time.time() * 1000))))

    src.connect('need-data', need_data)


server = GstRtspServer.RTSPServer()
server.set_address('127.0.0.1')
server.set_service(port)
mounts = server.get_mount_points()
for path, launch in MOUNTS.items():
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(True)
    if path.startswith('/clock'):
        factory.connect('media-configure', on_media_configure)
    if user:
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role('user', 'media.factory.access', True)
        permissions.add_permission_for_role('user', 'media.factory.construct', True)
        factory.set_permissions(permissions)
    mounts.add_factory(path, factory)
if user:
    auth = GstRtspServer.RTSPAuth()
    auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    token = GstRtspServer.RTSPToken()
    token.set_string('media.factory.role', 'user')
    auth.add_digest(user, password, token)
    server.set_auth(auth)

if server.attach(None) == 0:
    sys.exit('cannot listen')
print(json.dumps({'port': server.get_bound_port()}), flush=True)
loop = GLib.MainLoop()
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
loop.run()
