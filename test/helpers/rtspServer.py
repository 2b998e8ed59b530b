#!/usr/bin/python3
"""A real RTSP server for tests: GStreamer's gst-rtsp-server (Debian gir1.2-gst-rtsp-server-1.0)
through python3-gi. Serves /cam (H264 + G.711 A-law) and /aac (H264 + AAC), shared between
clients, with Digest authentication when a user is given; /bench (640x360 25 fps H264 at
1 Mbit/s, for benchmarks); and /live when RTSP_RTP_IN_PORT is set: the H264 RTP (payload 96)
that arrives on that UDP port, repacketized (a camera whose picture the benchmark paints).
Binds the given port (0 = free) and prints {"port": N} on stdout once it listens.
Usage: rtspServer.py <port> [<user> <password>]"""
import json
import os
import signal
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

if os.environ.get('RTSP_RTP_IN_PORT'):
    MOUNTS['/live'] = (f'( udpsrc port={int(os.environ["RTSP_RTP_IN_PORT"])} buffer-size=4194304 '
                       'caps="application/x-rtp,media=video,encoding-name=H264,clock-rate=90000,payload=96" ! '
                       'rtph264depay ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1 )')

server = GstRtspServer.RTSPServer()
server.set_address('127.0.0.1')
server.set_service(port)
mounts = server.get_mount_points()
for path, launch in MOUNTS.items():
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(True)
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
