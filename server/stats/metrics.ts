// The Prometheus metrics the monitor keeps (GET /metrics), each with its help text. Created
// unregistered: each Monitor registers them in its own registry, so tests can run several.

import client from 'prom-client';

export function monitorMetrics() {
  return {
    rooms: new client.Gauge({ name: 'mcu_rooms', help: 'Live rooms', registers: [] }),
    loopDelay: new client.Gauge({ name: 'mcu_event_loop_delay_p99_seconds', help: 'p99 event-loop delay over the last interval (RTP forwarding goes late when it grows)', registers: [] }),
    participants: new client.Gauge({ name: 'mcu_participants', help: 'Publishing participants', registers: [] }),
    subscribers: new client.Gauge({ name: 'mcu_subscribers', help: 'WHEP subscriptions', registers: [] }),
    loss: new client.Gauge({ name: 'mcu_connection_packet_loss_ratio', help: 'Mean packet loss over connections in the last interval (0-1)', labelNames: ['direction'], registers: [] }),
    rtt: new client.Gauge({ name: 'mcu_connection_rtt_seconds', help: 'Mean round-trip time over connections', labelNames: ['direction'], registers: [] }),
    jitter: new client.Gauge({ name: 'mcu_connection_jitter_seconds', help: 'Mean interarrival jitter over connections', labelNames: ['direction'], registers: [] }),
    bitrate: new client.Gauge({ name: 'mcu_connection_bitrate_bits_per_second', help: 'Mean media bitrate per connection', labelNames: ['direction'], registers: [] }),
    fps: new client.Gauge({ name: 'mcu_connection_frames_per_second', help: 'Mean video frame rate per connection', labelNames: ['direction'], registers: [] }),
    mos: new client.Gauge({ name: 'mcu_connection_mos', help: 'Mean estimated MOS (ITU-T G.107 E-model) over connections', labelNames: ['direction'], registers: [] }),
    mosGrade: new client.Gauge({ name: 'mcu_connections_by_mos_grade', help: 'Connections per MOS grade', labelNames: ['direction', 'grade'], registers: [] }),
    timeToMedia: new client.Histogram({ name: 'mcu_time_to_media_seconds', help: 'From session creation to its first media', labelNames: ['session', 'kind'], buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10], registers: [] }),
    attempted: new client.Counter({ name: 'mcu_sessions_attempted_total', help: 'WHIP/WHEP sessions created', labelNames: ['session'], registers: [] }),
    reached: new client.Counter({ name: 'mcu_sessions_reached_media_total', help: 'Sessions that carried media within 10 s', labelNames: ['session'], registers: [] }),
    setupSuccess: new client.Gauge({ name: 'mcu_call_setup_success_ratio', help: 'Sessions that reached media / sessions decided (reached or timed out)', registers: [] }),
    cpu: new client.Gauge({ name: 'mcu_cpu_utilisation_ratio', help: 'CPU time per wall second (1 = one core)', labelNames: ['process'], registers: [] }),
    bandwidth: new client.Gauge({ name: 'mcu_bandwidth_bits_per_second', help: 'Media bandwidth', labelNames: ['direction'], registers: [] }),
    mixerFps: new client.Gauge({ name: 'mcu_mixer_frames_per_second', help: 'Composite frames written per second (mean over rooms)', registers: [] }),
    // Counters only grow: each sample adds what every room's mixer did since the last one.
    skipped: new client.Counter({ name: 'mcu_mixer_dropped_frames_total', help: 'Mixer ticks skipped because FFmpeg fell behind', registers: [] }),
    repeated: new client.Counter({ name: 'mcu_mixer_duplicated_frames_total', help: 'Participant pictures repeated by sample-and-hold', registers: [] }),
    keyframes: new client.Counter({ name: 'mcu_keyframes_sent_total', help: 'Composite keyframes forced', registers: [] }),
    restarts: new client.Counter({ name: 'mcu_mixer_restarts_total', help: 'Mixer process replacements', registers: [] }),
    mediaBytes: new client.Counter({ name: 'mcu_media_bytes_total', help: 'Media bytes received from publishers (in) and sent to subscribers (out)', labelNames: ['direction'], registers: [] }),
    encoderBitrate: new client.Gauge({ name: 'mcu_encoder_bitrate_bits_per_second', help: 'Encoded composite bitrate per rung (mean over rooms)', labelNames: ['rung'], registers: [] }),
    telemetry: new client.Counter({ name: 'mcu_client_telemetry_reports_total', help: 'Client telemetry reports accepted', labelNames: ['role'], registers: [] }),
  };
}
