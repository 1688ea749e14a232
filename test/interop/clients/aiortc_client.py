#!/usr/bin/python3
"""aiortc (Debian python3-aiortc) as a WHIP publisher and a WHEP subscriber.

Publishes a solid colour at WIDTHxHEIGHT and a sine tone; subscribes with aiortc's default
audio + video offer (two recvonly transceivers in one BUNDLE). Prints JSON lines on stdout:
  {"event": "whip", "location": ..., "offer": ...}   {"event": "whep", ...}
  {"event": "stats", "videoFrames": n, "width": w, "height": h, "audioSamples": n}
and keeps the latest received frame (I420) in OUT/frame.yuv and the last second of received
audio (s16 mono 48 kHz) in OUT/audio.raw, written atomically, so the test can check colours at
tile positions and the tone. Runs until stdin closes or SECONDS pass.
"""

import argparse
import asyncio
import fractions
import json
import os
import sys
import time
import urllib.parse
import urllib.request

import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from av import AudioFrame, VideoFrame


def emit(**kw):
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def post_sdp(url, sdp):
    req = urllib.request.Request(url, data=sdp.encode(), method="POST", headers={"Content-Type": "application/sdp"})
    with urllib.request.urlopen(req, timeout=15) as res:
        if res.status != 201:
            raise RuntimeError(f"HTTP {res.status}")
        return res.read().decode(), urllib.parse.urljoin(url, res.headers["Location"])


def delete(url):
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=5).read()
    except Exception:
        pass


class SolidVideo(MediaStreamTrack):
    kind = "video"

    def __init__(self, width, height, rgb, fps=30):
        super().__init__()
        img = np.zeros((height, width, 3), dtype=np.uint8)
        img[:, :] = rgb
        self.frame_img = img
        self.fps = fps
        self.n = 0
        self.t0 = None

    async def recv(self):
        if self.t0 is None:
            self.t0 = time.time()
        self.n += 1
        wait = self.t0 + self.n / self.fps - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        frame = VideoFrame.from_ndarray(self.frame_img, format="rgb24")
        frame.pts = self.n * (90000 // self.fps)
        frame.time_base = fractions.Fraction(1, 90000)
        return frame


class ToneAudio(MediaStreamTrack):
    kind = "audio"

    def __init__(self, hz, rate=48000, ptime=0.02):
        super().__init__()
        self.hz = hz
        self.rate = rate
        self.samples = int(rate * ptime)
        self.pos = 0
        self.t0 = None

    async def recv(self):
        if self.t0 is None:
            self.t0 = time.time()
        wait = self.t0 + self.pos / self.rate - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        t = (np.arange(self.samples) + self.pos) / self.rate
        pcm = (0.3 * 32767 * np.sin(2 * np.pi * self.hz * t)).astype(np.int16)
        frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.rate
        frame.pts = self.pos
        frame.time_base = fractions.Fraction(1, self.rate)
        self.pos += self.samples
        return frame


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class Receiver:
    def __init__(self, out):
        self.out = out
        self.video_frames = 0
        self.size = (0, 0)
        self.audio_samples = 0
        self.audio = np.zeros(0, dtype=np.int16)

    async def video(self, track):
        last = 0.0
        while True:
            frame = await track.recv()
            self.video_frames += 1
            self.size = (frame.width, frame.height)
            now = time.time()
            if now - last > 0.2:
                last = now
                write_atomic(os.path.join(self.out, "frame.yuv"), frame.to_ndarray(format="yuv420p").tobytes())
                self.stats()

    async def audio_track(self, track):
        while True:
            frame = await track.recv()
            pcm = frame.to_ndarray().reshape(-1)
            channels = len(frame.layout.channels)
            if channels > 1:
                pcm = pcm.reshape(-1, channels)[:, 0]
            self.audio = np.concatenate([self.audio, pcm.astype(np.int16)])[-frame.sample_rate:]
            self.audio_samples += len(pcm)
            if self.audio_samples % (frame.sample_rate // 5) < len(pcm):
                write_atomic(os.path.join(self.out, "audio.raw"), self.audio.tobytes())

    def stats(self):
        emit(event="stats", videoFrames=self.video_frames, width=self.size[0], height=self.size[1], audioSamples=self.audio_samples)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--whip")
    ap.add_argument("--whep")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--color", default="220,30,30")
    ap.add_argument("--tone", type=float, default=600)
    ap.add_argument("--out", default=".")
    ap.add_argument("--seconds", type=float, default=60)
    a = ap.parse_args()
    pcs = []
    sessions = []
    tasks = []
    try:
        if a.whip:
            pc = RTCPeerConnection()
            pcs.append(pc)
            pc.addTrack(SolidVideo(a.width, a.height, [int(x) for x in a.color.split(",")]))
            pc.addTrack(ToneAudio(a.tone))
            await pc.setLocalDescription(await pc.createOffer())  # aiortc gathers before it returns
            answer, location = post_sdp(a.whip, pc.localDescription.sdp)
            sessions.append(location)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
            emit(event="whip", location=location, offer=pc.localDescription.sdp)
        if a.whep:
            pc = RTCPeerConnection()
            pcs.append(pc)
            rx = Receiver(a.out)
            pc.addTransceiver("audio", direction="recvonly")
            pc.addTransceiver("video", direction="recvonly")

            @pc.on("track")
            def on_track(track):
                tasks.append(asyncio.ensure_future(rx.video(track) if track.kind == "video" else rx.audio_track(track)))

            await pc.setLocalDescription(await pc.createOffer())
            answer, location = post_sdp(a.whep, pc.localDescription.sdp)
            sessions.append(location)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
            emit(event="whep", location=location, offer=pc.localDescription.sdp)
        loop = asyncio.get_running_loop()
        stdin_closed = loop.run_in_executor(None, sys.stdin.read)
        await asyncio.wait([stdin_closed], timeout=a.seconds)
    finally:
        for t in tasks:
            t.cancel()
        for s in sessions:
            delete(s)
        for pc in pcs:
            await pc.close()
        emit(event="closed")


if __name__ == "__main__":
    asyncio.run(main())
    os._exit(0)
