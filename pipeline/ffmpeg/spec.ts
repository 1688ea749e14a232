// What to run, as data: an FFmpeg command line split into global options, inputs, one filter
// graph and outputs. Builders in pipeline/ produce these; workers/ffmpeg/FfmpegProcess.ts
// runs exactly specToArgv(spec) — the argv the unit tests check is the argv that runs.

export interface FfmpegInput {
  url: string;
  options: string[];
}

export interface FfmpegOutput {
  url: string;
  options: string[];
}

export interface FfmpegSpec {
  globalOptions: string[];
  inputs: FfmpegInput[];
  filterComplex: string;
  outputs: FfmpegOutput[];
}

/** The whole command line after the program name. No value is ever split or quoted. */
export function specToArgv(spec: FfmpegSpec): string[] {
  const argv = [...spec.globalOptions];
  for (const input of spec.inputs) argv.push(...input.options, '-i', input.url);
  if (spec.filterComplex) argv.push('-filter_complex', spec.filterComplex);
  for (const output of spec.outputs) argv.push(...output.options, output.url);
  return argv;
}
