// A runtime command for a filter of the running audio graph (sent through its zmq filter):
// its own file so that the audio graph's builders (audioGraph.ts, audio/voice.ts) share it
// without importing each other.

export interface MixerCommand {
  target: string;
  command: string;
  arg: string;
}
