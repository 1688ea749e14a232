// A still picture with a camera's kind of detail, for the quality benches (bench/ssim.ts,
// bench/keyframes.ts): the photograph given, or one some Debian boxes carry, else a rendered
// Mandelbrot picture. The result says which, since quality figures depend on it.

import fs from 'node:fs';
import path from 'node:path';

/** Photographs some Debian boxes carry (the rust docs' f3.jpg is a 720x477 photo of a board). */
const KNOWN_PHOTOS = ['/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc/rust/html/embedded-book/assets/f3.jpg'];

/** `render(args)` runs FFmpeg with those arguments (the bench's own runner). */
export async function naturalStill(dir: string, image: string | undefined, render: (args: string[]) => Promise<unknown>): Promise<{ still: string; source: string }> {
  const photo = image ?? KNOWN_PHOTOS.find((p) => fs.existsSync(p));
  if (photo) return { still: photo, source: `photograph ${path.basename(photo)}` };
  const still = path.join(dir, 'still.png');
  await render(['-f', 'lavfi', '-i', 'mandelbrot=s=1280x720:start_scale=0.6:end_scale=0.6', '-frames:v', '1', still]);
  return { still, source: 'rendered Mandelbrot picture (no photograph on this box)' };
}
