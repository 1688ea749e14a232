// Which composite frames a slower rung takes (a 15 fps rung of a 30 fps mix: every other one).
// Counted on the frames the compositor was given, never on the clock's ticks: a tick Node skips
// (FFmpeg not keeping up) writes nothing, so counting ticks would move the rung's trigger one
// frame against the composite, and the FFmpeg graph, which advances at the pace of its oldest
// output, then held every 720p frame back by a frame for the rest of the process's life (measured
// in bench:browser: 40-175 ms from a tick's write to its packet instead of ~10, in a third of the
// runs, whose mixer had started while the box was starved). Pure.

/** Whether composite frame `frame` (1, 2, 3, … as written) is also a frame of a rung at `rungFps`. */
export function rungTakesFrame(frame: number, fps: number, rungFps: number): boolean {
  return frame % Math.max(1, Math.round(fps / rungFps)) === 0;
}
