// WHIP/WHEP clients built on @roamhq/wrtc: a synthetic publisher (a solid colour and a sine
// tone, both controllable) and a subscriber that keeps the latest decoded frame and the last
// seconds of PCM. Used by the demo room, the tests and the benchmarks. One file each:
// sdpExchange.ts (the HTTP offer/answer), WrtcSession.ts (a session on a wrtc peer connection),
// SyntheticPublisher.ts, WhepSubscriber.ts; this file names them all.

export { exchangeSdp, HttpStatusError } from './sdpExchange.ts';
export { gatherComplete } from './WrtcSession.ts';
export { rgbToYuv, SyntheticPublisher, type Rgb, type SyntheticPublisherOptions } from './SyntheticPublisher.ts';
export { WhepSubscriber, type DecodedFrame, type WhepSubscriberOptions } from './WhepSubscriber.ts';
