import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { announceCandidates, candidatesOf, parseCandidateLine } from '../../pipeline/net/announce.ts';
import { loadConfig } from '../../server/config.ts';
import { answerForClients, gatherTurn, peerNetworkConfig } from '../../server/rtc/network.ts';
import { McuError } from '../../pipeline/errors.ts';

const ANSWER = [
  'v=0',
  'o=- 1 0 IN IP4 0.0.0.0',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'm=audio 40001 UDP/TLS/RTP/SAVPF 111',
  'c=IN IP4 172.17.0.2',
  'a=mid:0',
  'a=candidate:a1 1 udp 2130706431 172.17.0.2 40001 typ host',
  'a=candidate:a2 1 udp 2130706431 10.0.0.5 40002 typ host',
  'a=candidate:a3 1 udp 2130706431 fd00::5 40003 typ host',
  'a=candidate:a4 1 udp 1694498815 198.51.100.9 61000 typ srflx raddr 172.17.0.2 rport 40001',
  'a=candidate:a5 1 udp 16777215 203.0.113.7 3478 typ relay raddr 172.17.0.2 rport 40001',
  'a=candidate:a1 1 udp 2130706431 172.17.0.2 40001 typ host',
  'a=end-of-candidates',
  'm=video 40001 UDP/TLS/RTP/SAVPF 96',
  'c=IN IP4 172.17.0.2',
  'a=mid:1',
  '',
].join('\r\n');

test('announced address: host candidates of its family rewritten, srflx and other family dropped, relay kept', () => {
  const out = announceCandidates(ANSWER, '203.0.113.50');
  const cands = candidatesOf(out);
  assert.equal(cands.map((c) => `${c.address}:${c.port} ${c.type}`), ['203.0.113.50:40001 host', '203.0.113.50:40002 host', '203.0.113.7:3478 relay']);
  assert.ok(out.split('\r\n').filter((l) => l.startsWith('c=')).every((l) => l === 'c=IN IP4 203.0.113.50'));
  assert.ok(out.includes('a=end-of-candidates') && out.includes('a=mid:1') && out.endsWith('\r\n'));
  // The foundation, component, priority and everything else on the line is kept.
  assert.ok(out.includes('a=candidate:a2 1 udp 2130706431 203.0.113.50 40002 typ host'));
});

test('announced IPv6 address keeps only IPv6 host candidates; a fragment (no c= lines) works too', () => {
  const frag = 'a=ice-ufrag:x\r\na=candidate:a1 1 udp 1 10.0.0.5 40001 typ host\r\na=candidate:a3 1 udp 1 fd00::5 40003 typ host\r\n';
  const out = announceCandidates(frag, '2001:db8::7');
  assert.equal(candidatesOf(out).map((c) => `${c.address}:${c.port}`), ['2001:db8::7:40003']);
  assert.throws(() => announceCandidates(frag, 'example.com'), /not an IP address/);
});

test('candidate lines: parsed fields; other lines are not candidates', () => {
  const c = parseCandidateLine('a=candidate:f 1 UDP 5 192.0.2.1 5000 typ host generation 0');
  assert.equal([c?.transport, c?.address, c?.port, c?.type], ['udp', '192.0.2.1', 5000, 'host']);
  assert.is(parseCandidateLine('a=mid:0'), null);
  assert.is(parseCandidateLine('a=candidate:broken'), null);
});

test('config: ICE_ANNOUNCED_IP and the UDP port range are validated with clear messages', () => {
  const ok = loadConfig({ ICE_ANNOUNCED_IP: '203.0.113.50', ICE_UDP_PORT_MIN: '40000', ICE_UDP_PORT_MAX: '40100' });
  assert.equal(ok.ice, { announcedIp: '203.0.113.50', portRange: { min: 40000, max: 40100 } });
  assert.equal(loadConfig({}).ice, { announcedIp: null, portRange: null });
  assert.throws(() => loadConfig({ ICE_ANNOUNCED_IP: 'mcu.example.com' }), /ICE_ANNOUNCED_IP must be an IP address/);
  assert.throws(() => loadConfig({ ICE_ANNOUNCED_IP: '0.0.0.0' }), /ICE_ANNOUNCED_IP/);
  assert.throws(() => loadConfig({ ICE_UDP_PORT_MIN: '40000' }), /ICE_UDP_PORT_MIN and ICE_UDP_PORT_MAX go together/);
  assert.throws(() => loadConfig({ ICE_UDP_PORT_MIN: '40100', ICE_UDP_PORT_MAX: '40000' }), /ICE_UDP_PORT_MIN \(40100\) must be below ICE_UDP_PORT_MAX \(40000\)/);
  assert.throws(() => loadConfig({ ICE_UDP_PORT_MIN: '80', ICE_UDP_PORT_MAX: '90' }), /ICE_UDP_PORT_MIN must be an integer from 1024/);
});

test('peer connection settings: the range, and only the announced family gathered', () => {
  assert.equal(peerNetworkConfig({ announcedIp: null, portRange: null }), {});
  assert.equal(peerNetworkConfig({ announcedIp: '203.0.113.5', portRange: { min: 40000, max: 40099 } }), { icePortRange: [40000, 40099], iceUseIpv4: true, iceUseIpv6: false });
  assert.equal(peerNetworkConfig({ announcedIp: '2001:db8::5', portRange: null }), { iceUseIpv4: false, iceUseIpv6: true });
});

test('an answer without candidates under a port range is a 503 naming the range', () => {
  const net = { announcedIp: '203.0.113.5', portRange: { min: 40000, max: 40001 } };
  try {
    answerForClients(net, 'v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n');
    assert.unreachable('should throw');
  } catch (err) {
    assert.instance(err, McuError);
    assert.is((err as McuError).status, 503);
    assert.match((err as Error).message, /40000-40001/);
  }
  assert.ok(answerForClients(net, ANSWER).includes('203.0.113.5 40001'));
});

test('with a port range, gathering takes turns (in order, each after the previous released)', async () => {
  const net = { announcedIp: null, portRange: { min: 40000, max: 40099 } };
  const events: string[] = [];
  const run = async (name: string, ms: number) => {
    const release = await gatherTurn(net);
    events.push(`${name}+`);
    await new Promise((r) => setTimeout(r, ms));
    events.push(`${name}-`);
    release();
  };
  await Promise.all([run('a', 20), run('b', 1), run('c', 5)]);
  assert.equal(events, ['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
  // Without a range nobody waits.
  const free = { announcedIp: null, portRange: null };
  const r1 = await gatherTurn(free);
  const r2 = await gatherTurn(free);
  r1();
  r2();
});

test.run();
