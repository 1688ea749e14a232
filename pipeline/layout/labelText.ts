// What of a display name is drawn on a tile: any Unicode name becomes a single line of
// printable text of bounded length. Pure. (The label is rendered by Pango through sharp:
// control characters, bidi overrides or a flood of combining marks would break or distort it.)

/** Most graphemes a label shows before it is cut with an ellipsis. */
export const LABEL_MAX_GRAPHEMES = 32;
/** Combining marks kept per grapheme (accents and the like; "Zalgo" text has dozens). */
const MAX_MARKS_PER_GRAPHEME = 3;

const CONTROL = /[\p{Cc}\p{Cs}\u2028\u2029]/gu;
// Bidi embedding/override/isolate controls and other invisible format characters, except
// ZWJ/ZWNJ and variation selectors, which emoji sequences and some scripts need.
const FORMAT = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\u00ad]/gu;
const MARK = /\p{M}/u;

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

export function graphemes(s: string): string[] {
  return [...segmenter.segment(s)].map((g) => g.segment);
}

/** A name fit to render: one line, printable, NFC, at most `max` graphemes (then "…"). */
export function labelText(name: string, max = LABEL_MAX_GRAPHEMES): string {
  const line = name.normalize('NFC').replace(CONTROL, ' ').replace(FORMAT, '').replace(/\s+/gu, ' ').trim();
  const kept = graphemes(line).map((g) => {
    let marks = 0;
    return [...g].filter((ch) => !MARK.test(ch) || ++marks <= MAX_MARKS_PER_GRAPHEME).join('');
  });
  if (kept.length === 0) return 'Guest';
  return kept.length > max ? `${kept.slice(0, max - 1).join('').trimEnd()}…` : kept.join('');
}

/** The same text cut to `n` graphemes with an ellipsis (for labels wider than their tile). */
export function shorten(text: string, n: number): string {
  const g = graphemes(text.replace(/…$/u, ''));
  if (n >= g.length) return text;
  return `${g.slice(0, Math.max(1, n)).join('').trimEnd()}…`;
}
