// The process's structured log (pino): JSON lines with level, time and the ids of what they
// are about (room, participant, subscription, recording, pid); pretty when stdout is a
// terminal. Secrets never reach it: known secret fields are censored by path, and every
// message, string field and error text goes through redactText.
//
//   LOG_LEVEL  trace | debug | info | warn | error | fatal | silent   (default info)
//   LOG_FILE   append the JSON lines to this file instead of stdout (tests collect them)

import fs from 'node:fs';
import { pino, type Logger, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';
import { redactFields, redactText } from '../pipeline/redact.ts';

export type { Logger };

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

function destination(env: NodeJS.ProcessEnv): DestinationStream {
  if (env.LOG_FILE) return pino.destination({ dest: env.LOG_FILE, append: true, sync: true, mkdir: true });
  if (process.stdout.isTTY && env.LOG_PRETTY !== '0') {
    return pretty({ colorize: true, sync: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' });
  }
  return pino.destination({ dest: 1, sync: true });
}

export function createLogger(env: NodeJS.ProcessEnv = process.env): Logger {
  const level = (env.LOG_LEVEL ?? 'info').toLowerCase();
  if (!LEVELS.includes(level)) throw new Error(`LOG_LEVEL must be one of ${LEVELS.join(', ')}, got "${env.LOG_LEVEL}"`);
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: [
          'authorization', '*.authorization', 'req.headers.authorization', 'req.headers.cookie',
          'token', '*.token', 'access_token', '*.access_token', 'credential', '*.credential',
          'password', '*.password', 'secret', '*.secret', 'streamKey', '*.streamKey',
        ],
        censor: '***',
      },
      hooks: {
        // Free text (messages, interpolated values and any string field: a Redis URL, a request
        // URL, FFmpeg's stderr) may carry URLs with keys or tokens.
        logMethod(args, method) {
          method.apply(this, args.map((a) => redactFields(a)) as Parameters<typeof method>);
        },
      },
      serializers: {
        err: (e: unknown) => {
          const s = pino.stdSerializers.err(e as Error);
          return { ...s, message: redactText(String(s.message ?? '')), stack: s.stack ? redactText(s.stack) : undefined };
        },
      },
    },
    destination(env),
  );
}

/** The process-wide logger; modules take a child with their own bindings. An invalid
 * LOG_LEVEL falls back to info here and is reported by the config check at start-up. */
export const log: Logger = (() => {
  try {
    return createLogger();
  } catch {
    return createLogger({ ...process.env, LOG_LEVEL: 'info' });
  }
})();

/** Where log lines go when a test wants to read them back. */
export function logFileOf(env: NodeJS.ProcessEnv = process.env): string | null {
  return env.LOG_FILE && fs.existsSync(env.LOG_FILE) ? env.LOG_FILE : null;
}
