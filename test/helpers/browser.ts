// Debian's Chromium driven by playwright-core (no browser download).

import { chromium, type Browser } from 'playwright-core';
import { hasBinary } from './skip.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  });
}

/** Why the browser tests cannot run here (for skip()), or null when they can. */
export function chromiumUnavailable(): string | null {
  if (process.env.MCU_SKIP_CHROMIUM === '1') return 'MCU_SKIP_CHROMIUM=1';
  return hasBinary(CHROMIUM) ? null : `no Chromium at ${CHROMIUM} (install Debian's chromium or set CHROMIUM_PATH)`;
}
