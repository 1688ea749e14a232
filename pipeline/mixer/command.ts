// A runtime command for a filter of the running mixer graph (sent through its zmq filter):
// its own file so that the graphs' builders (graph.ts, audio/voice.ts) share it without
// importing each other.

export interface MixerCommand {
  target: string;
  command: string;
  arg: string;
}
