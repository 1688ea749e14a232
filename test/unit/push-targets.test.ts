import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { addressKind, isInternal } from '../../pipeline/net/addresses.ts';
import { describeTarget, matchRule, parseAllowList, parsePushUrl, rtmpPreset, targetRefusal, type PushTarget } from '../../pipeline/net/pushTargets.ts';
import { maskSecrets } from '../../pipeline/redact.ts';
import { rtmpSpec } from '../../pipeline/media/remux.ts';
import { specToArgv } from '../../pipeline/ffmpeg/spec.ts';

test('address kinds: every non-public range, IPv4-mapped and NAT64 forms included', () => {
  const cases: Array<[string, string]> = [
    ['8.8.8.8', 'public'], ['127.0.0.1', 'loopback'], ['127.255.0.9', 'loopback'], ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'], ['172.32.0.1', 'public'], ['192.168.1.1', 'private'], ['169.254.169.254', 'link-local'],
    ['0.0.0.0', 'unspecified'], ['100.64.0.1', 'shared'], ['224.0.0.1', 'multicast'], ['255.255.255.255', 'reserved'],
    ['::', 'unspecified'], ['::1', 'loopback'], ['[::1]', 'loopback'], ['fe80::1', 'link-local'], ['fd12:3456::1', 'private'],
    ['::ffff:127.0.0.1', 'loopback'], ['::ffff:7f00:1', 'loopback'], ['::ffff:10.0.0.1', 'private'], ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['2002:c0a8:101::1', 'private'], ['2001:4860:4860::8888', 'public'], ['ff02::1', 'multicast'],
  ];
  for (const [a, k] of cases) assert.is(addressKind(a), k, a);
  for (const bad of ['1.2.3', '01.2.3.4', '256.1.1.1', '1::2::3', 'example.com', '::ffff:1.2.3']) assert.is(addressKind(bad), null, bad);
  assert.ok(isInternal('10.0.0.1') && isInternal('127.0.0.1') && !isInternal('0.0.0.0') && !isInternal('8.8.8.8'));
});

test('push URLs: split into app, key (with query) and tcUrl; credentials and junk refused without echoing them', () => {
  const t = parsePushUrl('rtmp://Live.Example.com/app/SECRETKEY?pass=hunter22') as PushTarget;
  assert.equal(t, { scheme: 'rtmp', host: 'live.example.com', port: 1935, app: 'app', key: 'SECRETKEY?pass=hunter22', tcUrl: 'rtmp://live.example.com:1935/app' });
  const s = parsePushUrl('rtmps://[2001:db8::1]/a/b/KEY') as PushTarget;
  assert.is(s.port, 443);
  assert.is(s.app, 'a/b');
  assert.is(s.tcUrl, 'rtmps://[2001:db8::1]:443/a/b');
  assert.is(describeTarget(t), 'rtmp://live.example.com:1935/app/***');
  const creds = parsePushUrl('rtmp://alice:pa55word@host/app/s3cr3tk3y');
  assert.type(creds, 'string');
  assert.not.match(creds as string, /pa55word|s3cr3tk3y|alice/);
  for (const bad of ['http://x/a/b', 'rtmp://host/app', 'rtmp://host/app/', 'rtmp:///a/b', 'not a url', 42, '', `rtmp://h/a/${'k'.repeat(600)}`, 'rtmp://h_x/a/b']) {
    assert.type(parsePushUrl(bad), 'string', String(bad));
  }
});

test('the allow-list: schemes, exact hosts, wildcards, ports; non-public addresses only through an exact entry', () => {
  const rules = parseAllowList('rtmp://live.example.com, rtmps://*.example.net, rtmp://10.0.0.5:1935, rtmp://ingest.internal');
  assert.is(rules.length, 4);
  const t = (u: string) => parsePushUrl(u) as PushTarget;
  assert.ok(matchRule(t('rtmp://live.example.com:1936/a/k'), rules), 'no port in the entry: any port');
  assert.not.ok(matchRule(t('rtmps://live.example.com/a/k'), rules), 'scheme must match');
  assert.ok(matchRule(t('rtmps://a.b.example.net/a/k'), rules));
  assert.not.ok(matchRule(t('rtmps://example.net/a/k'), rules), 'a wildcard needs a subdomain');
  assert.not.ok(matchRule(t('rtmps://evilexample.net/a/k'), rules));
  assert.not.ok(matchRule(t('rtmp://10.0.0.5:1936/a/k'), rules), 'the entry pins the port');
  // No allow-list: public only.
  assert.is(targetRefusal(t('rtmp://a.example.org/a/k'), [], ['93.184.215.14']), null);
  for (const addrs of [['127.0.0.1'], ['93.184.215.14', '10.0.0.1'], ['::1'], ['169.254.169.254'], ['0.0.0.0'], []]) {
    const r = targetRefusal(t('rtmp://a.example.org/a/k'), [], addrs);
    assert.match(r ?? '', /loopback, private, link-local and unspecified .* STREAM_TARGETS_ALLOW/, addrs.join(','));
  }
  // With one: must match; private only through an exact entry.
  assert.match(targetRefusal(t('rtmp://other.example.org/a/k'), rules, ['93.184.215.14'])!, /matches no entry of STREAM_TARGETS_ALLOW/);
  assert.is(targetRefusal(t('rtmp://10.0.0.5/a/k'), rules, ['10.0.0.5']), null);
  assert.is(targetRefusal(t('rtmp://ingest.internal/a/k'), rules, ['10.1.1.1']), null);
  assert.match(targetRefusal(t('rtmps://x.example.net/a/k'), rules, ['10.1.1.1'])!, /STREAM_TARGETS_ALLOW/, 'a wildcard never opens a private address');
  for (const bad of ['http://x', 'rtmp://*.1.2.3.4', 'rtmp://h:99999', 'rtmp://h/path']) assert.throws(() => parseAllowList(bad), /STREAM_TARGETS_ALLOW/);
});

test('the RTMP spec: the command line names the relay and a preset file, never the key', () => {
  const t = parsePushUrl('rtmp://live.example.com/app/SECRETKEY?pass=hunter22') as PushTarget;
  const argv = specToArgv(rtmpSpec('/tmp/x/in.sdp', '/tmp/x/push.ffpreset', 40123)).join(' ');
  assert.not.match(argv, /SECRETKEY|hunter22|example\.com/);
  assert.match(argv, /-fpre \/tmp\/x\/push\.ffpreset -f flv -flvflags no_duration_filesize rtmp:\/\/127\.0\.0\.1:40123$/);
  assert.is(rtmpPreset(t), 'rtmp_app=app\nrtmp_playpath=SECRETKEY?pass=hunter22\nrtmp_tcurl=rtmp://live.example.com:1935/app\n');
});

test('maskSecrets: known secrets in any encoding, then the usual patterns', () => {
  const out = maskSecrets('Server error: stream SECRET%2FKEY rejected; SECRET/KEY; rtmp://u:p@h/app/k', ['SECRET%2FKEY']);
  assert.not.match(out, /SECRET|u:p@/);
  assert.is(maskSecrets('abc', ['abc']), 'abc', 'too short to be a secret');
});

test.run();
