import { test } from 'node:test';
import { checkDnsConfig, checkHostname } from '../../../../src/cri/validate/hostname.js';
import { invalid } from './helpers.js';

test('hostnames: RFC 1123 labels, at most 63 per label and 64 in all', () => {
  for (const ok of ['web', 'web-0', 'a.b.c', 'A1', 'x'.repeat(63), `${'a'.repeat(62)}.b`]) checkHostname(ok, 'config.hostname');
  invalid(() => checkHostname('a\nb', 'config.hostname'), /config\.hostname "a\\nb" contains a newline at position 1/);
  invalid(() => checkHostname('a\0b', 'config.hostname'), /config\.hostname .*contains a NUL byte/);
  invalid(() => checkHostname('x'.repeat(300), 'config.hostname'), /config\.hostname .* is 300 bytes; a hostname is at most 64/);
  invalid(() => checkHostname(`${'a'.repeat(64)}`, 'config.hostname'), /label of 64 characters; RFC 1123 allows 63/);
  invalid(() => checkHostname(`${'a'.repeat(40)}.${'b'.repeat(30)}`, 'config.hostname'), /is 71 bytes/);
  for (const bad of ['-a', 'a-', 'a..b', 'a_b', 'a b', 'a.', '']) invalid(() => checkHostname(bad, 'config.hostname'), /config\.hostname/);
});

test('DNS: servers are IP addresses, searches DNS names, options single words', () => {
  checkDnsConfig({ servers: ['10.96.0.10', 'fd00::a'], searches: ['default.svc.cluster.local', 'svc.cluster.local.', '_tcp.example.com', '.'], options: ['ndots:5', 'edns0', 'single-request-reopen'] }, 'config.dns_config');
  checkDnsConfig(null, 'config.dns_config');
  invalid(() => checkDnsConfig({ servers: ['10.0.0.1\nnameserver 6.6.6.6'] }, 'config.dns_config'), /config\.dns_config\.servers\[0\] .*newline/);
  invalid(() => checkDnsConfig({ servers: ['dns.example.com'] }, 'config.dns_config'), /servers\[0\] "dns\.example\.com" is not an IP address/);
  invalid(() => checkDnsConfig({ searches: ['a.b', 'x\nnameserver 1.2.3.4'] }, 'config.dns_config'), /config\.dns_config\.searches\[1\] .*newline/);
  invalid(() => checkDnsConfig({ searches: ['a b'] }, 'config.dns_config'), /searches\[0\] "a b" is not a DNS name/);
  invalid(() => checkDnsConfig({ searches: Array.from({ length: 33 }, (_, i) => `s${i}.local`) }, 'config.dns_config'), /searches has 33 entries; at most 32/);
  invalid(() => checkDnsConfig({ options: ['ndots:5 rotate'] }, 'config.dns_config'), /options\[0\] "ndots:5 rotate" is not a resolv\.conf option/);
  invalid(() => checkDnsConfig({ options: ['a\tb'] }, 'config.dns_config'), /options\[0\] .*control character 0x09/);
});
