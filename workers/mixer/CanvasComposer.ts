// Draws the room's canvas each video tick: every visible slot's picture (cropped, scaled) at
// its tile, on the background, into one I420 picture the compositor FFmpeg only has to encode
// (pipeline/mixer/canvas.ts says what goes where). The drawing is native/i420compose (libswscale's
// bilinear scaler, rows copied where a tile keeps its size); without the addon, JavaScript
// (nearest neighbour). Canvases come from a pool: one is reused once every socket it was
// written to has sent it.

import type { Size } from '../../pipeline/layout/geometry.ts';
import { backgroundYuv, canvasDraws, type SlotPlacement, type TileDraw } from '../../pipeline/mixer/canvas.ts';
import { i420Size } from '../../pipeline/media/i420.ts';
import { optionalAddon } from '../nativeAddon.ts';

export interface I420ComposeAddon {
  /** Draws the crop of `src` (srcW x srcH) scaled into the tile of `canvas`; all even, inside. */
  draw(
    canvas: Buffer, canvasW: number, canvasH: number, src: Buffer, srcW: number, srcH: number,
    cropX: number, cropY: number, cropW: number, cropH: number, dstX: number, dstY: number, dstW: number, dstH: number,
  ): void;
  /** One colour (Y, U, V) over an even rect of `canvas`. */
  fill(canvas: Buffer, canvasW: number, canvasH: number, y: number, u: number, v: number, x: number, yPos: number, w: number, h: number): void;
}

/** The addon, or null when it is not built (MIXER_COMPOSE=js: never, for comparison). */
export const i420ComposeAddon = optionalAddon<I420ComposeAddon>('i420compose', () => process.env.MIXER_COMPOSE === 'js');

/** The same two operations in JavaScript (nearest neighbour when a tile is scaled). */
export const jsCompose: I420ComposeAddon = {
  draw(canvas, W, H, src, sw, sh, cx, cy, cw, ch, dx, dy, dw, dh) {
    const planes = [
      { d: 0, dStride: W, s: 0, sStride: sw, sub: 1 },
      { d: W * H, dStride: Math.ceil(W / 2), s: sw * sh, sStride: Math.ceil(sw / 2), sub: 2 },
      { d: W * H + Math.ceil(W / 2) * Math.ceil(H / 2), dStride: Math.ceil(W / 2), s: sw * sh + Math.ceil(sw / 2) * Math.ceil(sh / 2), sStride: Math.ceil(sw / 2), sub: 2 },
    ];
    for (const p of planes) {
      const [w, h, scw, sch] = [dw / p.sub, dh / p.sub, cw / p.sub, ch / p.sub];
      for (let r = 0; r < h; r++) {
        const sr = cy / p.sub + (sch === h ? r : Math.floor(((r + 0.5) * sch) / h));
        const srow = p.s + sr * p.sStride + cx / p.sub;
        const drow = p.d + (dy / p.sub + r) * p.dStride + dx / p.sub;
        if (scw === w) src.copy(canvas, drow, srow, srow + w);
        else for (let c = 0; c < w; c++) canvas[drow + c] = src[srow + Math.floor(((c + 0.5) * scw) / w)];
      }
    }
  },
  fill(canvas, W, H, y, u, v, x, yPos, w, h) {
    const cW = Math.ceil(W / 2);
    const chromaBase = [W * H, W * H + cW * Math.ceil(H / 2)];
    for (let r = 0; r < h; r++) canvas.fill(y, (yPos + r) * W + x, (yPos + r) * W + x + w);
    for (let r = 0; r < h / 2; r++) {
      const off = (yPos / 2 + r) * cW + x / 2;
      canvas.fill(u, chromaBase[0] + off, chromaBase[0] + off + w / 2);
      canvas.fill(v, chromaBase[1] + off, chromaBase[1] + off + w / 2);
    }
  },
};

/** A canvas picture; shared by the writes that carry it, back to the pool when all are done. */
export class PooledCanvas {
  /** The placements' version its background was filled for (-1: never). */
  filledFor = -1;
  private refs = 0;

  constructor(readonly data: Buffer, private readonly onFree: (c: PooledCanvas) => void) {}

  /** One more holder (a socket write); the function it returns lets go (once). */
  retain(): () => void {
    this.refs++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.refs === 0) this.onFree(this);
    };
  }
}

/** Canvases kept for reuse; more are made when all are in flight (a stalled socket). */
const POOL_SIZE = 8;

export class CanvasComposer {
  private readonly frameBytes: number;
  private readonly free: PooledCanvas[] = [];
  private readonly yuv: [number, number, number];
  private draws: TileDraw[] = [];
  private version = -1;

  constructor(
    readonly canvas: Size,
    readonly slotSize: Size,
    background: string,
    private readonly lib: I420ComposeAddon = i420ComposeAddon() ?? jsCompose,
  ) {
    this.frameBytes = i420Size(canvas);
    this.yuv = backgroundYuv(background);
  }

  /** The background alone: the compositor's first (probed, dropped) picture. */
  blank(): Buffer {
    const b = Buffer.alloc(this.frameBytes);
    this.fillAll(b);
    return b;
  }

  /**
   * The canvas for one tick: `pictures[k]` (slot size, or null: not drawn) at slot k's
   * placement. `version` changes whenever the placements do. The caller holds it until
   * `release()` (call it once the writes have retained it).
   */
  compose(pictures: ReadonlyArray<Buffer | null>, placements: readonly SlotPlacement[], version: number): { canvas: PooledCanvas; release: () => void } {
    if (version !== this.version) {
      this.draws = canvasDraws(placements, this.slotSize, this.canvas);
      this.version = version;
    }
    const c = this.take();
    const release = c.retain();
    const { width: W, height: H } = this.canvas;
    if (c.filledFor !== version) {
      // Tiles cover the same places while the placements stay: the rest keeps its background.
      this.fillAll(c.data);
      c.filledFor = version;
    }
    const { width: sw, height: sh } = this.slotSize;
    const slotBytes = i420Size(this.slotSize);
    for (const d of this.draws) {
      const pic = pictures[d.slot];
      if (pic && pic.length >= slotBytes) {
        this.lib.draw(c.data, W, H, pic, sw, sh, d.crop.x, d.crop.y, d.crop.width, d.crop.height, d.dst.x, d.dst.y, d.dst.width, d.dst.height);
      } else {
        this.lib.fill(c.data, W, H, ...this.yuv, d.dst.x, d.dst.y, d.dst.width, d.dst.height);
      }
    }
    return { canvas: c, release };
  }

  private fillAll(b: Buffer): void {
    this.lib.fill(b, this.canvas.width, this.canvas.height, ...this.yuv, 0, 0, this.canvas.width & ~1, this.canvas.height & ~1);
  }

  private take(): PooledCanvas {
    return this.free.pop() ?? new PooledCanvas(Buffer.allocUnsafeSlow(this.frameBytes), (c) => {
      if (this.free.length < POOL_SIZE) this.free.push(c);
    });
  }
}
