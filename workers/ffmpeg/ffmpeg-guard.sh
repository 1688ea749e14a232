#!/bin/sh
# Runs FFmpeg so that it dies with the Node process that started it, even when that process is
# killed with SIGKILL (a crashed server or worker must not leave FFmpeg blocked on a socket
# forever). setpriv sets the parent-death signal and execs: the pid, signals and exit status
# are FFmpeg's own. FfmpegProcess uses this when setpriv (util-linux) is installed.
exec setpriv --pdeathsig KILL -- "${MCU_FFMPEG_BIN:-ffmpeg}" "$@"
