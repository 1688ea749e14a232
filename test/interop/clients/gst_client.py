#!/usr/bin/python3
"""GStreamer webrtcbin (Debian gstreamer1.0-plugins-bad, python3-gi) as a WHIP publisher and a
WHEP subscriber; this script does the HTTP itself (non-trickle: it POSTs once gathering is done).

WHIP: videotestsrc solid colour WIDTHxHEIGHT -> vp8enc | x264enc (constrained baseline or high)
      + audiotestsrc sine -> opusenc, one webrtcbin with bundle-policy=max-bundle, so the offer
      carries webrtcbin's `port 0` + `a=bundle-only` sections.
WHEP: webrtcbin with recvonly VP8 + Opus transceivers, decodebin, appsinks.
Prints JSON lines on stdout ({"event": "whip"|"whep"|"stats"|"error", ...}); keeps the latest
received frame (I420) in OUT/frame.yuv and the last second of audio (s16 mono 48 kHz) in
OUT/audio.raw. Runs until stdin closes or SECONDS pass.
"""

import argparse
import json
import os
import sys
import threading
import time
import urllib.parse
import urllib.request

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstApp", "1.0")
from gi.repository import GLib, Gst, GstApp, GstSdp, GstWebRTC  # noqa: E402,F401


def emit(**kw):
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def post_sdp(url, sdp):
    req = urllib.request.Request(url, data=sdp.encode(), method="POST", headers={"Content-Type": "application/sdp"})
    with urllib.request.urlopen(req, timeout=15) as res:
        return res.read().decode(), urllib.parse.urljoin(url, res.headers["Location"])


def delete(url):
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=5).read()
    except Exception:
        pass


VIDEO_ENC = {
    "vp8": "vp8enc deadline=1 cpu-used=8 keyframe-max-dist=30 target-bitrate=800000 ! rtpvp8pay pt=96 "
    "! application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000",
    # x264 signals the profile its tools need: ultrafast (no CABAC, no 8x8 transform) is always
    # constrained baseline, so a high-profile stream needs a preset that uses them.
    "h264": "x264enc tune=zerolatency speed-preset={preset} key-int-max=30 bitrate=800 "
    "! video/x-h264,profile={profile} ! rtph264pay pt=102 config-interval=-1 aggregate-mode=zero-latency "
    "! application/x-rtp,media=video,encoding-name=H264,payload=102,clock-rate=90000",
}


class Session:
    """One webrtcbin and its WHIP/WHEP exchange."""

    def __init__(self, pipeline, webrtc, url, kind):
        self.pipeline = pipeline
        self.webrtc = webrtc
        self.url = url
        self.kind = kind
        self.location = None
        self.sent = False
        webrtc.connect("on-negotiation-needed", self.on_negotiation_needed)
        webrtc.connect("notify::ice-gathering-state", self.on_gathering)

    def on_negotiation_needed(self, webrtc):
        webrtc.emit("create-offer", None, Gst.Promise.new_with_change_func(self.on_offer, None))

    def on_offer(self, promise, _):
        reply = promise.get_reply()
        offer = reply.get_value("offer") if reply and reply.has_field("offer") else None
        if offer is None:
            emit(event="error", kind=self.kind, message=f"create-offer: {reply.to_string() if reply else None}")
            return
        self.webrtc.emit("set-local-description", offer, Gst.Promise.new())
        # Gathering on loopback takes milliseconds; post what there is after 3 s regardless.
        GLib.timeout_add(3000, self.send)

    def on_gathering(self, webrtc, _pspec):
        if webrtc.get_property("ice-gathering-state") == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            GLib.idle_add(self.send)

    def send(self):
        if self.sent:
            return False
        self.sent = True
        offer = self.webrtc.get_property("local-description").sdp.as_text()
        try:
            answer, self.location = post_sdp(self.url, offer)
        except Exception as e:  # noqa: BLE001
            body = e.read().decode() if hasattr(e, "read") else ""
            emit(event="error", kind=self.kind, message=str(e), body=body, offer=offer)
            return False
        _, msg = GstSdp.SDPMessage.new_from_text(answer)
        desc = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, msg)
        self.webrtc.emit("set-remote-description", desc, Gst.Promise.new())
        emit(event=self.kind, location=self.location, offer=offer, answer=answer)
        return False


class Receiver:
    def __init__(self, out):
        self.out = out
        self.video_frames = 0
        self.size = (0, 0)
        self.audio = b""
        self.audio_samples = 0
        self.last_write = 0.0

    def on_video(self, sink):
        sample = sink.emit("pull-sample")
        s = sample.get_caps().get_structure(0)
        w, h = s.get_value("width"), s.get_value("height")
        self.video_frames += 1
        self.size = (w, h)
        now = time.time()
        if now - self.last_write > 0.2:
            self.last_write = now
            buf = sample.get_buffer()
            data = buf.extract_dup(0, buf.get_size())
            write_atomic(os.path.join(self.out, "frame.yuv"), data[: w * h * 3 // 2])
            emit(event="stats", videoFrames=self.video_frames, width=w, height=h, audioSamples=self.audio_samples)
        return Gst.FlowReturn.OK

    def on_audio(self, sink):
        sample = sink.emit("pull-sample")
        buf = sample.get_buffer()
        data = buf.extract_dup(0, buf.get_size())
        self.audio = (self.audio + data)[-96000:]
        before = self.audio_samples
        self.audio_samples += len(data) // 2
        if before // 9600 != self.audio_samples // 9600:
            write_atomic(os.path.join(self.out, "audio.raw"), self.audio)
        return Gst.FlowReturn.OK


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def whep_pipeline(url, out):
    pipe = Gst.Pipeline.new("whep")
    webrtc = Gst.ElementFactory.make("webrtcbin", "sub")
    webrtc.set_property("bundle-policy", GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
    pipe.add(webrtc)
    rx = Receiver(out)
    recv = GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY
    webrtc.emit("add-transceiver", recv, Gst.Caps.from_string("application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000"))
    webrtc.emit("add-transceiver", recv, Gst.Caps.from_string("application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000,encoding-params=(string)2"))

    def on_decoded(_dec, pad):
        name = pad.get_current_caps().get_structure(0).get_name()
        if name.startswith("video"):
            desc = "queue ! videoconvert ! video/x-raw,format=I420 ! appsink name=v emit-signals=true sync=false max-buffers=2 drop=true"
            cb, sink_name = rx.on_video, "v"
        else:
            desc = "queue ! audioconvert ! audioresample ! audio/x-raw,format=S16LE,channels=1,rate=48000 ! appsink name=a emit-signals=true sync=false"
            cb, sink_name = rx.on_audio, "a"
        bin_ = Gst.parse_bin_from_description(desc, True)
        pipe.add(bin_)
        bin_.sync_state_with_parent()
        bin_.get_by_name(sink_name).connect("new-sample", cb)
        pad.link(bin_.get_static_pad("sink"))

    def on_pad(_w, pad):
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        dec = Gst.ElementFactory.make("decodebin")
        dec.connect("pad-added", on_decoded)
        pipe.add(dec)
        dec.sync_state_with_parent()
        pad.link(dec.get_static_pad("sink"))

    webrtc.connect("pad-added", on_pad)
    return pipe, Session(pipe, webrtc, url, "whep")


def whip_pipeline(url, codec, profile, width, height, argb, tone, audio, audio_first, sendonly):
    video = (
        f"videotestsrc is-live=true pattern=solid-color foreground-color={argb} "
        f"! video/x-raw,width={width},height={height},framerate=30/1 ! videoconvert ! queue ! "
        f"{VIDEO_ENC[codec].format(profile=profile, preset='ultrafast' if 'baseline' in profile else 'veryfast')} ! pub. "
    )
    sound = (
        f"audiotestsrc is-live=true wave=sine freq={tone} volume=0.3 ! audioconvert ! audioresample ! queue "
        "! opusenc ! rtpopuspay pt=111 ! application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000 ! pub. "
    ) if audio else ""
    # webrtcbin numbers its m-sections in the order the branches are linked.
    desc = "webrtcbin name=pub bundle-policy=max-bundle " + (sound + video if audio_first else video + sound)
    pipe = Gst.parse_launch(desc)
    webrtc = pipe.get_by_name("pub")
    if sendonly:  # as simple-whip-client does; webrtcbin's default is sendrecv
        i = 0
        while (t := webrtc.emit("get-transceiver", i)) is not None:
            t.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
            i += 1
    return pipe, Session(pipe, webrtc, url, "whip")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--whip")
    ap.add_argument("--whep")
    ap.add_argument("--codec", default="vp8", choices=["vp8", "h264"])
    ap.add_argument("--profile", default="constrained-baseline")
    ap.add_argument("--no-audio", action="store_true")
    ap.add_argument("--sendrecv", action="store_true", help="leave webrtcbin's default transceiver direction")
    ap.add_argument("--audio-first", action="store_true", help="link audio first (as simple-whip-client)")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--color", default="30,60,220")
    ap.add_argument("--tone", type=float, default=700)
    ap.add_argument("--out", default=".")
    ap.add_argument("--seconds", type=float, default=60)
    a = ap.parse_args()
    Gst.init(None)
    r, g, b = (int(x) for x in a.color.split(","))
    argb = 0xFF000000 | (r << 16) | (g << 8) | b
    loop = GLib.MainLoop()
    sessions = []
    if a.whip:
        sessions.append(whip_pipeline(a.whip, a.codec, a.profile, a.width, a.height, argb, a.tone, not a.no_audio, a.audio_first, not a.sendrecv))
    if a.whep:
        sessions.append(whep_pipeline(a.whep, a.out))
    for pipe, _ in sessions:
        bus = pipe.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", lambda _b, m: emit(event="error", message=str(m.parse_error())))
        pipe.set_state(Gst.State.PLAYING)

    def wait_stdin():
        sys.stdin.read()
        GLib.idle_add(loop.quit)

    threading.Thread(target=wait_stdin, daemon=True).start()
    GLib.timeout_add(int(a.seconds * 1000), loop.quit)
    loop.run()
    for pipe, s in sessions:
        if s.location:
            delete(s.location)
        pipe.set_state(Gst.State.NULL)
    emit(event="closed")


if __name__ == "__main__":
    main()
    os._exit(0)
